"""The REST server through the real ASGI app (httpx + ASGITransport, lifespan run) on a
real voc100 workspace evaluated with the real detector, and once through the real CLI."""

from __future__ import annotations

import asyncio
import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import psutil
import pytest
from fastapi import FastAPI
from PIL import Image

import errorscope as es
from errorscope.errors import ConflictError, WorkspaceLockedError
from errorscope.server import create_app
from errorscope.server.app import THUMBNAIL_DIR
from tests.conftest import load_voc100, shared_path

OPENAPI_SNAPSHOT = Path(__file__).with_name("openapi.json")
REFRESH_ENV = "ERRORSCOPE_REFRESH_OPENAPI"
#: rows with a person label whose person IoU is at most 0.5
PERSON_IOU = {
    "type": "and",
    "filters": [
        {"type": "class", "side": "label", "class_name": "person"},
        {"type": "metric", "name": "iou", "class_name": "person", "hi": 0.5},
    ],
}


class Client:
    """A synchronous front to httpx.AsyncClient on the ASGI app, with its lifespan run."""

    def __init__(self, app: FastAPI) -> None:
        self.loop = asyncio.new_event_loop()
        self.lifespan = app.router.lifespan_context(app)
        self.loop.run_until_complete(self.lifespan.__aenter__())
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.get(url, **kwargs))

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.http.post(url, **kwargs))

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.run_until_complete(self.lifespan.__aexit__(None, None, None))
        self.loop.close()


def assert_error(response: httpx.Response, status: int, type_: str | None = None) -> str:
    """The one error shape: ``{"error": {"type", "message", "status"}}``, JSON, nosniff,
    no traceback. Returns the message."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"type", "message", "status"}
    assert body["error"]["status"] == status
    assert isinstance(body["error"]["type"], str)
    assert body["error"]["type"]
    if type_ is not None:
        assert body["error"]["type"] == type_
    message = body["error"]["message"]
    assert isinstance(message, str)
    assert message
    assert "Traceback" not in response.text
    return message


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-content-type-options"] == "nosniff"
    return response.json()


def _json(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))


@pytest.fixture(scope="module")
def voc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A voc100 workspace with ``det`` evaluated and an unevaluated, empty ``empty`` run,
    and what the SDK says about it (read before the server opens it)."""
    images = shared_path("voc100", "images")
    path = tmp_path_factory.mktemp("server") / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det")
        ws.create_run("empty")
        expected = {
            "info": ws.info(),
            "evaluation": ws.evaluation("det"),
            "labels": ws.labels().to_pylist(),
            "predictions": ws.predictions("det").to_pylist(),
            "objects": ws.evaluation_results("det", "objects").to_pylist(),
            "rows": ws.evaluation_results("det", "rows").to_pylist(),
            "data_rows": ws.data_rows().to_pylist(),
            "coco": ws.pr_curves("det").to_pydict(),
            "coco_50_75": ws.pr_curves("det", iou_thresholds=[0.5, 0.75]).to_pydict(),
            "voc": ws.pr_curves("det", curve="voc").to_pydict(),
            "person_rows": ws.query("det", PERSON_IOU, sort="person.iou:asc", limit=1000).to_json(),
        }
    return {"path": path, "images": images, **expected}


@pytest.fixture(scope="module")
def client(voc: dict[str, Any]) -> Iterator[Client]:
    c = Client(create_app(voc["path"], media_roots=[voc["images"]]))
    yield c
    c.close()


# -- endpoints -----------------------------------------------------------------------------
def test_info(client: Client, voc: dict[str, Any]) -> None:
    body = ok(client.get("/api/info"))
    assert {k: body[k] for k in voc["info"]} == voc["info"]
    assert body["data_rows"] == 100
    assert body["version"] == es.__version__
    assert str(voc["images"].resolve()) in body["media_roots"]


def test_runs(client: Client, voc: dict[str, Any]) -> None:
    runs = {r["name"]: r for r in ok(client.get("/api/runs"))["runs"]}
    assert list(runs) == ["det", "empty"]
    assert runs["det"]["evaluated"] is True
    assert runs["det"]["evaluation_params"] == voc["evaluation"]["params"]
    assert runs["det"]["predictions"] == len(voc["predictions"])
    assert runs["empty"]["evaluated"] is False
    assert runs["empty"]["evaluation_params"] is None
    assert runs["empty"]["predictions"] == 0


def test_evaluation(client: Client, voc: dict[str, Any]) -> None:
    body = ok(client.get("/api/runs/det/evaluation"))
    assert body == _json(voc["evaluation"])
    assert body["coco"]["AP"] == pytest.approx(voc["evaluation"]["coco"]["AP"])


def test_curves(client: Client, voc: dict[str, Any]) -> None:
    body = ok(client.get("/api/runs/det/curves"))
    assert body["curve"] == "coco"
    assert body["columns"] == _json(voc["coco"])
    assert body["count"] == len(voc["coco"]["class_name"])
    some = ok(client.get("/api/runs/det/curves", params={"iou": [0.5, 0.75]}))
    assert some["columns"] == _json(voc["coco_50_75"])
    assert set(some["columns"]["iou"]) == {0.5, 0.75}
    assert ok(client.get("/api/runs/det/curves?curve=voc"))["columns"] == _json(voc["voc"])


def _busy_row(voc: dict[str, Any]) -> int:
    """A data row with labels, predictions, a TP and an FP."""
    for r in voc["rows"]:
        if r["tp"] and r["fp"] and r["fn"]:
            return int(r["data_row_id"])
    raise AssertionError("voc100 has a row with TP, FP and FN")


def test_row_without_run(client: Client, voc: dict[str, Any]) -> None:
    row_id = _busy_row(voc)
    body = ok(client.get(f"/api/rows/{row_id}"))
    data_row = next(d for d in voc["data_rows"] if d["id"] == row_id)
    assert {k: body[k] for k in data_row} == data_row
    labels = [a for a in voc["labels"] if a["data_row_id"] == row_id]
    assert [a["id"] for a in body["labels"]] == [a["id"] for a in labels]
    assert [a["class_name"] for a in body["labels"]] == [a["class_name"] for a in labels]
    assert [a["x1"] for a in body["labels"]] == [a["x1"] for a in labels]
    assert "predictions" not in body
    assert body["media_url"] == f"/media/{data_row['global_key']}"
    image = client.get(body["media_url"])
    assert image.status_code == 200
    assert image.content == Path(data_row["uri"]).read_bytes()


def test_row_with_evaluated_run(client: Client, voc: dict[str, Any]) -> None:
    row_id = _busy_row(voc)
    body = ok(client.get(f"/api/rows/{row_id}", params={"run": "det"}))
    preds = [p for p in voc["predictions"] if p["data_row_id"] == row_id]
    assert [p["id"] for p in body["predictions"]] == [p["id"] for p in preds]
    assert [p["confidence"] for p in body["predictions"]] == [p["confidence"] for p in preds]
    assert body["evaluated"] is True
    assert body["split"] == "unassigned"
    objects = {(o["source"], o["annotation_id"]): o for o in voc["objects"]}
    statuses = set()
    for source, items in (("label", body["labels"]), ("prediction", body["predictions"])):
        for item in items:
            want = objects[(source, item["id"])]
            got = item["evaluation"]
            assert got["status"] == want["status"]
            assert got["matched_id"] == want["matched_id"]
            assert got["iou"] == want["iou"]
            assert got["error_type"] == want["error_type"]
            statuses.add(got["status"])
    assert {"TP", "FP", "FN"} <= statuses
    metrics = next(r for r in voc["rows"] if r["data_row_id"] == row_id)
    assert body["row_metrics"] == {k: v for k, v in metrics.items() if k != "data_row_id"}


def test_row_with_unevaluated_run(client: Client, voc: dict[str, Any]) -> None:
    body = ok(client.get("/api/rows/1", params={"run": "empty"}))
    assert body["evaluated"] is False
    assert body["predictions"] == []
    assert body["row_metrics"] is None
    assert all(label["evaluation"] is None for label in body["labels"])


def test_thumbnail_is_a_cached_jpeg(client: Client, voc: dict[str, Any]) -> None:
    first = client.get("/media/2007_000027.jpg", params={"thumb": 64})
    assert first.status_code == 200
    assert first.headers["content-type"] == "image/jpeg"
    assert first.headers["x-content-type-options"] == "nosniff"
    with Image.open(io.BytesIO(first.content)) as image:
        assert image.format == "JPEG"
        assert max(image.size) == 64
    cached = list((voc["path"] / THUMBNAIL_DIR).rglob("*.jpg"))
    assert len(cached) >= 1
    assert any(p.read_bytes() == first.content for p in cached)
    assert client.get("/media/2007_000027.jpg?thumb=64").content == first.content


def test_openapi_snapshot(client: Client) -> None:
    schema = ok(client.get("/openapi.json"))
    text = orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    if os.environ.get(REFRESH_ENV):
        OPENAPI_SNAPSHOT.write_text(text + "\n")
    assert OPENAPI_SNAPSHOT.exists(), f"no snapshot: run {REFRESH_ENV}=1 pytest {__file__}"
    assert OPENAPI_SNAPSHOT.read_text() == text + "\n", (
        "the OpenAPI schema changed; if that is intended, refresh tests/openapi.json with "
        f"`{REFRESH_ENV}=1 .venv/bin/pytest tests/test_server.py -k openapi` and commit it"
    )
    assert {"/api/info", "/api/runs", "/api/rows/{row_id}", "/media/{path}"} <= set(schema["paths"])


def test_rows_pages_through_the_query(client: Client, voc: dict[str, Any]) -> None:
    want = voc["person_rows"]
    assert want["total"] > 5
    filter_text = orjson.dumps(PERSON_IOU).decode()
    got: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"filter": filter_text, "sort": "person.iou:asc", "limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = ok(client.get("/api/runs/det/rows", params=params))
        assert page["total"] == want["total"]
        got.extend(page["rows"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert got == want["rows"]
    body = {"filter": PERSON_IOU, "sort": "person.iou:asc", "limit": 1000}
    assert ok(client.post("/api/runs/det/rows", json=body)) == want
    everything = ok(client.get("/api/runs/det/rows", params={"limit": 1000}))
    assert everything["total"] == voc["info"]["data_rows"]  # the evaluation scope


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "{not json"},
        {"filter": "[1, 2]"},
        {"filter": '{"type": "nope"}'},
        {"filter": '{"type": "metric", "name": "iou", "lo": "low"}'},
        {"filter": '{"type": "metric", "name": "no_such_metric", "lo": 0}'},
        {"sort": "iou:sideways"},
        {"sort": "no_such_metric:asc"},
        {"cursor": "garbage"},
        {"limit": 0},
        {"limit": "ten"},
    ],
)
def test_bad_row_queries_are_400(client: Client, params: dict[str, str]) -> None:
    assert_error(client.get("/api/runs/det/rows", params=params), 400)


@pytest.mark.parametrize(
    "body",
    [
        {"filter": {"type": "nope"}},
        {"filter": [1]},
        {"limit": 0},
        {"unknown": 1},
        {"sort": 5},
    ],
)
def test_bad_row_bodies_are_400(client: Client, body: dict[str, Any]) -> None:
    assert_error(client.post("/api/runs/det/rows", json=body), 400)
    assert_error(client.post("/api/runs/det/rows", content=b"{not json"), 400)
    assert_error(client.post("/api/runs/nope/rows", json={}), 404, "NotFoundError")


INJECTIONS = ["x'; DROP TABLE labels; --", 'x" OR 1=1 --', "x/* comment */", "';--", "a;b"]


@pytest.mark.parametrize("evil", INJECTIONS)
def test_string_parameters_are_not_sql(client: Client, voc: dict[str, Any], evil: str) -> None:
    filters = [
        {"type": "class", "side": "label", "class_name": evil},
        {"type": "metadata", "name": evil, "equals": evil},
        {"type": "split", "values": [evil]},
        {"type": "text", "text": evil},
    ]
    for f in filters:
        response = client.post("/api/runs/det/rows", json={"filter": f})
        if response.status_code == 200:
            assert response.json()["total"] == 0
        else:
            assert_error(response, 400)
    for response in (
        client.get("/api/runs/det/rows", params={"sort": evil}),
        client.get("/api/runs/det/rows", params={"cursor": evil}),
    ):
        assert_error(response, 400)
    assert_error(client.get(f"/api/runs/{evil}/rows"), 404)
    assert_error(client.get("/api/rows/1", params={"run": evil}), 404)
    assert ok(client.get("/api/info"))["labels"] == voc["info"]["labels"]


# -- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "url", "status", "type_"),
    [
        ("GET", "/nope", 404, "NotFound"),
        ("GET", "/api/runs/det/nope", 404, "NotFound"),
        ("POST", "/api/info", 405, "MethodNotAllowed"),
        ("GET", "/api/rows/abc", 400, "InvalidRequest"),
        ("GET", "/api/rows/999999", 404, "NotFoundError"),
        ("GET", "/api/rows/1?run=nope", 404, "NotFoundError"),
        ("GET", "/api/runs/nope/evaluation", 404, "NotFoundError"),
        ("GET", "/api/runs/empty/evaluation", 404, "NotFoundError"),
        ("GET", "/api/runs/empty/curves", 404, "NotFoundError"),
        ("GET", "/api/runs/det/curves?curve=roc", 400, "InvalidRequest"),
        ("GET", "/api/runs/det/curves?iou=high", 400, "InvalidRequest"),
        ("GET", "/media/2007_000027.jpg?thumb=8", 400, "InvalidRequest"),
        ("GET", "/media/2007_000027.jpg?thumb=big", 400, "InvalidRequest"),
        ("GET", "/media/missing.jpg", 404, "NotFoundError"),
        ("GET", "/media/errorscope.duckdb", 404, "NotFoundError"),
        ("GET", "/media/holder.json", 404, "NotFoundError"),
    ],
)
def test_errors_have_the_shape(
    client: Client, method: str, url: str, status: int, type_: str
) -> None:
    assert_error(client.loop.run_until_complete(client.http.request(method, url)), status, type_)


def test_validation_message_names_the_parameter(client: Client) -> None:
    assert "'row_id'" in assert_error(client.get("/api/rows/abc"), 400)
    assert "'thumb'" in assert_error(client.get("/media/a.jpg?thumb=1"), 400)


@pytest.mark.parametrize(
    "url",
    [
        "/media/../../etc/passwd",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/media/..%2f..%2fvoc100%2fimages%2f2007_000027.jpg",
        "/media/%2e%2e%2fimages%2f2007_000027.jpg",
        "/media//etc/passwd",
        "/media/%2fetc%2fpasswd",
        "/media/%2Fwork%2Fshared%2Fdata%2Fvoc100%2Fimages%2F2007_000027.jpg",
        "/media/..%5c..%5cetc%5cpasswd",
        "/media/%252e%252e%252fetc%252fpasswd",
    ],
)
def test_path_traversal_is_404(client: Client, url: str) -> None:
    assert_error(client.get(url), 404)


def test_symlink_out_of_the_root_is_404(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    Image.new("RGB", (40, 30), "red").save(root / "sub" / "inside.png")
    Image.new("RGB", (40, 30), "blue").save(outside / "secret.png")
    (root / "escape.png").symlink_to(outside / "secret.png")
    (root / "door").symlink_to(outside, target_is_directory=True)
    (root / "sub" / "alias.png").symlink_to(root / "sub" / "inside.png")
    (root / "fake.jpg").write_bytes(b"not an image")
    with es.open_workspace(tmp_path / "ws"):
        pass
    client = Client(create_app(tmp_path / "ws", media_roots=[root]))
    try:
        inside = client.get("/media/sub/inside.png")
        assert inside.status_code == 200
        assert inside.content == (root / "sub" / "inside.png").read_bytes()
        assert client.get("/media/sub/alias.png").content == inside.content
        assert_error(client.get("/media/escape.png"), 404)
        assert_error(client.get("/media/door/secret.png"), 404)
        assert_error(client.get("/media/escape.png?thumb=32"), 404)
        assert_error(client.get("/media/fake.jpg?thumb=32"), 404)
        assert client.get("/media/fake.jpg").status_code == 200  # served as is, not decoded
    finally:
        client.close()


def test_our_errors_map_to_statuses_and_unknown_errors_hide_the_traceback(
    tmp_path: Path,
) -> None:
    with es.open_workspace(tmp_path / "ws"):
        pass
    app = create_app(tmp_path / "ws")

    def boom(kind: str) -> None:
        if kind == "conflict":
            raise ConflictError("class 'dog' already exists")
        if kind == "locked":
            raise WorkspaceLockedError(tmp_path, "process 1")
        raise RuntimeError("secret internals")

    app.add_api_route("/boom/{kind}", boom)
    client = Client(app)
    try:
        assert_error(client.get("/boom/conflict"), 409, "ConflictError")
        assert_error(client.get("/boom/locked"), 423, "WorkspaceLockedError")
        message = assert_error(client.get("/boom/other"), 500, "InternalError")
        assert "secret" not in message
    finally:
        client.close()


def test_missing_workspace_is_refused(tmp_path: Path) -> None:
    with pytest.raises(es.WorkspaceError, match="no workspace"):
        create_app(tmp_path / "nowhere")


# -- the real CLI server ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_cli_serve_binds_loopback(tmp_path: Path) -> None:
    with es.open_workspace(tmp_path / "ws") as ws:
        ws.add_class("dog", "bbox")
    port = _free_port()
    command = [sys.executable, "-c", "from errorscope.cli import main; main()"]
    proc = subprocess.Popen(
        [*command, "serve", "-w", str(tmp_path / "ws"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        info = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                info = httpx.get(f"http://127.0.0.1:{port}/api/info", timeout=2).json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert info is not None, "the server did not answer"
        assert info["classes"] == 1
        conns = psutil.Process(proc.pid).net_connections(kind="inet")
        listening = {c.laddr for c in conns if c.status == psutil.CONN_LISTEN}
        assert listening
        assert {addr.ip for addr in listening} == {"127.0.0.1"}
        assert {addr.port for addr in listening} == {port}
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert b"Traceback" not in out, out.decode()


def test_cli_serve_on_a_locked_workspace_is_one_line(tmp_path: Path) -> None:
    command = [sys.executable, "-c", "from errorscope.cli import main; main()"]
    with es.open_workspace(tmp_path / "ws"):
        done = subprocess.run(
            [*command, "serve", "-w", str(tmp_path / "ws"), "--port", str(_free_port())],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "is in use by process" in done.stderr
    missing = subprocess.run(
        [*command, "serve", "-w", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 1
    assert missing.stderr.strip() == f"error: no workspace at {tmp_path / 'nowhere'}"
