"""End to end against a real Label Studio server (PyPI ``label-studio`` in its own venv,
``make labelstudio``), started here on loopback with a fresh data directory and a legacy
API token: the voc100 rows where ``car`` has IoU < 0.5 go out as a batch with the
detector's predictions as pre-annotations, are completed through Label Studio's own API
as an annotator would (pre-labels accepted, one box moved), and come back as ground
truth that changed exactly on those rows, the old labels kept in history."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import errorscope as es
from errorscope.errors import ErrorscopeError
from errorscope.labeling.brush import decode_brush, encode_brush
from errorscope.labeling.labelstudio import LabelStudioClient, LabelStudioError
from errorscope.labeling.lsformat import LsClass, label_config
from tests.conftest import load_voc100

pytestmark = pytest.mark.shared_data

REPO = Path(__file__).resolve().parents[1]
LS_BIN = Path(
    os.environ.get("ERRORSCOPE_LABEL_STUDIO", REPO / ".venv-labelstudio" / "bin" / "label-studio")
)
CAR = {"type": "metric", "name": "iou", "class_name": "car", "hi": 0.5, "hi_inclusive": False}
STARTUP_S = 900
MOVE = 2.0  # percent of the image width the annotator moves one box by


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _tail(path: Path) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-30:])


@pytest.fixture(scope="module")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A running Label Studio server: ``(url, token)``."""
    if not LS_BIN.exists():
        pytest.skip(f"Label Studio is not installed at {LS_BIN}: run `make labelstudio`")
    data = tmp_path_factory.mktemp("labelstudio")
    port, token = _free_port(), secrets.token_hex(20)
    user, password = "annotator@example.com", secrets.token_hex(12)
    env = {
        **os.environ,
        "LABEL_STUDIO_USERNAME": user,
        "LABEL_STUDIO_PASSWORD": password,
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
    }
    cmd = [
        str(LS_BIN),
        "start",
        "--no-browser",
        "--data-dir",
        str(data),
        "--port",
        str(port),
        "--internal-host",
        "127.0.0.1",
        "--username",
        user,
        "--password",
        password,
        "--user-token",
        token,
        "--enable-legacy-api-token",
    ]
    log_path = data / "server.log"
    url = f"http://127.0.0.1:{port}"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + STARTUP_S
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"Label Studio exited with {proc.returncode}:\n{_tail(log_path)}")
                with contextlib.suppress(httpx.HTTPError):
                    r = httpx.get(
                        f"{url}/api/projects",
                        headers={"Authorization": f"Token {token}"},
                        timeout=5,
                    )
                    if r.status_code == 200:
                        break
                if time.monotonic() > deadline:
                    pytest.fail(f"Label Studio did not start in {STARTUP_S}s:\n{_tail(log_path)}")
                time.sleep(2)
            yield url, token
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)


def _objects(table: Any, rows: set[int] | None = None) -> Counter[Any]:
    out: Counter[Any] = Counter()
    for r in table.to_pylist():
        if rows is None or r["data_row_id"] in rows:
            box = tuple(round(r[c], 2) for c in ("x1", "y1", "x2", "y2"))
            out[(r["data_row_id"], r["class_name"], box)] += 1
    return out


def test_fix_loop_through_label_studio(
    ws: es.Workspace, label_studio: tuple[str, str], tmp_path: Path
) -> None:
    url, token = label_studio
    load_voc100(ws)
    ws.evaluate("det", mode="labelbox")
    ws.create_labeling_project("voc-fix", backend="labelstudio", config={"url": url})
    batch = ws.create_batch("cars", project="voc-fix", run="det", filter=CAR, priority=1)
    rows = set(batch.rows)
    assert rows == {r.id for r in ws.query("det", CAR, limit=1000).rows}

    with pytest.raises(ErrorscopeError, match="API token"):
        ws.push_batch("cars")
    sent = ws.push_batch("cars", confidence=0.5, token=token)
    preds = [p for p in ws.predictions("det").to_pylist() if p["confidence"] >= 0.5]
    in_batch = [p for p in preds if p["data_row_id"] in rows]
    assert sent["tasks"] == len(rows)
    assert sent["prelabels"] == len(in_batch)

    # the annotator: every task's pre-labels accepted, one box moved right by MOVE %
    sizes = {r["id"]: r["width"] for r in ws.data_rows().to_pylist()}
    moved: tuple[int, float] | None = None
    with ws.labelstudio_client("voc-fix", token=token) as client:
        tasks = client.tasks(sent["project_id"])
        assert len(tasks) == len(rows)
        for task in tasks:
            (pred,) = task["predictions"]
            result = pred["result"]
            assert all(0 < r["score"] <= 1 for r in result)
            if moved is None and result:
                result[0]["value"]["x"] += MOVE
                rid = task["data"]["errorscope_id"]
                moved = (rid, MOVE / 100 * sizes[rid])
                moved_box = result[0]["value"]
            client.annotate(task["id"], result)
    assert moved is not None

    old = _objects(ws.labels())
    with pytest.raises(ErrorscopeError, match="API token"):
        ws.pull_batch("cars")
    kept = ws.pull_batch("cars", token=token)  # keep: every row has labels already
    assert kept.rows_changed == []
    assert sorted(kept.rows_kept_existing) == sorted(rows)
    assert _objects(ws.labels()) == old
    report = ws.pull_batch("cars", conflict="override", token=token)

    # expected ground truth of the batch rows: the accepted pre-labels, one box moved
    want: Counter[Any] = Counter()
    moved_done = False
    for p in in_batch:
        box = [p["x1"], p["y1"], p["x2"], p["y2"]]
        if (
            not moved_done
            and p["data_row_id"] == moved[0]
            and p["class_name"] == (moved_box["rectanglelabels"][0])
            and abs(p["x1"] / sizes[moved[0]] * 100 + MOVE - moved_box["x"]) < 1e-6
        ):
            box[0] += moved[1]
            box[2] += moved[1]
            moved_done = True
        want[(p["data_row_id"], p["class_name"], tuple(round(v, 2) for v in box))] += 1
    assert moved_done
    new = _objects(ws.labels())
    assert _objects(ws.labels(), rows) == want
    assert {k: v for k, v in new.items() if k[0] not in rows} == {
        k: v for k, v in old.items() if k[0] not in rows
    }
    changed = set(report.rows_changed)
    assert changed <= rows
    assert moved[0] in changed
    assert changed == {
        r
        for r in rows
        if Counter({k: v for k, v in want.items() if k[0] == r})
        != Counter({k: v for k, v in old.items() if k[0] == r})
    }
    # the previous labels are kept in history under this import
    history = ws.label_history()
    assert set(history.column("import_id").to_pylist()) == {report.import_id}
    assert _objects(history) == Counter({k: v for k, v in old.items() if k[0] in changed})
    assert report.labels_replaced == history.num_rows


def test_label_studio_accepts_generated_configs(label_studio: tuple[str, str]) -> None:
    """Label Studio validates a labeling config when a project is created with it."""
    url, token = label_studio
    image = [
        LsClass("car", "bbox"),
        LsClass("road", "polygon"),
        LsClass("sky", "mask"),
        LsClass("eye", "point"),
        LsClass("weather", "radio", ("sun", "rain")),
        LsClass("tags", "checklist", ("blurry", "dark")),
    ]
    text = [
        LsClass("NP", "text_span"),
        LsClass("VP", "text_span"),
        LsClass("topic", "radio", ("a", "b")),
    ]
    with LabelStudioClient(url, token) as client:
        for name, classes, media in (("image kinds", image, "image"), ("text kinds", text, "text")):
            pid = client.create_project(name, label_config(classes, media))
            assert client.project(pid)["label_config"] == label_config(classes, media)
        with pytest.raises(LabelStudioError, match="HTTP 400"):
            client.create_project("broken", "<View><Image name='image' value='$image'/>")


def test_brush_rle_matches_label_studio_converter(tmp_path: Path) -> None:
    """Our brush RLE against Label Studio's own converter, both ways."""
    python = LS_BIN.parent / "python"
    if not python.exists():
        pytest.skip(f"Label Studio is not installed at {LS_BIN}: run `make labelstudio`")
    rng = np.random.default_rng(1)
    mask = rng.random((120, 90)) < 0.4
    mask[10:100, 5:80] = True
    ours = encode_brush(mask)
    script = """
import json, sys
import numpy as np
from label_studio_sdk.converter.brush import decode_rle, mask2rle
data = json.load(open(sys.argv[1]))
img = decode_rle(data["ours"]).reshape(data["h"], data["w"], 4)
theirs = mask2rle((np.array(data["mask"], dtype=np.uint8) * 255))
json.dump({"decoded": (img[:, :, 3] > 0).astype(int).tolist(), "theirs": theirs},
          open(sys.argv[2], "w"))
"""
    (tmp_path / "in.json").write_text(
        json.dumps({"ours": ours, "h": 120, "w": 90, "mask": mask.astype(int).tolist()})
    )
    subprocess.run(
        [str(python), "-c", script, str(tmp_path / "in.json"), str(tmp_path / "out.json")],
        check=True,
        timeout=300,
    )
    out = json.loads((tmp_path / "out.json").read_text())
    assert (np.array(out["decoded"], bool) == mask).all()
    assert (decode_brush(out["theirs"], 120, 90) == mask).all()
