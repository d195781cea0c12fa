"""Workspace.aggregate and GET /api/runs/{run}/aggregate on the real voc100 detections:
per-class counts and confusion cells against independent computations from the stored
tables, and every bar's and cell's click-through filter run through ws.query."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson
import pytest

import errorscope as es
from errorscope.core.query import Confusion, Split
from errorscope.core.queryparse import parse_filter
from errorscope.errors import InvalidQueryError
from errorscope.server import create_app
from tests.conftest import load_voc100
from tests.test_server import Client

Cell = tuple[str | None, str | None]


def _all_ids(ws: es.Workspace, run: str, f: Any) -> set[int]:
    out: set[int] = set()
    cursor = None
    while True:
        page = ws.query(run, f, limit=10_000, cursor=cursor)
        out |= {r.id for r in page.rows}
        cursor = page.next_cursor
        if cursor is None:
            return out


def _expected(ws: es.Workspace, rows: set[int]) -> dict[str, Any]:
    """Counts and confusion cells over ``rows``, from labels(), predictions() and the
    stored per-object results, in plain Python."""
    labels = ws.labels().to_pylist()
    preds = ws.predictions("det").to_pylist()
    objects = ws.evaluation_results("det", "objects").to_pylist()
    status = {(o["source"], o["annotation_id"]): o for o in objects}
    pred_class = {p["id"]: p["class_name"] for p in preds}
    label_class = {a["id"]: a["class_name"] for a in labels}
    lab: Counter[str] = Counter(a["class_name"] for a in labels if a["data_row_id"] in rows)
    kept = [
        p
        for p in preds
        if p["data_row_id"] in rows and status[("prediction", p["id"])]["status"] != "ignored"
    ]
    pre: Counter[str] = Counter(p["class_name"] for p in kept)
    cells: dict[Cell, list[int]] = defaultdict(list)
    pred_rows: dict[str, set[int]] = defaultdict(set)
    for p in kept:
        pred_rows[p["class_name"]].add(p["data_row_id"])
    for o in objects:
        if o["data_row_id"] not in rows:
            continue
        if o["source"] == "label" and o["status"] in ("TP", "FN"):
            match = o["matched_id"]
            cell = (label_class[o["annotation_id"]], None if match is None else pred_class[match])
            cells[cell].append(o["data_row_id"])
        elif o["source"] == "prediction" and o["status"] == "FP" and o["matched_id"] is None:
            cells[(None, pred_class[o["annotation_id"]])].append(o["data_row_id"])
    return {"labels": lab, "predictions": pre, "cells": cells, "pred_rows": pred_rows}


@pytest.fixture
def voc(ws: es.Workspace) -> es.Workspace:
    load_voc100(ws)
    ws.evaluate("det", mode="labelbox")
    return ws


@pytest.mark.parametrize("base", [None, {"type": "metric", "name": "iou", "hi": 0.6}])
def test_counts_and_confusion_click_through(voc: es.Workspace, base: Any) -> None:
    agg = voc.aggregate("det", base)
    rows = _all_ids(voc, "det", base)
    assert agg["rows"] == len(rows) > 0
    exp = _expected(voc, rows)
    assert {b["class_name"]: b["count"] for b in agg["labels"]} == dict(exp["labels"])
    assert {b["class_name"]: b["count"] for b in agg["predictions"]} == dict(exp["predictions"])
    labels = voc.labels().to_pylist()
    for bar in agg["labels"]:
        want = {a["data_row_id"] for a in labels if a["class_name"] == bar["class_name"]} & rows
        assert _all_ids(voc, "det", bar["filter"]) == want
        assert bar["rows"] == len(want)
    for bar in agg["predictions"]:
        want = exp["pred_rows"][bar["class_name"]]
        assert _all_ids(voc, "det", bar["filter"]) == want
        assert bar["rows"] == len(want)
    cells = {(c["gt_class"], c["pred_class"]): c for c in agg["confusion"]["cells"]}
    assert set(cells) == set(exp["cells"])
    assert any(g is None for g, _ in cells)
    assert any(p is None for _, p in cells)
    assert any(g is not None and g == p for g, p in cells)
    for key, cell in cells.items():
        contributing = exp["cells"][key]
        assert cell["count"] == len(contributing), key
        assert _all_ids(voc, "det", cell["filter"]) == set(contributing), key
        assert cell["rows"] == len(set(contributing))
    # every counted object is in exactly one cell
    objects = voc.evaluation_results("det", "objects").to_pylist()
    counted = sum(
        1
        for o in objects
        if o["data_row_id"] in rows
        and (
            (o["source"] == "label" and o["status"] in ("TP", "FN"))
            or (o["source"] == "prediction" and o["status"] == "FP" and o["matched_id"] is None)
        )
    )
    assert sum(c["count"] for c in cells.values()) == counted


def test_confusion_filter_json_round_trip_and_errors(voc: es.Workspace) -> None:
    f = parse_filter({"type": "confusion", "gt_class": "person", "pred_class": None})
    assert f == Confusion("person", None)
    with pytest.raises(InvalidQueryError, match="gt_class"):
        parse_filter({"type": "confusion", "pred_class": None})
    with pytest.raises(InvalidQueryError, match="pred_class"):
        parse_filter({"type": "confusion", "gt_class": "a", "pred_class": 3})
    # unknown classes and injection attempts are data, matching nothing
    evil = "x'; DROP TABLE labels; --"
    assert voc.aggregate("det", Confusion(evil, evil))["rows"] == 0
    assert voc.query("det", Confusion(evil, None)).total == 0
    assert voc.aggregate("det", Split(("nope",)))["confusion"]["cells"] == []


def test_rest_aggregate(tmp_path: Path) -> None:
    path = tmp_path / "rest"
    person = {"type": "class", "side": "label", "class_name": "person"}
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det", mode="labelbox")
        expected = ws.aggregate("det", person)
        everything = ws.aggregate("det")
    client = Client(create_app(path))
    try:
        got = client.get(
            "/api/runs/det/aggregate", params={"filter": orjson.dumps(person).decode()}
        )
        assert got.status_code == 200
        assert got.json() == expected
        assert client.get("/api/runs/det/aggregate").json() == everything
        assert everything["rows"] > expected["rows"] > 0
        bad = client.get("/api/runs/det/aggregate", params={"filter": '{"type": "confusion"}'})
        assert bad.status_code == 400
        assert "missing field" in bad.text
        assert client.get("/api/runs/det/aggregate", params={"filter": "{'"}).status_code == 400
        assert client.get("/api/runs/nope/aggregate").status_code == 404
    finally:
        client.close()


@pytest.mark.parametrize("metric", ["iou", "fp"])
def test_histogram_bins_click_through(voc: es.Workspace, metric: str) -> None:
    base = {"type": "split", "values": ["unassigned", "all", "train", "valid", "test"]}
    hist = voc.histogram("det", metric, base)
    assert len(hist["bins"]) == 20
    values = {
        r["data_row_id"]: r[metric] for r in voc.evaluation_results("det", "rows").to_pylist()
    }
    rows = _all_ids(voc, "det", base)
    if metric == "fp":
        values = {i: values.get(i, 0) for i in rows}
    present = {i: v for i, v in values.items() if i in rows and v is not None}
    assert len(present) > 10
    assert sum(b["count"] for b in hist["bins"]) == len(present)
    assert sum(b["count"] > 0 for b in hist["bins"]) > 1
    for i, b in enumerate(hist["bins"]):
        last = i == len(hist["bins"]) - 1
        want = {
            r
            for r, v in present.items()
            if b["lo"] <= v and (v <= b["hi"] if last else v < b["hi"])
        }
        assert b["count"] == len(want)
        assert _all_ids(voc, "det", b["filter"]) == want
    with pytest.raises(InvalidQueryError, match="metric"):
        voc.histogram("det", "nope")
