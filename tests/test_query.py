"""Workspace.query and ``errorscope rows`` on the real voc100 detections, checked against
independent computations from the stored evaluation tables."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import errorscope as es
from errorscope.cli import cli
from errorscope.core.query import (
    And,
    ClassPresent,
    Ids,
    Metadata,
    Not,
    Or,
    RowMetric,
    Sort,
    Split,
    TextContains,
)
from errorscope.core.queryparse import filter_to_json, parse_expression, parse_filter, parse_sort
from errorscope.sdk.query import QueryPage
from tests.conftest import load_voc100, snapshot

pytestmark = pytest.mark.shared_data

ALL = 10_000


@pytest.fixture(scope="module")
def voc_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """voc100 with the detector evaluated (Labelbox matching) and a seeded split."""
    path = tmp_path_factory.mktemp("query") / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det", mode="labelbox")
        ws.assign_splits("det", ratios=(0.6, 0.2, 0.2), seed=3)
    return path


@pytest.fixture
def voc(voc_path: Path) -> Iterator[es.Workspace]:
    with es.open_workspace(voc_path) as ws:
        yield ws


def everything(ws: es.Workspace) -> dict[str, object]:
    """The inputs and the stored evaluation: a query must change none of it."""
    out = snapshot(ws)
    for t in ("eval_runs", "eval_objects", "eval_row_metrics", "eval_class_metrics", "meta"):
        out[t] = ws.db.rows(f"SELECT * FROM {t} ORDER BY ALL")
    return out


def ids(page: QueryPage) -> list[int]:
    return [r.id for r in page.rows]


def per_class_in_row(ws: es.Workspace, class_name: str) -> dict[int, dict[str, float]]:
    """tp/fp/fn and IoU of one class per data row, from the per-object results (the
    definition of errorscope.core.metrics, recomputed here)."""
    cid = next(c.id for c in ws.classes() if c.name == class_name)
    acc: dict[int, dict[str, float]] = defaultdict(
        lambda: {"tp": 0, "fp": 0, "fn": 0, "iou_sum": 0.0}
    )
    for o in ws.evaluation_results("det", "objects").to_pylist():
        if o["class_id"] != cid or o["status"] not in ("TP", "FP", "FN"):
            continue  # "ignored" objects are not counted
        a = acc[o["data_row_id"]]
        if o["source"] == "label" and o["status"] == "TP":
            a["tp"] += 1
            a["iou_sum"] += o["iou"]
        elif o["source"] == "label" and o["status"] == "FN":
            a["fn"] += 1
        elif o["source"] == "prediction" and o["status"] == "FP":
            a["fp"] += 1
    for a in acc.values():
        a["iou"] = a["iou_sum"] / (a["tp"] + a["fp"] + a["fn"])
    return dict(acc)


# -- the acceptance query ---------------------------------------------------------------------
def test_person_iou_below_half_sorted_equals_independent(voc: es.Workspace) -> None:
    person = per_class_in_row(voc, "person")
    with_person = {
        r["data_row_id"] for r in voc.labels().to_pylist() if r["class_name"] == "person"
    }
    expected = sorted(
        ((a["iou"], row) for row, a in person.items() if row in with_person and a["iou"] < 0.5),
        key=lambda t: (t[0], t[1]),
    )
    assert len(expected) > 10  # a real, non-trivial answer
    where = And(
        (
            Split(("train", "valid", "test", "unassigned")),  # split = all
            ClassPresent("label", "person"),
            RowMetric("iou", None, 0.5, class_name="person", hi_inclusive=False),
        )
    )
    page = voc.query("det", where, sort="person.iou:asc", limit=ALL)
    assert page.total == len(expected)
    assert page.next_cursor is None
    assert ids(page) == [row for _, row in expected]
    assert [r.sort_value for r in page.rows] == pytest.approx([v for v, _ in expected])
    keys = {r["id"]: r["global_key"] for r in voc.data_rows().to_pylist()}
    assert [r.global_key for r in page.rows] == [keys[row] for _, row in expected]
    # the same through JSON and through the expression parser
    again = voc.query("det", filter_to_json(where), sort=Sort("iou", class_name="person"))
    assert ids(again) == ids(page)[:50]
    expr = And((ClassPresent("label", "person"), parse_expression("person.iou<0.5")))
    assert ids(voc.query("det", expr, sort="person.iou:asc", limit=ALL)) == ids(page)


def test_row_metrics_match_stored_rows(voc: es.Workspace) -> None:
    stored = {r["data_row_id"]: r for r in voc.evaluation_results("det", "rows").to_pylist()}
    all_rows = [r["id"] for r in voc.data_rows().to_pylist()]

    def metric(row: int, name: str) -> Any:
        found = stored.get(row)
        if found is None:
            return 0 if name in ("tp", "fp", "fn") else None
        return found[name]

    # fp >= 1, by IoU descending, rows without an IoU last, ties by id
    want = [r for r in all_rows if metric(r, "fp") >= 1]
    have = [r for r in want if metric(r, "iou") is not None]
    want = sorted(have, key=lambda r: (-metric(r, "iou"), r)) + sorted(set(want) - set(have))
    page = voc.query("det", parse_expression("fp>=1"), sort="iou:desc", limit=ALL)
    assert ids(page) == want
    # precision in (0.2, 0.8], recall == 1
    where = And(
        (RowMetric("precision", 0.2, 0.8, lo_inclusive=False), parse_expression("recall=1"))
    )
    want = [
        r
        for r in all_rows
        if metric(r, "precision") is not None
        and 0.2 < metric(r, "precision") <= 0.8
        and metric(r, "recall") == 1
    ]
    assert want
    assert ids(voc.query("det", where, limit=ALL)) == sorted(want)


# -- pagination ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "sort",
    ["iou:asc", "iou:desc", "fp:desc", "tp:asc", "mean_confidence:desc", "id", "dog.f1:desc"],
)
def test_keyset_pages_equal_offset_slices(voc: es.Workspace, sort: str) -> None:
    full = voc.query("det", None, sort=sort, limit=ALL)
    assert full.total == len(full.rows) == 100
    assert len(set(ids(full))) == 100
    pages: list[int] = []
    cursor = None
    size = 7
    for k in range(100):
        page = voc.query("det", None, sort=sort, limit=size, cursor=cursor)
        assert page.total == 100
        assert ids(page) == ids(full)[k * size : (k + 1) * size]
        pages.extend(ids(page))
        cursor = page.next_cursor
        if cursor is None:
            break
    assert pages == ids(full)
    assert k == 100 // size  # 15 pages, the last one short and without a cursor


def test_cursor_of_a_filtered_deep_page(voc: es.Workspace) -> None:
    where = Not(ClassPresent("prediction", "person"))
    full = ids(voc.query("det", where, sort="recall:asc", limit=ALL))
    first = voc.query("det", where, sort="recall:asc", limit=20)
    second = voc.query("det", where, sort="recall:asc", limit=20, cursor=first.next_cursor)
    assert ids(second) == full[20:40]


# -- combinators ----------------------------------------------------------------------------------
def test_ids_not_or_and_split(voc: es.Workspace) -> None:
    labels = voc.labels().to_pylist()
    preds = voc.predictions("det").to_pylist()
    has_person = {r["data_row_id"] for r in labels if r["class_name"] == "person"}
    pred_dog = {r["data_row_id"] for r in preds if r["class_name"] == "dog"}
    all_rows = {r["id"] for r in voc.data_rows().to_pylist()}
    split_of = {
        int(r): s
        for s in ("train", "valid", "test")
        for (r,) in voc.db.rows(
            "SELECT data_row_id FROM run_rows WHERE split = ? AND run_id = ?",
            [s, voc.run("det").id],
        )
    }
    picked = (3, 5, 8, 13, 21, 34, 55, 89, 144)  # 144 does not exist
    got = voc.query("det", And((Ids(picked), Not(ClassPresent("label", "person")))), limit=ALL)
    assert ids(got) == sorted(set(picked) & all_rows - has_person)
    either = Or((ClassPresent("prediction", "dog"), Split(("valid",))))
    want = pred_dog | {r for r, s in split_of.items() if s == "valid"}
    assert ids(voc.query("det", either, limit=ALL)) == sorted(want)
    both = Not(Or((ClassPresent("label", "person"), ClassPresent("prediction", "dog"))))
    assert ids(voc.query("det", both, limit=ALL)) == sorted(all_rows - has_person - pred_dog)
    # rows the model predicted nothing on are in the run's scope ("prediction is none")
    no_pred = all_rows - {r["data_row_id"] for r in preds}
    none = voc.query("det", ClassPresent("prediction", None, present=False), limit=ALL)
    assert ids(none) == sorted(no_pred)
    assert voc.query("det", ClassPresent("label", None, present=False)).total == len(
        all_rows - {r["data_row_id"] for r in labels}
    )
    assert voc.query("det", And(())).total == 100
    assert voc.query("det", Or(())).total == 0
    assert voc.query("det", TextContains("person")).total == 0  # images have no text
    assert voc.query("det", Metadata("camera", equals="x")).total == 0


def test_filter_json_round_trip() -> None:
    f = And(
        (
            Or((Split(("train",)), Ids((1, 2)))),
            Not(ClassPresent("prediction", None, present=False)),
            RowMetric("f1", 0.1, None, "dog", lo_inclusive=False),
            Metadata("camera", prefix="can"),
            TextContains("abc"),
        )
    )
    assert parse_filter(json.loads(json.dumps(filter_to_json(f)))) == f
    assert parse_sort("person.iou:desc") == Sort("iou", True, "person")
    assert parse_sort('"traffic light".f1') == Sort("f1", False, "traffic light")
    assert parse_expression("'traffic light'.fn >= 2") == RowMetric("fn", 2, None, "traffic light")


# -- bad queries --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"type": "nope"}, "filter.type: unknown filter type 'nope'"),
        ({"type": "metric", "name": "iou", "max": 1}, "filter.max: unknown field 'max'"),
        ({"type": "metric", "name": "accuracy"}, "filter.name: unknown metric 'accuracy'"),
        ({"type": "metric", "name": "iou", "lo": "0.5"}, "filter.lo: expected a number, got str"),
        ({"type": "metric", "name": "iou", "hi": True}, "filter.hi: expected a number, got bool"),
        ({"type": "split"}, "filter.values: missing field 'values'"),
        ({"type": "split", "values": "train"}, "filter.values: expected a list, got str"),
        ({"type": "ids", "ids": [1, "2"]}, "filter.ids[1]: expected an integer id, got str"),
        ({"type": "class", "side": "both", "class_name": "x"}, "filter.side: must be 'label'"),
        (
            {"type": "class", "side": "label", "class_name": "x", "present": "yes"},
            "filter.present: expected true or false, got str",
        ),
        (
            {"type": "and", "filters": [{"type": "not", "filter": 3}]},
            "filter.filters[0].filter: expected an object, got int",
        ),
        ({"type": "metadata", "name": "a", "equals": "x", "lo": 1}, "needs exactly one of"),
        ({"type": "metadata", "name": "a", "since": "yesterday"}, "expected an ISO 8601"),
        (["split"], "filter: expected an object, got list"),
    ],
)
def test_bad_filters_are_invalid_query_errors(voc: es.Workspace, obj: Any, message: str) -> None:
    before = everything(voc)
    with pytest.raises(es.InvalidQueryError) as info:
        voc.query("det", obj)
    assert message in str(info.value)
    assert everything(voc) == before


@pytest.mark.parametrize(
    "text",
    ["iou<", "iou<<0.5", "accuracy<0.5", "iou<0.5; DROP TABLE labels", "person.iou", "iou!=1",
     "iou < 0.5 --", "iou</* */0.5", "0.5>iou", "person.iou<0.5)", ""],
)  # fmt: skip
def test_malformed_expressions(text: str) -> None:
    with pytest.raises(es.InvalidQueryError, match="malformed expression"):
        parse_expression(text)


def test_bad_sorts_cursors_and_limits(voc: es.Workspace) -> None:
    for sort in ("iou:up", "accuracy:asc", "id:desc", "iou;--:asc", "a.b.iou"):
        with pytest.raises(es.InvalidQueryError):
            voc.query("det", sort=sort)
    page = voc.query("det", sort="iou:asc", limit=5)
    assert page.next_cursor is not None
    with pytest.raises(es.InvalidQueryError, match="belongs to sort 'iou:asc'"):
        voc.query("det", sort="f1:asc", cursor=page.next_cursor)
    for cursor in ("garbage", "' OR 1=1 --", page.next_cursor[:-3]):
        with pytest.raises(es.InvalidQueryError, match="cursor"):
            voc.query("det", sort="iou:asc", cursor=cursor)
    for limit in (0, -1, 10_001):
        with pytest.raises(es.InvalidQueryError, match="limit"):
            voc.query("det", limit=limit)
    with pytest.raises(es.NotFoundError):
        voc.query("nope")


# -- injection ------------------------------------------------------------------------------------
INJECTIONS = [
    "' OR 1=1 --",
    "person' OR '1'='1",
    "x'; DROP TABLE labels; --",
    '"; DELETE FROM data_rows; --',
    "person/* */",
    "*/ OR TRUE /*",
    "person--",
    "%",
    "_",
    "') OR TRUE; SELECT ('",
]


@pytest.mark.parametrize("bad", INJECTIONS)
def test_injection_in_every_string_parameter_is_a_plain_value(voc: es.Workspace, bad: str) -> None:
    before = everything(voc)
    nothing: list[Any] = [
        Split((bad,)),
        ClassPresent("label", bad),
        ClassPresent("prediction", bad),
        RowMetric("iou", 0, 1, class_name=bad),
        Metadata(bad, equals="x"),
        Metadata("camera", equals=bad),
        Metadata("camera", prefix=bad),
        TextContains(bad),
        {"type": "split", "values": [bad]},
        {"type": "class", "side": "label", "class_name": bad},
    ]
    for f in nothing:
        assert voc.query("det", f).total == 0, f
    # as a sort class: a valid sort on a class no row has, every value null
    quoted = bad.replace('"', "")
    page = voc.query("det", sort=Sort("iou", class_name=bad), limit=ALL)
    assert page.total == 100
    assert {r.sort_value for r in page.rows} == {None}
    assert ids(page) == sorted(ids(page))
    assert voc.query("det", sort=f'"{quoted}".iou:desc').total == 100
    # in an expression: quoted, it is a class name; bare, a malformed expression or
    # (when it reads as a word or a quoted name) a class name again
    assert voc.query("det", parse_expression(f'"{quoted}".iou<=1')).total == 0
    bare: RowMetric | None = None
    try:
        bare = parse_expression(f"{bad}.iou<1")
    except es.InvalidQueryError as exc:
        message = str(exc)
    if bare is None:
        assert message.startswith("malformed expression")
    else:
        assert bare.class_name is not None
        assert voc.query("det", bare).total == 0
    assert everything(voc) == before


# -- CLI ------------------------------------------------------------------------------------------
def test_cli_rows(voc_path: Path) -> None:
    with es.open_workspace(voc_path) as ws:
        want = voc_ws_rows = ids(
            ws.query(
                "det",
                And((ClassPresent("label", "person"), parse_expression("person.iou<0.5"))),
                sort="person.iou:asc",
                limit=ALL,
            )
        )
        before = everything(ws)
    runner = CliRunner()
    base = ["rows", "-w", str(voc_path), "--run", "det"]
    result = runner.invoke(
        cli,
        [*base, "--split", "all", "--class", "person", "--where", "person.iou<0.5",
         "--sort", "person.iou:asc", "--limit", "1000", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["id"] for r in data["rows"]] == want
    assert data["total"] == len(want)
    assert data["next_cursor"] is None
    # text: id, global key, sort value; pages through --cursor
    result = runner.invoke(cli, [*base, "--class", "person", "--where", "person.iou<0.5",
                                 "--sort", "person.iou:asc", "--limit", "5"])  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [int(line.split("\t")[0]) for line in lines] == voc_ws_rows[:5]
    assert all(line.split("\t")[1].endswith(".jpg") for line in lines)
    # several --where are all required; a split narrows
    result = runner.invoke(cli, [*base, "--where", "fp>=1", "--where", "tp>=2", "--json",
                                 "--split", "train", "--limit", "1000"])  # fmt: skip
    assert result.exit_code == 0, result.output
    with es.open_workspace(voc_path) as ws:
        where = And((Split(("train",)), parse_expression("fp>=1"), parse_expression("tp>=2")))
        assert [r["id"] for r in json.loads(result.stdout)["rows"]] == ids(
            ws.query("det", where, limit=ALL)
        )
    for args in (["--where", "iou<<1"], ["--sort", "iou:up"], ["--split", "' OR 1=1 --"],
                 ["--class", "x'; DROP TABLE labels; --"]):  # fmt: skip
        result = runner.invoke(cli, [*base, *args, "--json"])
        if args[0] in ("--split", "--class"):
            assert result.exit_code == 0, result.output
            assert json.loads(result.stdout)["total"] == 0
        else:
            assert result.exit_code != 0
            assert isinstance(result.exception, es.InvalidQueryError)
    with es.open_workspace(voc_path) as ws:
        assert everything(ws) == before


# -- metadata and text (no shared data needed) ----------------------------------------------------
def test_metadata_and_text_conditions(ws: es.Workspace, tmp_path: Path) -> None:
    texts = {"t1": "Alice met Bob.", "t2": "Bonjour Alice.", "t3": "Nothing here.", "t4": "Bob."}
    meta = {
        "t1": [{"name": "lang", "value": "en"}, {"name": "n", "value": 3, "type": "number"},
               {"name": "when", "value": "2024-01-02", "type": "datetime"}],
        "t2": [{"name": "lang", "value": "fr"}, {"name": "n", "value": 7, "type": "number"},
               {"name": "when", "value": "2024-03-04 05:06:07", "type": "datetime"}],
        "t3": [{"name": "lang", "value": "en-GB"}],
        "t4": [],
    }  # fmt: skip

    def write(name: str, records: list[dict[str, Any]]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return path

    ws.import_data_rows(
        write(
            "rows.ndjson",
            [
                {"row_data": t, "global_key": k, "media_type": "text", "metadata_fields": meta[k]}
                for k, t in texts.items()
            ],
        )
    )
    ws.import_jsonl(
        write("gt.jsonl", [{"global_key": k, "text": t, "label": "pos"} for k, t in texts.items()])
    )
    pred = [{"global_key": k, "text": texts[k], "label": "pos", "confidence": 0.9} for k in texts]
    preds = write("pred.jsonl", pred[:2])
    ws.import_jsonl(preds, run="clf")
    key = {r["id"]: r["global_key"] for r in ws.data_rows().to_pylist()}

    def keys(f: Any) -> list[str]:
        return [key[r.id] for r in ws.query("clf", f, limit=ALL).rows]

    assert keys(Metadata("lang", equals="en")) == ["t1"]
    assert keys(Metadata("lang", prefix="en")) == ["t1", "t3"]
    assert keys(Metadata("lang", prefix="EN")) == []
    assert keys(Metadata("n", lo=3, hi=6.5)) == ["t1"]
    assert keys(Metadata("n", lo=3)) == ["t1", "t2"]
    assert keys(parse_filter({"type": "metadata", "name": "when", "since": "2024-02-01"})) == ["t2"]
    assert keys(Metadata("when", until=datetime(2024, 1, 2))) == ["t1"]
    assert keys(TextContains("alice")) == ["t1", "t2"]
    assert keys(And((TextContains("bob"), Not(Metadata("lang", equals="en"))))) == ["t4"]
    assert keys(ClassPresent("prediction", None, present=False)) == ["t3", "t4"]
    assert keys(Not(Metadata("lang", prefix="en"))) == ["t2", "t4"]
