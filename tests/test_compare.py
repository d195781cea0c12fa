"""Workspace.compare, ``errorscope compare`` and GET /api/compare on the real voc100
detections against a second run made from them (car detections dropped on some rows,
person boxes shifted elsewhere), checked against counts recomputed here from each run's
stored per-object results."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import errorscope as es
from errorscope.cli import cli
from errorscope.server import create_app
from tests.conftest import load_voc100
from tests.test_server import Client

pytestmark = pytest.mark.shared_data


@pytest.fixture
def two(ws: es.Workspace) -> es.Workspace:
    load_voc100(ws)
    preds = ws.predictions("det").to_pylist()
    rows = sorted({p["data_row_id"] for p in preds})
    drop_car = set(rows[::2])
    out = []
    for p in preds:
        if p["class_name"] == "car" and p["data_row_id"] in drop_car:
            continue
        rec = {k: p[k] for k in ("row_key", "class_name", "kind", "x1", "y1", "x2", "y2")}
        rec["confidence"] = p["confidence"]
        if p["class_name"] == "person" and p["data_row_id"] % 3 == 0:
            w = p["x2"] - p["x1"]
            rec["x1"], rec["x2"] = p["x1"] + 0.6 * w, p["x2"] + 0.6 * w
        out.append(rec)
    ws.add_predictions("det2", out)
    ws.evaluate("det", mode="labelbox")
    ws.evaluate("det2", mode="labelbox")
    return ws


def _expected(ws: es.Workspace, rows: set[int]) -> dict[str, Any]:
    labels = {r["id"]: r["class_name"] for r in ws.labels().to_pylist()}
    per: dict[str, dict[str | None, Counter[str]]] = {}
    status: dict[str, dict[int, str]] = {}
    for run in ("det", "det2"):
        names = {r["id"]: r["class_name"] for r in ws.predictions(run).to_pylist()}
        c: dict[str | None, Counter[str]] = {}
        status[run] = {}
        for o in ws.evaluation_results(run, "objects").to_pylist():
            if o["data_row_id"] not in rows:
                continue
            src, st = o["source"], o["status"]
            name = labels[o["annotation_id"]] if src == "label" else names[o["annotation_id"]]
            key = {("label", "TP"): "tp", ("label", "FN"): "fn", ("prediction", "FP"): "fp"}.get(
                (src, st)
            )
            if key:
                for n in (name, None):
                    c.setdefault(n, Counter())[key] += 1
            if src == "label" and st in ("TP", "FN"):
                status[run][o["annotation_id"]] = st
        per[run] = c
    flips = {
        a: (status["det"][a], status["det2"][a])
        for a in status["det"].keys() & status["det2"].keys()
        if status["det"][a] != status["det2"][a]
    }
    return {"per": per, "flips": flips}


def _check(out: dict[str, Any], exp: dict[str, Any]) -> None:
    for row in [*out["per_class"], {"name": None, **out["overall"]}]:
        for side, run in (("a", "det"), ("b", "det2")):
            want = exp["per"][run].get(row["name"], Counter())
            got = row[side]
            assert (got["tp"], got["fp"], got["fn"]) == (want["tp"], want["fp"], want["fn"])
            tp, fp = want["tp"], want["fp"]
            if tp + fp:
                assert got["precision"] == pytest.approx(tp / (tp + fp))
        assert row["delta"]["tp"] == row["b"]["tp"] - row["a"]["tp"]
        if row["a"]["recall"] is not None and row["b"]["recall"] is not None:
            assert row["delta"]["recall"] == pytest.approx(row["b"]["recall"] - row["a"]["recall"])
    got = {f["annotation_id"]: (f["from"], f["to"]) for f in out["flips"]["objects"]}
    assert got == exp["flips"]
    assert out["flips"]["tp_to_fn"] == sum(v == ("TP", "FN") for v in exp["flips"].values())


def test_compare_all_shared_rows(two: es.Workspace) -> None:
    out = two.compare("det", "det2")
    rows = {r["data_row_id"] for r in two.evaluation_results("det", "rows").to_pylist()}
    assert out["rows"] == len(rows)
    exp = _expected(two, rows)
    _check(out, exp)
    car = next(r for r in out["per_class"] if r["name"] == "car")
    assert car["delta"]["tp"] < 0  # dropped car detections are missed
    assert out["flips"]["tp_to_fn"] > 0
    flipped = [f for f in out["flips"]["objects"] if f["to"] == "FN"]
    errors = {
        o["annotation_id"]: o["error_type"] or None
        for o in two.evaluation_results("det2", "objects").to_pylist()
        if o["source"] == "label"
    }
    assert [f["error_type"] for f in flipped] == [errors[f["annotation_id"]] for f in flipped]
    assert "missed" in {f["error_type"] for f in flipped}
    assert {f["name"] for f in flipped} <= {"car", "person"}
    # a run against itself changes nothing
    same = two.compare("det", "det")
    assert same["flips"]["objects"] == []
    assert all(v in (0, 0.0, None) for v in same["overall"]["delta"].values())
    # the hook for intervals: aligned per-row counts summing to the overall counts
    shared, new, old = two.compare_counts("det", "det2")
    assert len(shared) == out["rows"]
    assert new.sum(axis=0).tolist() == [out["overall"]["b"][k] for k in ("tp", "fp", "fn")]
    assert old.sum(axis=0).tolist() == [out["overall"]["a"][k] for k in ("tp", "fp", "fn")]
    assert isinstance(new, np.ndarray)


def test_compare_on_a_slice_cli_and_api(two: es.Workspace, tmp_path: Path) -> None:
    f = {"type": "class", "side": "label", "class_name": "car"}
    two.save_slice("cars", f)
    out = two.compare("det", "det2", slice="cars")
    rows = {r.id for r in two.query("det", f, limit=1000).rows}
    assert out["rows"] == len(rows) > 0
    assert out["slice"] == "cars"
    _check(out, _expected(two, rows))
    path = two.path
    two.close()
    res = CliRunner().invoke(
        cli, ["compare", "-w", str(path), "--runs", "det", "det2", "--slice", "cars", "--json"]
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.output) == out
    res = CliRunner().invoke(cli, ["compare", "-w", str(path), "--runs", "det", "det2"])
    assert res.exit_code == 0, res.output
    assert "TP->FN" in res.output
    assert "car" in res.output
    client = Client(create_app(path))
    try:
        r = client.get("/api/compare", params={"a": "det", "b": "det2", "slice": "cars"})
        assert r.status_code == 200, r.text
        assert r.json() == json.loads(json.dumps(out))
        r = client.get("/api/compare", params={"a": "det", "b": "nope"})
        assert r.status_code == 404
    finally:
        client.close()


def test_compare_needs_evaluated_runs(ws: es.Workspace) -> None:
    load_voc100(ws)
    ws.evaluate("det", mode="labelbox")
    preds = ws.predictions("det").to_pylist()[:5]
    ws.add_predictions(
        "other",
        [
            {k: p[k] for k in ("row_key", "class_name", "kind", "x1", "y1", "x2", "y2")}
            for p in preds
        ],
    )
    with pytest.raises(es.NotFoundError, match="'other' has not been evaluated"):
        ws.compare("det", "other")
