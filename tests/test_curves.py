"""Precision/recall curves stored at evaluate time (sdk/curves.py, migration 3), checked
against pycocotools' ``eval["precision"]`` / ``eval["scores"]`` on voc100."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import errorscope as es
from errorscope.errors import ErrorscopeError, NotFoundError
from tests.conftest import load_voc100


def _pycocotools(ws: es.Workspace, tmp_path: Path) -> Any:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ws.export_coco(tmp_path / "gt.json")
    ws.export_coco(tmp_path / "dt.json", run="det", results=True)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(tmp_path / "gt.json"))
        dt = gt.loadRes(str(tmp_path / "dt.json"))
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
    return ev


def test_voc100_coco_curves_equal_pycocotools(ws: es.Workspace, tmp_path: Path) -> None:
    load_voc100(ws)
    ws.evaluate("det")
    ref = _pycocotools(ws, tmp_path)
    precision = ref.eval["precision"]  # [T, R, K, A, M]
    scores = ref.eval["scores"]
    cat_names = [ref.cocoGt.cats[c]["name"] for c in ref.params.catIds]
    table = ws.pr_curves("det")
    assert table.column_names == [
        "class_name",
        "class_id",
        "iou",
        "point",
        "recall",
        "precision",
        "score",
    ]
    n_t, n_r, _n_k = precision.shape[:3]
    assert table.num_rows == n_t * n_r * len(set(table.column("class_name").to_pylist()))
    rows = {(r["class_name"], round(r["iou"], 2), r["point"]): r for r in table.to_pylist()}
    checked = 0
    for k, name in enumerate(cat_names):
        for t, iou in enumerate(ref.params.iouThrs):
            for r, rec in enumerate(ref.params.recThrs):
                got = rows[(name, round(float(iou), 2), r)]
                assert got["recall"] == pytest.approx(rec, abs=1e-12)
                want = precision[t, r, k, 0, 2]
                if want == -1:
                    assert got["precision"] is None
                    assert got["score"] is None
                else:
                    assert got["precision"] == pytest.approx(want, abs=1e-9), (name, t, r)
                    assert got["score"] == pytest.approx(scores[t, r, k, 0, 2], abs=1e-9)
                    checked += 1
    assert checked > n_t * n_r * 10  # most classes have ground truth

    # filtered by IoU threshold
    at50 = ws.pr_curves("det", iou_thresholds=[0.5])
    assert set(at50.column("iou").to_pylist()) == {0.5}
    assert at50.num_rows == table.num_rows // n_t
    assert ws.pr_curves("det", iou_thresholds=[0.5, 0.75]).num_rows == 2 * at50.num_rows
    assert ws.pr_curves("det", iou_thresholds=[]).num_rows == 0


def test_curves_are_replaced_and_need_an_evaluation(ws: es.Workspace) -> None:
    load_voc100(ws)
    with pytest.raises(NotFoundError, match="evaluate first"):
        ws.pr_curves("det")
    ws.evaluate("det")
    first = ws.pr_curves("det")
    voc = ws.pr_curves("det", curve="voc")
    ws.evaluate("det", iou=0.75, confidence=0.2)  # AP curves do not depend on these
    assert ws.pr_curves("det").equals(first)
    assert ws.pr_curves("det", curve="voc").equals(voc)
    n = ws.db.rows("SELECT count(*) FROM eval_pr_curves")[0][0]
    assert n == first.num_rows + voc.num_rows
    with pytest.raises(ErrorscopeError, match="curve must be"):
        ws.pr_curves("det", curve="roc")  # type: ignore[arg-type]


def test_a_version_2_workspace_gains_the_curve_table(tmp_path: Path) -> None:
    import duckdb

    from errorscope.store.schema import MIGRATIONS

    path = tmp_path / "old"
    path.mkdir()
    con = duckdb.connect(str(path / "errorscope.duckdb"))
    con.execute(MIGRATIONS[0])
    con.execute(MIGRATIONS[1])
    con.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    con.close()
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        summary = ws.evaluate("det")
        assert summary["voc"]["map_all"] is not None
        p = ws.pr_curves("det", iou_thresholds=[0.5]).column("precision").to_pylist()
        assert any(v is not None and v > 0 for v in p)


def test_voc_curves_end_where_the_recall_does(ws: es.Workspace) -> None:
    load_voc100(ws)
    summary = ws.evaluate("det")
    voc = ws.pr_curves("det", curve="voc")
    for name, entry in summary["per_class"].items():
        pts = [r for r in voc.to_pylist() if r["class_name"] == name]
        if not pts or entry["voc_ap"] is None:
            continue
        rec = np.array([r["recall"] for r in pts])
        assert np.all(np.diff(rec) >= 0)
        # every-point AP never exceeds the recall reached
        assert entry["voc_ap"] <= rec[-1] + 1e-12


def test_cli_prints_voc_map(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from errorscope.cli import cli

    path = tmp_path / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
    runner = CliRunner()
    result = runner.invoke(cli, ["evaluate", "-w", str(path), "--run", "det", "--json"])
    assert result.exit_code == 0, result.output
    voc = json.loads(result.output)["voc"]
    assert set(voc) == {"map_11", "map_all", "iou"}
    result = runner.invoke(cli, ["evaluate", "-w", str(path), "--run", "det"])
    assert result.exit_code == 0, result.output
    assert f"VOC mAP@0.5: every-point {voc['map_all']:.4f}" in result.output
