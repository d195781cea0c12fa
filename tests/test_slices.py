"""Slices on the real voc100 detections: saved slices are dynamic (rows imported after a
slice was saved are in it when they match), ready-made slices equal independent
computations from the stored results, and CRUD works through the SDK, CLI and HTTP."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import errorscope as es
from errorscope.cli import cli
from errorscope.core.query import (
    READY_MADE,
    And,
    ClassPresent,
    RowMetric,
    SliceMember,
    Split,
    expand_slices,
)
from errorscope.core.queryparse import filter_to_json, parse_filter
from errorscope.errors import ConflictError, InvalidQueryError, NotFoundError
from errorscope.server import create_app
from errorscope.store import catalog
from errorscope.store.rowscores import read_row_scores
from tests.conftest import load_voc100, shared_path
from tests.test_server import Client, assert_error, ok

pytestmark = pytest.mark.shared_data

ALL = 10_000
PERSON_LOW_IOU = RowMetric("iou", hi=0.5, hi_inclusive=False, class_name="person")


@pytest.fixture(scope="module")
def voc_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("slices") / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det", mode="labelbox")
    return path


@pytest.fixture
def voc(voc_path: Path) -> Iterator[es.Workspace]:
    with es.open_workspace(voc_path) as ws:
        yield ws
        for s in ws.slices():
            ws.delete_slice(s.name)


def person_low_iou_rows(ws: es.Workspace) -> set[int]:
    """Rows whose counted person objects have IoU < 0.5 (iou_sum over TP+FP+FN), from the
    per-object results."""
    cid = next(c.id for c in ws.classes() if c.name == "person")
    acc: dict[int, list[float]] = defaultdict(lambda: [0.0, 0])
    for o in ws.evaluation_results("det", "objects").to_pylist():
        if o["class_id"] != cid or o["status"] not in ("TP", "FP", "FN"):
            continue
        if (o["source"], o["status"]) in (("label", "TP"), ("label", "FN"), ("prediction", "FP")):
            a = acc[o["data_row_id"]]
            a[1] += 1
            if o["status"] == "TP":
                a[0] += o["iou"]
    return {r for r, (s, n) in acc.items() if s / n < 0.5}


def ids(ws: es.Workspace, f: Any, **kw: Any) -> list[int]:
    return [r.id for r in ws.query("det", f, limit=ALL, **kw).rows]


# -- dynamic saved slices -------------------------------------------------------------------
def test_slice_saved_before_import_includes_new_matching_rows(tmp_path: Path) -> None:
    voc = shared_path("voc100")
    with es.open_workspace(tmp_path / "ws") as ws:
        load_voc100(ws)
        ws.evaluate("det", mode="labelbox")
        ws.save_slice("person_low_iou", PERSON_LOW_IOU, description="person IoU < 0.5")
        before = set(ids(ws, SliceMember("person_low_iou")))
        assert before == person_low_iou_rows(ws)
        assert before

        # 10 more rows: copies of 10 annotations under new file names (no predictions)
        extra = tmp_path / "extra"
        extra.mkdir()
        sources = sorted((voc / "gts" / "pascalvoc_format").glob("*.xml"))[:10]
        for src in sources:
            text = src.read_text()
            text = re.sub(r"<filename>([^<]+)</filename>", r"<filename>new_\1</filename>", text)
            (extra / f"new_{src.name}").write_text(text)
        ws.import_voc(extra)
        ws.evaluate("det", mode="labelbox")

        keys = {r["id"]: r["global_key"] for r in ws.data_rows().to_pylist()}
        new = {i for i, k in keys.items() if k.startswith("new_")}
        assert len(new) == 10
        with_person = {
            r["data_row_id"]
            for r in ws.labels().to_pylist()
            if r["class_name"] == "person" and not r["difficult"]
        }
        after = set(ids(ws, SliceMember("person_low_iou")))
        assert after == person_low_iou_rows(ws)
        assert new & with_person  # some copies hold people, all of them unmatched ...
        assert new & with_person <= after  # ... so the slice now holds them
        assert after - new == before


# -- ready-made slices ----------------------------------------------------------------------
def test_ready_made_slices_equal_independent_computations(voc: es.Workspace) -> None:
    rows = voc.evaluation_results("det", "rows").to_pylist()

    def where(pred: Any) -> list[int]:
        return sorted(r["data_row_id"] for r in rows if pred(r))

    def low(name: str) -> Any:
        return lambda r: r[name] is not None and r[name] < 0.5

    expected = {
        "true_positives": where(lambda r: r["tp"] >= 1),
        "false_positives": where(lambda r: r["fp"] >= 1),
        "false_negatives": where(lambda r: r["fn"] >= 1),
        "low_precision": where(low("precision")),
        "low_recall": where(low("recall")),
        "low_f1": where(low("f1")),
        "low_confidence": where(low("mean_confidence")),
    }
    assert set(expected) | {"candidate_mislabels"} == set(READY_MADE)
    for name, want in expected.items():
        assert want or name == "low_confidence", name  # voc100 has no mean < 0.5
        assert ids(voc, SliceMember(name)) == want, name
    # candidate mislabels: rows with FPs or a label-mistake score >= 0.5 (the scores the
    # evaluation stored), the likeliest label mistake first, rows without a score last
    run_id = catalog.get_run(voc.db, "det").id
    scored_ids, scores = read_row_scores(voc.db, run_id, "mislabel")
    score = dict(zip(scored_ids.tolist(), scores.tolist(), strict=True))
    assert score
    assert all(0 <= v <= 1 for v in score.values())
    want = set(expected["false_positives"]) | {r for r, v in score.items() if v >= 0.5}
    order = sorted(want, key=lambda r: (r not in score, -score.get(r, 0.0), r))
    page = voc.query("det", SliceMember("candidate_mislabels"), limit=ALL)
    assert [r.id for r in page.rows] == order
    assert [r.sort_value for r in page.rows] == [score.get(r) for r in order]
    assert order != sorted(order)  # the order is not trivially by id
    # combinable like any filter
    both = ids(voc, And((SliceMember("false_positives"), SliceMember("false_negatives"))))
    assert both == sorted(set(expected["false_positives"]) & set(expected["false_negatives"]))


# -- errors ---------------------------------------------------------------------------------
def test_recursive_and_unknown_slices_are_invalid_queries(voc: es.Workspace) -> None:
    with pytest.raises(InvalidQueryError, match="unknown slice 'nope'"):
        voc.query("det", SliceMember("nope"))
    with pytest.raises(InvalidQueryError, match="unknown slice 'nope'"):
        voc.save_slice("a", SliceMember("nope"))
    with pytest.raises(InvalidQueryError, match="refers to itself"):
        voc.save_slice("self", And((Split(("all",)), SliceMember("self"))))
    voc.save_slice("b", RowMetric("fp", 1))
    voc.save_slice("a", SliceMember("b"))
    voc.delete_slice("b")
    with pytest.raises(InvalidQueryError, match="refers to itself: b -> a -> b"):
        voc.save_slice("b", SliceMember("a"))
    assert [s.name for s in voc.slices()] == ["a"]
    with pytest.raises(InvalidQueryError, match="unknown slice 'b'"):
        voc.query("det", SliceMember("a"))  # a's slice was deleted
    # indirect cycles that reach the store anyway are caught at query time
    table = {"x": SliceMember("y"), "y": And((SliceMember("z"),)), "z": SliceMember("x")}
    with pytest.raises(InvalidQueryError, match="x -> y -> z -> x"):
        expand_slices(SliceMember("x"), table.get)
    with pytest.raises(InvalidQueryError, match=r"filter\.name"):
        parse_filter({"type": "slice", "name": 3})
    with pytest.raises(InvalidQueryError, match="unknown field"):
        parse_filter({"type": "slice", "name": "a", "x": 1})


def test_sdk_crud(voc: es.Workspace) -> None:
    f = And((ClassPresent("label", "person"), PERSON_LOW_IOU))
    saved = voc.save_slice("people", filter_to_json(f), description="hard people", run="det")
    assert saved.filter == f
    assert voc.get_slice("people") == saved
    assert saved.to_json()["filter"] == filter_to_json(f)
    with pytest.raises(ConflictError):
        voc.save_slice("people", f)
    with pytest.raises(ConflictError):
        voc.save_slice("false_positives", f)
    with pytest.raises(NotFoundError):
        voc.save_slice("other", f, run="no-such-run")
    assert [s.name for s in voc.slices()] == ["people"]
    assert [s.name for s in voc.slices(ready_made=True)] == [*READY_MADE, "people"]
    assert ids(voc, SliceMember("people")) == ids(voc, f)
    assert ids(voc, {"type": "slice", "name": "people"}) == ids(voc, f)
    voc.delete_slice("people")
    with pytest.raises(NotFoundError):
        voc.get_slice("people")
    with pytest.raises(NotFoundError):
        voc.delete_slice("people")
    with pytest.raises(InvalidQueryError):
        voc.delete_slice("low_f1")
    assert voc.get_slice("low_f1").ready_made


def test_cli_crud_and_rows_slice(voc_path: Path) -> None:
    runner = CliRunner()
    w = ["-w", str(voc_path)]
    res = runner.invoke(
        cli,
        ["slice", "save", *w, "people", "--class", "person", "--where", "person.iou<0.5"],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["slice", "save", *w, "people", "--where", "fp>=1"])
    assert res.exit_code != 0
    assert isinstance(res.exception, ConflictError)
    res = runner.invoke(cli, ["slice", "list", *w, "--json"])
    listed = json.loads(res.output)["slices"]
    assert [s["name"] for s in listed] == ["people"]
    res = runner.invoke(cli, ["rows", *w, "--run", "det", "--slice", "people", "--json"])
    assert res.exit_code == 0, res.output
    got = [r["id"] for r in json.loads(res.output)["rows"]]
    with es.open_workspace(voc_path) as ws:
        f = And((ClassPresent("label", "person"), PERSON_LOW_IOU))
        assert got == ids(ws, f)[:50]
    res = runner.invoke(cli, ["rows", *w, "--run", "det", "--slice", "candidate_mislabels"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["slice", "delete", *w, "people"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["slice", "list", *w])
    assert res.output == ""
    res = runner.invoke(cli, ["slice", "delete", *w, "people"])
    assert isinstance(res.exception, NotFoundError)


def test_http_crud(voc_path: Path) -> None:
    client = Client(create_app(voc_path))
    try:
        body = {
            "name": "people",
            "description": "hard people",
            "filter": filter_to_json(PERSON_LOW_IOU),
            "run": "det",
        }
        res = client.post("/api/slices", json=body)
        assert res.status_code == 201, res.text
        assert res.json() == {**body, "ready_made": False}
        assert_error(client.post("/api/slices", json=body), 409, "ConflictError")
        bad = {**body, "name": "x", "filter": {"type": "slice", "name": "x"}}
        assert_error(client.post("/api/slices", json=bad), 400, "InvalidQueryError")
        bad = {**body, "name": "y", "filter": {"type": "metric", "name": "nope"}}
        assert_error(client.post("/api/slices", json=bad), 400)
        assert_error(client.post("/api/slices", json={**body, "extra": 1}), 400)
        assert ok(client.get("/api/slices"))["slices"] == [{**body, "ready_made": False}]
        every = ok(client.get("/api/slices?ready_made=true"))["slices"]
        assert [s["name"] for s in every] == [*READY_MADE, "people"]
        assert ok(client.get("/api/slices/people"))["description"] == "hard people"
        rows = ok(client.post("/api/runs/det/rows", json={"filter": SLICE_PEOPLE, "limit": ALL}))
        with_filter = {"filter": body["filter"], "limit": ALL}
        assert rows == ok(client.post("/api/runs/det/rows", json=with_filter))
        deleted = client.loop.run_until_complete(client.http.delete("/api/slices/people"))
        assert ok(deleted) == {"deleted": "people"}
        assert_error(client.get("/api/slices/people"), 404, "NotFoundError")
        again = client.loop.run_until_complete(client.http.delete("/api/slices/people"))
        assert_error(again, 404, "NotFoundError")
        res = client.post("/api/runs/det/rows", json={"filter": SLICE_PEOPLE})
        assert_error(res, 400, "InvalidQueryError")
    finally:
        client.close()


SLICE_PEOPLE = {"type": "slice", "name": "people"}
