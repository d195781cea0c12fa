"""POST /api/runs/{run}/evaluate and GET /api/jobs/{id} through the ASGI app on the real
voc100 run: the job finishes, reports progress, and the run's evaluation params and counts
change as the SDK's own evaluation with those thresholds says."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

import errorscope as es
from errorscope.server import create_app
from tests.conftest import load_voc100
from tests.test_server import Client, assert_error

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def voc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("evaljob")
    path, ref = base / "ws", base / "ref"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det", mode="labelbox")
        before = ws.evaluation("det")
    # what the SDK answers for the new thresholds, in a workspace of its own
    with es.open_workspace(ref) as ws:
        load_voc100(ws)
        want = ws.evaluate("det", mode="labelbox", iou=0.75, confidence=0.3)
    return {"path": path, "before": before, "want": want}


@pytest.fixture(scope="module")
def client(voc: dict[str, Any]) -> Iterator[Client]:
    c = Client(create_app(voc["path"]))
    yield c
    c.close()


def _wait(client: Client, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120
    while True:
        r = client.get(f"/api/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        if job["progress"] is not None:
            seen.append(job["progress"])
        if job["state"] != "running":
            return job, seen
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def test_recompute_changes_the_params_and_keeps_the_others(
    client: Client, voc: dict[str, Any]
) -> None:
    r = client.post("/api/runs/det/evaluate", json={"iou": 0.75, "confidence": 0.3})
    assert r.status_code == 202, r.text
    started = r.json()
    assert started["state"] in ("running", "done")
    assert started["run"] == "det"
    job, seen = _wait(client, started["id"])
    assert job["state"] == "done", job
    assert job["error"] is None
    assert job["progress"] is not None
    for p in seen:
        assert set(p) == {"stage", "done", "total"}
        assert 0 <= p["done"] <= p["total"]
    after = client.get("/api/runs/det/evaluation").json()
    assert voc["before"]["params"]["iou"] == 0.5
    assert after["params"]["iou"] == 0.75
    assert after["params"]["confidence"] == 0.3
    assert after["params"]["mode"] == "labelbox"  # kept from the stored evaluation
    assert after["params"] == voc["want"]["params"]
    assert after["counts"] == voc["want"]["counts"]
    assert after["counts"] != voc["before"]["counts"]


@pytest.mark.parametrize(
    "body", [{"iou": 1.5, "confidence": 0.5}, {"iou": 0.5}, {"iou": 0.5, "confidence": 0.5, "x": 1}]
)
def test_bad_thresholds_are_400(client: Client, body: dict[str, Any]) -> None:
    assert_error(client.post("/api/runs/det/evaluate", json=body), 400)


def test_unknown_run_and_job_are_404(client: Client) -> None:
    assert_error(client.post("/api/runs/nope/evaluate", json={"iou": 0.5, "confidence": 0.5}), 404)
    assert_error(client.get("/api/jobs/nope"), 404)
