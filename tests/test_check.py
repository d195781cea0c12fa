"""The CI gate and metric intervals on the real voc100 detector: a rerun passes, a run
whose slice lost most of its detections fails (exit code 1) on that slice and its class."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import errorscope as es
from errorscope.cli import cli
from errorscope.server.app import create_app
from errorscope.store import rowscores
from tests.conftest import load_voc100
from tests.test_server import Client

pytestmark = pytest.mark.shared_data


@pytest.fixture
def runs(ws: es.Workspace) -> es.Workspace:
    """``old`` (the real detector), ``rerun`` (the same predictions again) and ``worse``
    (the same, minus 70 % of the predictions on the rows with a person label)."""
    load_voc100(ws, run="old")
    preds = ws.predictions("old").to_pylist()
    people = {a["row_key"] for a in ws.labels().to_pylist() if a["class_name"] == "person"}
    keep = ["row_key", "class_name", "kind", "x1", "y1", "x2", "y2", "confidence"]
    ws.add_predictions("rerun", [{k: p[k] for k in keep} for p in preds])
    rng = np.random.default_rng(0)
    ws.add_predictions(
        "worse",
        [
            {k: p[k] for k in keep}
            for p in preds
            if p["row_key"] not in people or rng.random() > 0.7
        ],
    )
    for run in ("old", "rerun", "worse"):
        ws.evaluate(run)
    ws.save_slice("people", {"type": "class", "side": "label", "class_name": "person"})
    return ws


def test_check_sdk(runs: es.Workspace) -> None:
    ok = runs.check("rerun", "old", slices=["people"], classes=["person", "dog"])
    assert ok.passed
    assert all(i.delta.value == 0.0 and i.delta.lo == 0.0 == i.delta.hi for i in ok.items)
    bad = runs.check("worse", "old", slices=["people"], classes=["person", "dog"])
    assert not bad.passed
    by = {(i.kind, i.name): i for i in bad.items}
    assert by[("slice", "people")].regressed
    assert by[("class", "person")].regressed
    assert by[("slice", "people")].delta.hi < 0 < by[("slice", "people")].old
    whole = runs.check("worse", "old", max_drop=0.9)
    assert whole.passed  # a drop smaller than the tolerance passes


def test_check_cli_exit_codes(runs: es.Workspace, tmp_path: Path) -> None:
    w = ["-w", str(runs.path)]
    runs.close()
    r = CliRunner()
    res = r.invoke(cli, ["check", *w, "--run", "rerun", "--baseline", "old", "--slice", "people",
                         "--class", "person", "--boot", "200"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "passed" in res.output
    res = r.invoke(cli, ["check", *w, "--run", "worse", "--baseline", "old", "--slice", "people",
                         "--max-drop", "0.02", "--boot", "200", "--json"])  # fmt: skip
    assert res.exit_code == 1, res.output
    data = json.loads(res.output)
    assert data["passed"] is False
    assert data["items"][0]["regressed"] is True
    res = r.invoke(cli, ["check", *w, "--run", "worse", "--baseline", "old", "--slice", "nope"])
    assert res.exit_code == 1
    assert "unknown slice 'nope'" in str(res.exception)


def test_intervals_contain_the_stored_metrics(runs: es.Workspace) -> None:
    data = runs.intervals("old", n_boot=300)
    summary = runs.evaluation("old")
    for name, entry in data["per_class"].items():
        stored = summary["per_class"][name]
        for m in ("precision", "recall", "f1"):
            v, (lo, hi) = entry[m]["value"], entry[m]["ci"]
            if stored[m] is None:
                continue
            assert v == pytest.approx(stored[m])
            assert lo <= v <= hi
        assert 0.0 <= entry["ap_at_iou"]["value"] <= 1.0
    assert data["overall"]["f1"]["value"] == pytest.approx(summary["counts"]["f1"])
    people = runs.intervals("old", filter={"type": "slice", "name": "people"}, n_boot=300)
    assert people["rows"] < data["rows"]
    d = runs.delta_intervals("worse", "old", classes=["person"], n_boot=300)
    assert d["per_class"]["person"]["delta"]["ci"][1] < 0


def test_evaluate_ci_and_patterns_cli(runs: es.Workspace) -> None:
    w = ["-w", str(runs.path)]
    runs.close()
    r = CliRunner()
    res = r.invoke(cli, ["evaluate", *w, "--run", "old", "--ci", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["intervals"]["per_class"]["person"]["f1"]["ci"][0] is not None
    res = r.invoke(cli, ["evaluate", *w, "--run", "old", "--ci"])
    assert "95% row-bootstrap intervals" in res.output
    res = r.invoke(cli, ["patterns", *w, "--run", "old", "--top", "3", "--json"])
    assert res.exit_code == 0, res.output
    found = json.loads(res.output)
    assert 0 < len(found) <= 3
    assert {"description", "filter", "p_adjusted", "gap_ci", "f1_in"} <= set(found[0])
    res = r.invoke(cli, ["patterns", *w, "--run", "old", "--top", "2"])
    assert res.exit_code == 0
    assert "rows:" in res.output
    res = r.invoke(cli, ["label-issues", *w, "--run", "old", "--top", "5", "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.output)["items"]) == 5
    stored = r.invoke(cli, ["label-issues", *w, "--run", "old", "--top", "5", "--store", "--json"])
    assert stored.exit_code == 0, stored.output
    assert json.loads(stored.output) == json.loads(res.output)


def test_rest_analysis_routes(runs: es.Workspace) -> None:
    # scores stored by someone else (e.g. blended with an embedding space): a GET of the
    # label issues must not replace them
    run_id = int(runs.db.scalar("SELECT id FROM runs WHERE name = ?", ["old"]))
    ids, _ = rowscores.read_row_scores(runs.db, run_id, rowscores.MISLABEL)
    assert ids.size > 0  # stored by evaluate
    mine = np.linspace(0.0, 1.0, ids.size)
    rowscores.write_row_scores(runs.db, run_id, rowscores.MISLABEL, ids, mine)
    path = runs.path
    runs.close()
    client = Client(create_app(path))
    try:
        got = client.get("/api/runs/old/patterns", params={"top": 3})
        assert got.status_code == 200, got.text
        pats = got.json()["patterns"]
        assert 0 < len(pats) <= 3
        assert pats[0]["rank"] == 1
        assert isinstance(pats[0]["description"], str)
        issues = client.get("/api/runs/old/label-issues", params={"limit": 5}).json()
        assert issues["method"] == "matches"
        assert len(issues["items"]) == 5
        scores = [i["score"] for i in issues["items"]]
        assert scores == sorted(scores, reverse=True)
        objs = client.get("/api/runs/old/label-issues", params={"objects": "true"}).json()
        assert {"annotation_id", "kind", "score"} <= set(objs["items"][0])
        with es.Workspace(path) as ws:
            kept = rowscores.read_row_scores(ws.db, run_id, rowscores.MISLABEL)
        assert kept[0].tolist() == ids.tolist()
        assert kept[1].tolist() == mine.tolist()
        iv = client.get("/api/runs/old/intervals", params={"boot": 100}).json()
        assert iv["per_class"]["person"]["f1"]["ci"][0] is not None
        ok = client.get(
            "/api/runs/rerun/check", params={"baseline": "old", "slice": "people", "boot": 100}
        ).json()
        assert ok["passed"] is True
        bad = client.get(
            "/api/runs/worse/check",
            params={"baseline": "old", "slice": "people", "class": "person", "boot": 100},
        ).json()
        assert bad["passed"] is False
        assert [i["kind"] for i in bad["items"]] == ["slice", "class"]
        d = client.get("/api/runs/worse/delta", params={"baseline": "old", "boot": 100}).json()
        assert d["overall"]["delta"]["value"] < 0
        assert client.get("/api/runs/nope/patterns").status_code == 404
    finally:
        client.close()
