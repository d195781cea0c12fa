"""The in-memory row index (core.rowindex, store.queryindex) against the SQL engine
(store.query.run_query / filter_row_ids) and independent computations, on the real voc100
detections; the object-level, dataset, enum and custom-metric filters; sorts by
metadata and custom metrics; per-class bars and histograms; their REST and CLI faces."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from click.testing import CliRunner

import errorscope as es
from errorscope.cli import cli
from errorscope.core.query import (
    CLASS_METRICS,
    ROW_METRICS,
    And,
    ClassPresent,
    Confusion,
    CustomMetric,
    Dataset,
    Filter,
    Ids,
    Metadata,
    Not,
    ObjectMatch,
    Or,
    RowMetric,
    Split,
    TextContains,
)
from errorscope.core.queryparse import parse_filter, parse_sort
from errorscope.server import create_app
from errorscope.store.query import filter_row_ids, run_query
from errorscope.store.queryindex import index_query
from tests.conftest import load_voc100
from tests.test_server import Client, assert_error

ALL = 10_000


@pytest.fixture(scope="module")
def voc_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """voc100 with the detector evaluated (COCO matching) and a seeded split."""
    path = tmp_path_factory.mktemp("rowindex") / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det")
        ws.assign_splits("det", ratios=(0.6, 0.2, 0.2), seed=5)
    return path


@pytest.fixture
def voc(voc_path: Path) -> Iterator[es.Workspace]:
    with es.open_workspace(voc_path) as ws:
        yield ws


def _leaves(ws: es.Workspace, rng: random.Random) -> list[Filter]:
    classes = [*sorted({a["class_name"] for a in ws.labels().to_pylist()}), "no-such-class"]
    cells = [(c["gt_class"], c["pred_class"]) for c in ws.confusion("det")["cells"]] + [
        ("person", "no-such-class")
    ]
    row_ids = [r["id"] for r in ws.data_rows().to_pylist()]
    out: list[Filter] = [
        Split(("train",)),
        Split(("valid", "test")),
        Split(("unassigned",)),
        ClassPresent("label", None),
        ClassPresent("prediction", None, present=False),
        Dataset(("default",)),
        Dataset(("nope",)),
        TextContains("x"),
        Ids((*tuple(rng.sample(row_ids, 30)), -5)),
    ]
    for c in classes:
        out += [ClassPresent("label", c), ClassPresent("prediction", c, present=False)]
    for m in ROW_METRICS:
        a, b = sorted(rng.uniform(0, 1.2) for _ in range(2))
        out += [RowMetric(m, a, b), RowMetric(m, None, b, hi_inclusive=False)]
        if m in CLASS_METRICS:
            out += [
                RowMetric(m, 1, None, rng.choice(classes)),
                RowMetric(m, a, b, rng.choice(classes), lo_inclusive=False),
            ]
    out += [Confusion(g, p) for g, p in cells]
    for status in ("TP", "FP", "FN", "ignored", None):
        out.append(
            ObjectMatch(
                rng.choice(["label", "prediction"]),
                rng.choice([*classes, None]),
                status,
                rng.choice([None, "localization", "classification", "background", "missed"]),
                rng.choice([None, 0.3, 0.8]),
                rng.choice([None, 0.9]),
                rng.choice([None, 0.1, 0.5]),
                None,
            )
        )
    return out


def _random_filter(leaves: list[Filter], rng: random.Random, depth: int = 0) -> Filter:
    roll = rng.random()
    if depth >= 3 or roll < 0.4:
        return rng.choice(leaves)
    if roll < 0.55:
        return Not(_random_filter(leaves, rng, depth + 1))
    parts = tuple(_random_filter(leaves, rng, depth + 1) for _ in range(rng.randint(0, 3)))
    return And(parts) if roll < 0.8 else Or(parts)


@pytest.mark.shared_data
def test_index_selects_the_rows_sql_selects(voc: es.Workspace) -> None:
    rng = random.Random(11)
    leaves = _leaves(voc, rng)
    run_id = voc.run("det").id
    sizes = set()
    for f in [*leaves, *(_random_filter(leaves, rng) for _ in range(150))]:
        want = filter_row_ids(voc.db, run_id, f)
        got = index_query(voc.db, run_id, f, parse_sort("id"), limit=ALL)
        assert [r[0] for r in got.rows] == want, f
        assert got.total == len(want)
        sizes.add(len(want))
    assert len(sizes) > 20  # the filters select many different sets, not all or nothing


SORTS = [
    "id",
    "iou:asc",
    "f1:desc",
    "fp:desc",
    "tp:asc",
    "person.iou:asc",
    "car.recall:desc",
    "max_fp_confidence:desc",
    "mean_confidence:asc",
    "mislabel_score:desc",
]


@pytest.mark.shared_data
@pytest.mark.parametrize("sort", SORTS)
def test_index_pages_equal_sql_pages(voc: es.Workspace, sort: str) -> None:
    run_id = voc.run("det").id
    order = parse_sort(sort)
    for f in [None, Split(("train",)), Not(ClassPresent("label", "person"))]:
        pages: list[list[Any]] = [[], []]
        for i, engine in enumerate((run_query, index_query)):
            cursor = None
            while True:
                page = engine(voc.db, run_id, f, order, limit=7, cursor=cursor)
                pages[i] += page.rows
                cursor = page.next_cursor
                if cursor is None:
                    break
        sql, idx = pages
        assert [r[0] for r in idx] == [r[0] for r in sql], (sort, f)
        assert [r[2] for r in idx] == pytest.approx([r[2] for r in sql]), (sort, f)
        assert len(idx) == len({r[0] for r in idx})


@pytest.mark.shared_data
def test_object_conditions_equal_independent(voc: es.Workspace) -> None:
    objects = voc.evaluation_results("det", "objects").to_pylist()
    name = {c.id: c.name for c in voc.classes()}

    def rows(pred: Any) -> list[int]:
        return sorted({o["data_row_id"] for o in objects if pred(o)})

    def query(f: Filter) -> list[int]:
        return sorted(r.id for r in voc.query("det", f, limit=ALL).rows)

    confident_fp = ObjectMatch("prediction", status="FP", min_confidence=0.8)
    want = rows(lambda o: o["source"] == "prediction" and o["status"] == "FP"
                and o["confidence"] >= 0.8)  # fmt: skip
    assert want
    assert query(confident_fp) == want
    person_fp = parse_filter(
        {"type": "object", "side": "prediction", "class_name": "person", "status": "FP",
         "min_confidence": 0.5}
    )  # fmt: skip
    want = rows(lambda o: o["source"] == "prediction" and o["status"] == "FP"
                and name[o["class_id"]] == "person" and o["confidence"] >= 0.5)  # fmt: skip
    assert want
    assert query(person_fp) == want
    errors = {o["error_type"] for o in objects if o["error_type"]}
    assert len(errors) >= 2
    for error in errors:
        assert query(ObjectMatch("prediction", error_type=error)) == rows(
            lambda o, e=error: o["source"] == "prediction" and o["error_type"] == e
        )
    band = ObjectMatch("prediction", min_confidence=0.3, max_confidence=0.5)
    want = rows(lambda o: o["source"] == "prediction" and 0.3 <= o["confidence"] <= 0.5)
    assert want
    assert query(band) == want


@pytest.mark.shared_data
def test_class_metric_bars_sum_to_the_stored_evaluation(voc: es.Workspace) -> None:
    stored = {c["name"]: c for c in voc.evaluation_results("det", "classes").to_pylist()}
    bars = voc.class_metrics("det")["classes"]
    assert {b["class_name"] for b in bars} <= set(stored)
    for b in bars:
        s = stored[b["class_name"]]
        assert (b["tp"], b["fp"], b["fn"]) == (s["tp"], s["fp"], s["fn"])
        for k in ("precision", "recall", "f1"):
            assert b[k] == pytest.approx(s[k], abs=1e-12), (b["class_name"], k)
        got = {r.id for r in voc.query("det", parse_filter(b["filter"]), limit=ALL).rows}
        assert len(got) == b["rows"]
    # under a filter: independent sums of the per-object results
    split = voc.query("det", Split(("train",)), limit=ALL)
    train = {r.id for r in split.rows}
    per: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    name = {c.id: c.name for c in voc.classes()}
    for o in voc.evaluation_results("det", "objects").to_pylist():
        if o["data_row_id"] not in train:
            continue
        key = (o["source"], o["status"])
        slot = {("label", "TP"): 0, ("prediction", "FP"): 1, ("label", "FN"): 2}.get(key)
        if slot is not None:
            per[name[o["class_id"]]][slot] += 1
    bars = voc.class_metrics("det", Split(("train",)))["classes"]
    assert {b["class_name"]: [b["tp"], b["fp"], b["fn"]] for b in bars} == {
        k: v for k, v in per.items() if any(v)
    }


@pytest.mark.shared_data
@pytest.mark.parametrize(("metric", "class_name"), [("iou", "person"), ("fp", "car")])
def test_per_class_histogram_bins_click_through(
    voc: es.Workspace, metric: str, class_name: str
) -> None:
    base = Split(("train", "valid"))
    hist = voc.histogram("det", metric, base, class_name=class_name)
    assert len(hist["bins"]) == 20
    seen: set[int] = set()
    for b in hist["bins"]:
        got = {r.id for r in voc.query("det", parse_filter(b["filter"]), limit=ALL).rows}
        assert len(got) == b["count"]
        assert not got & seen
        seen |= got
    want = {
        r.id
        for r in voc.query("det", And((base, RowMetric(metric, class_name=class_name))),
                           limit=ALL).rows
    }  # fmt: skip
    assert seen == want
    assert len(want) > 10


def test_dataset_enum_custom_metric_filters_and_sorts(ws: es.Workspace, tmp_path: Path) -> None:
    texts = {f"t{i}": f"text number {i}" for i in range(6)}
    weather = ["sun", "rain", "snow", "sun", "fog", "rain"]
    rows = [
        {
            "row_data": t,
            "global_key": k,
            "media_type": "text",
            "metadata_fields": [
                {"name": "weather", "value": weather[i], "type": "enum"},
                {"name": "n", "value": 10 - i, "type": "number"},
            ],
        }
        for i, (k, t) in enumerate(texts.items())
    ]
    path = tmp_path / "rows.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ws.import_data_rows(path)
    ws.add_class("sentiment", "radio", ["pos", "neg"])
    ws.add_labels(
        [{"row_key": k, "class_name": "sentiment", "kind": "radio", "answers": ["pos"]}
         for k in texts]
    )  # fmt: skip
    blur = {"t0": [0.5, 0.7], "t1": [0.1], "t3": [0.9], "t4": [0.2]}
    entries = [(k, v) for k, vs in blur.items() for v in vs]
    ws.add_predictions(
        "clf",
        pa.table(
            {
                "row_key": [k for k, _ in entries],
                "class_name": ["sentiment"] * len(entries),
                "kind": ["radio"] * len(entries),
                "answers": [["pos"]] * len(entries),
                "confidence": [0.9] * len(entries),
                "custom_metrics": pa.array(
                    [[("blur", v)] for _, v in entries], pa.map_(pa.string(), pa.float64())
                ),
            }
        ),
    )
    key = {r["id"]: r["global_key"] for r in ws.data_rows().to_pylist()}

    def keys(f: Any = None, sort: str | None = None) -> list[str]:
        return [key[r.id] for r in ws.query("clf", f, sort=sort, limit=ALL).rows]

    assert keys(Metadata("weather", any_of=("rain", "fog"))) == ["t1", "t4", "t5"]
    assert keys(parse_filter({"type": "metadata", "name": "weather", "any_of": []})) == []
    assert keys(Dataset(("default",))) == list(texts)
    assert keys(Dataset(("other",))) == []
    assert keys(CustomMetric("blur", 0.55, None)) == ["t0", "t3"]  # t0's mean is 0.6
    assert keys(CustomMetric("blur", None, 0.15)) == ["t1"]
    assert keys(Or((CustomMetric("nope"), Dataset(("x",))))) == []
    # sorts: text metadata by value, numbers, custom metrics (rows without one last)
    assert keys(sort="meta(weather):asc") == ["t4", "t1", "t5", "t2", "t0", "t3"]
    assert keys(sort="meta(weather):desc") == ["t0", "t3", "t2", "t1", "t5", "t4"]
    assert keys(sort="meta(n):asc") == ["t5", "t4", "t3", "t2", "t1", "t0"]
    assert keys(sort="custom(blur):desc") == ["t3", "t0", "t4", "t1", "t2", "t5"]
    page = ws.query("clf", sort="custom(blur):asc", limit=ALL)
    assert [r.sort_value for r in page.rows][:4] == pytest.approx([0.1, 0.2, 0.6, 0.9])
    # keyset pages across text keys
    seen: list[str] = []
    cursor = None
    while True:
        page = ws.query("clf", sort="meta(weather):desc", limit=4, cursor=cursor)
        seen += [key[r.id] for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == keys(sort="meta(weather):desc")
    with pytest.raises(es.InvalidQueryError, match="no such metadata field"):
        ws.query("clf", sort="meta(nope)")


@pytest.mark.shared_data
def test_index_follows_new_data(voc: es.Workspace) -> None:
    before = voc.query("det", ClassPresent("label", "person")).total
    person_row = next(r.id for r in voc.query("det", ClassPresent("label", "person", False)).rows)
    voc.add_labels(
        [{"row_id": person_row, "class_name": "person", "kind": "bbox",
          "x1": 1, "y1": 1, "x2": 5, "y2": 5}]
    )  # fmt: skip
    assert voc.query("det", ClassPresent("label", "person")).total == before + 1
    # a slice saved now changes no data: the index is kept (same object)
    index_key = ("row-index", voc.run("det").id)
    built = voc.db.derived[index_key]
    voc.save_slice("keep", ClassPresent("label", "dog"))
    voc.query("det", Split(("train",)))
    assert voc.db.derived[index_key] is built


@pytest.mark.shared_data
def test_rest_breakdowns(voc_path: Path) -> None:
    client = Client(create_app(voc_path))
    try:
        f = orjson.dumps({"type": "split", "values": ["train"]}).decode()
        classes = client.get("/api/runs/det/classes", params={"filter": f}).json()
        assert classes["rows"] > 0
        assert classes["labels"]
        assert classes["metrics"]
        cm = client.get("/api/runs/det/confusion", params={"filter": f}).json()
        assert cm["evaluated"]
        assert cm["cells"]
        assert cm["rows"] == classes["rows"]
        params = {"metric": "iou", "class_name": "person"}
        hist = client.get("/api/runs/det/histogram", params=params).json()
        assert len(hist["bins"]) == 20
        assert hist["class_name"] == "person"
        assert "unknown metric" in assert_error(
            client.get("/api/runs/det/histogram", params={"metric": "nope"}),
            400,
            "InvalidQueryError",
        )
        # the label-mistake score is a row metric with no per-class value
        hist = client.get("/api/runs/det/histogram", params={"metric": "mislabel_score"}).json()
        assert sum(b["count"] for b in hist["bins"]) > 0
        params = {"metric": "mislabel_score", "class_name": "person"}
        assert "no per-class value" in assert_error(
            client.get("/api/runs/det/histogram", params=params), 400, "InvalidQueryError"
        )
        bad = {"type": "metric", "name": "mislabel_score", "class_name": "person"}
        assert "no per-class value" in assert_error(
            client.post("/api/runs/det/rows", json={"filter": bad}),
            400,
            "InvalidQueryError",
        )
    finally:
        client.close()


@pytest.mark.shared_data
def test_cli_aggregate_and_rows_filter(voc_path: Path) -> None:
    runner = CliRunner()
    base = ["-w", str(voc_path), "--run", "det"]
    out = runner.invoke(cli, ["aggregate", *base, "--view", "confusion", "--json"])
    assert out.exit_code == 0, out.output
    cells = json.loads(out.output)["cells"]
    cell = max(cells, key=lambda c: c["rows"])
    rows = runner.invoke(
        cli, ["rows", *base, "--filter", json.dumps(cell["filter"]), "--limit", "10000", "--json"]
    )
    assert rows.exit_code == 0, rows.output
    assert len(json.loads(rows.output)["rows"]) == cell["rows"]
    hist = runner.invoke(
        cli, ["aggregate", *base, "--view", "histogram", "--metric", "iou", "--of-class", "person"]
    )
    assert hist.exit_code == 0
    assert len(hist.output.strip().splitlines()) == 21
    metrics = runner.invoke(cli, ["aggregate", *base, "--view", "metrics", "--split", "train"])
    assert metrics.exit_code == 0
    assert "person" in metrics.output
    bad = runner.invoke(cli, ["rows", *base, "--filter", "{nope"])
    assert bad.exit_code != 0
    assert isinstance(bad.exception, es.InvalidQueryError)
    assert "malformed JSON" in str(bad.exception)


@pytest.mark.shared_data
def test_injection_in_the_new_string_parameters_is_a_plain_value(voc: es.Workspace) -> None:
    from tests.test_query import INJECTIONS, everything

    before = everything(voc)
    for bad in INJECTIONS:
        nothing: list[Filter] = [
            ObjectMatch("prediction", class_name=bad),
            ObjectMatch("label", error_type=bad),
            Dataset((bad,)),
            CustomMetric(bad, 0, 1),
            Metadata(bad, any_of=(bad,)),
            Metadata("camera", any_of=("x", bad)),
        ]
        for f in nothing:
            assert voc.query("det", f).total == 0, f
        with pytest.raises(es.InvalidQueryError):
            parse_filter({"type": "object", "side": "prediction", "status": bad})
        with pytest.raises(es.InvalidQueryError, match="no such metadata field"):
            voc.query("det", sort=f"meta({json.dumps(bad)})")
        page = voc.query("det", sort=f"custom({json.dumps(bad)}):desc", limit=ALL)
        assert page.total == 100
        assert {r.sort_value for r in page.rows} == {None}
        assert voc.histogram("det", "iou", class_name=bad)["bins"] == []
    assert everything(voc) == before


@pytest.mark.parametrize("seed", range(6))
def test_class_table_grouped_equals_brute_force_on_every_path(seed: int) -> None:
    """ClassTable.grouped answers few rows entry by entry, most rows by bitmaps (dense
    groups by popcounts of bit planes, a float column by a sparse product, sparse groups
    entry by entry) and all rows from cached totals: every path equals a plain sum."""
    from errorscope.core.rowindex import ClassTable

    rng = np.random.default_rng(seed)
    n_rows = int(rng.integers(1, 3000))
    # group sizes from one row to every row, so that some groups get bitmaps and some not
    pairs = {
        (int(g), int(r))
        for g in range(12)
        for r in rng.choice(n_rows, size=int(rng.integers(1, n_rows + 1)), replace=False)[
            : int(rng.choice([1, 3, n_rows // 40 + 1, n_rows // 3 + 1, n_rows]))
        ]
    }
    table_rows = sorted(pairs)
    group = np.array([g * 7 + 3 for g, _ in table_rows], np.int64)  # arbitrary group codes
    row = np.array([r for _, r in table_rows], np.int32)
    values = {
        "count": rng.integers(0, 300, len(row)).astype(np.float64),
        "flag": rng.integers(0, 2, len(row)).astype(np.float64),
        "score": rng.random(len(row)),
    }
    table = ClassTable(row, group, values, n_rows)
    for density in (0.0, 0.005, 0.3, 0.9, 1.0):
        mask = rng.random(n_rows) < density
        codes, rows, sums = table.grouped(mask, ("count", "flag", "score"))
        hit = mask[row]
        want_codes = np.unique(group[hit])
        assert codes.tolist() == want_codes.tolist()
        for i, code in enumerate(want_codes):
            sel = hit & (group == code)
            assert rows[i] == sel.sum()
            assert sums["count"][i] == values["count"][sel].sum()
            assert sums["flag"][i] == values["flag"][sel].sum()
            assert sums["score"][i] == pytest.approx(values["score"][sel].sum(), abs=1e-9)
