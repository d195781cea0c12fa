"""Batch file round trips on the real voc100 sample: Label Studio JSON, CVAT XML, COCO and
NDJSON exports re-import to equal annotations; pre-labels accepted by a labeler become
ground truth exactly on the batch's rows (old labels kept in history); malformed or
foreign files are refused naming file, location and field, and nothing changes."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import errorscope as es
from errorscope.errors import InvalidInputError
from errorscope.labeling.brush import decode_brush, encode_brush
from errorscope.labeling.lsformat import LsClass, control_name, label_config
from tests.conftest import load_voc100, shared_path, snapshot

pytestmark = pytest.mark.shared_data

FORMATS = ["labelstudio", "cvat", "coco", "ndjson"]
CAR = {"type": "metric", "name": "iou", "class_name": "car", "hi": 0.5, "hi_inclusive": False}


@pytest.fixture
def voc(ws: es.Workspace) -> es.Workspace:
    load_voc100(ws)
    ws.evaluate("det", mode="labelbox")
    ws.create_labeling_project("fix", backend="files")
    ws.create_batch("cars", project="fix", run="det", filter=CAR, priority=1)
    return ws


def _objects(ws: es.Workspace, table: Any, rows: set[int] | None = None) -> Counter[Any]:
    """(row, class, rounded box) of every annotation, as a multiset."""
    out: Counter[Any] = Counter()
    for r in table.to_pylist():
        if rows is None or r["data_row_id"] in rows:
            box = tuple(round(r[c], 3) for c in ("x1", "y1", "x2", "y2"))
            out[(r["data_row_id"], r["class_name"], r["kind"], box)] += 1
    return out


def _state(ws: es.Workspace) -> dict[str, Any]:
    s = snapshot(ws)
    for t in ("label_history", "label_imports", "batches", "batch_rows"):
        s[t] = ws.db.rows(f"SELECT * FROM {t} ORDER BY ALL")
    return s


def _rows(ws: es.Workspace, batch: str) -> set[int]:
    return set(ws.batch_rows(batch).column("id").to_pylist())


def test_batch_from_filter_is_the_filtered_rows(voc: es.Workspace) -> None:
    rows = _rows(voc, "cars")
    page = voc.query("det", CAR, limit=1000)
    assert rows == {r.id for r in page.rows}
    assert 0 < len(rows) < 100
    # independently: rows with a car whose per-class IoU (as stored objects give it) < 0.5
    objects = voc.evaluation_results("det", "objects").to_pylist()
    car_id = next(c.id for c in voc.classes() if c.name == "car")
    assert all(
        any(o["data_row_id"] == r and o["class_id"] == car_id for o in objects) for r in rows
    )
    (b,) = voc.batches()
    assert (b.name, b.project, b.priority, b.run, b.rows) == ("cars", "fix", 1, "det", len(rows))


@pytest.mark.parametrize("fmt", FORMATS)
def test_labels_reimport_unchanged(voc: es.Workspace, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"cars.{fmt}"
    n = voc.export_batch("cars", out, format=fmt, prelabels="labels")  # type: ignore[arg-type]
    rows = _rows(voc, "cars")
    assert n == len(rows)
    before = _objects(voc, voc.labels())
    report = voc.import_batch("cars", out, format=fmt, conflict="override")  # type: ignore[arg-type]
    assert report.rows_changed == []
    assert sorted(report.rows_unchanged) == sorted(rows)
    assert report.labels_added == report.labels_replaced == 0
    assert _objects(voc, voc.labels()) == before
    assert voc.label_history().num_rows == 0


def _accept(path: Path, fmt: str) -> None:
    """What a labeler does with the pre-labels: accept them as they are."""
    if fmt == "labelstudio":
        tasks = json.loads(path.read_text())
        for t in tasks:
            t["annotations"] = [{"result": t.pop("predictions")[0]["result"]}]
        path.write_text(json.dumps(tasks))


@pytest.mark.parametrize("fmt", FORMATS)
def test_accepted_prelabels_become_ground_truth(
    voc: es.Workspace, tmp_path: Path, fmt: str
) -> None:
    rows = _rows(voc, "cars")
    out = tmp_path / f"cars.{fmt}"
    voc.export_batch("cars", out, format=fmt, confidence=0.5)  # type: ignore[arg-type]
    _accept(out, fmt)
    preds = voc.predictions("det").to_pylist()
    kept = {p["id"] for p in preds if p["confidence"] >= 0.5}
    want = _objects(voc, voc.predictions("det").filter([p["id"] in kept for p in preds]), rows)
    old = _objects(voc, voc.labels())
    old_in_batch = _objects(voc, voc.labels(), rows)

    # keep (default): every batch row already has labels, so nothing changes
    kept_report = voc.import_batch("cars", out, format=fmt)  # type: ignore[arg-type]
    assert kept_report.rows_changed == []
    assert kept_report.labels_added == 0
    assert _objects(voc, voc.labels()) == old

    report = voc.import_batch("cars", out, format=fmt, conflict="override")  # type: ignore[arg-type]
    new = _objects(voc, voc.labels())
    assert _objects(voc, voc.labels(), rows) == want
    assert {k: v for k, v in new.items() if k[0] not in rows} == {
        k: v for k, v in old.items() if k[0] not in rows
    }
    changed = {
        r
        for r in rows
        if _objects(voc, voc.labels(), {r})
        != Counter({k: v for k, v in old_in_batch.items() if k[0] == r})
    }
    assert set(report.rows_changed) == changed
    assert changed
    assert report.labels_added == sum(want[k] for k in want if k[0] in changed)
    history = _objects(voc, voc.label_history())
    assert history == Counter({k: v for k, v in old_in_batch.items() if k[0] in changed})
    assert set(voc.label_history().column("import_id").to_pylist()) == {report.import_id}


def _refused(ws: es.Workspace, path: Path, fmt: str, *parts: str) -> InvalidInputError:
    before = _state(ws)
    with pytest.raises(InvalidInputError) as info:
        ws.import_batch("cars", path, format=fmt, conflict="override")  # type: ignore[arg-type]
    text = str(info.value)
    assert str(path) in text
    for p in parts:
        assert p in text, (p, text)
    assert _state(ws) == before
    return info.value


def test_bad_label_studio_files(voc: es.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "cars.json"
    voc.export_batch("cars", out, format="labelstudio", prelabels="labels")
    good = json.loads(out.read_text())

    bad = tmp_path / "bad.json"
    bad.write_text(out.read_text()[:-20])
    err = _refused(voc, bad, "labelstudio", "not valid JSON")
    assert err.line is not None

    foreign = json.loads(json.dumps(good))
    del foreign[1]["data"]["errorscope_id"]
    bad.write_text(json.dumps(foreign))
    _refused(voc, bad, "labelstudio", "[1].data", "errorscope_id", "not exported from errorscope")

    other = json.loads(json.dumps(good))
    outside = next(i for i in range(1, 200) if i not in _rows(voc, "cars"))
    other[0]["data"]["errorscope_id"] = outside
    bad.write_text(json.dumps(other))
    _refused(voc, bad, "labelstudio", "[0].data", f"data row {outside} is not in this batch")

    unknown = json.loads(json.dumps(good))
    unknown[2]["annotations"][0]["result"][0]["value"]["rectanglelabels"] = ["spaceship"]
    bad.write_text(json.dumps(unknown))
    _refused(voc, bad, "labelstudio", "[2].annotations[0].result[0]", "spaceship")

    broken = json.loads(json.dumps(good))
    broken[0]["annotations"][0]["result"][0]["value"]["width"] = "wide"
    bad.write_text(json.dumps(broken))
    _refused(voc, bad, "labelstudio", "[0].annotations[0].result[0]", "value.width")


def test_bad_cvat_coco_ndjson(voc: es.Workspace, tmp_path: Path) -> None:
    outside_key = next(
        r["global_key"] for r in voc.data_rows().to_pylist() if r["id"] not in _rows(voc, "cars")
    )
    cvat = tmp_path / "cars.xml"
    voc.export_batch("cars", cvat, format="cvat", prelabels="labels")
    lines = cvat.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if "<image " in line)
    name = lines[at].split('name="')[1].split('"')[0]
    bad = tmp_path / "bad.xml"
    bad.write_text("\n".join([*lines[:at], lines[at].replace(name, outside_key), *lines[at + 1 :]]))
    _refused(voc, bad, "cvat", f":{at + 1}:", "dataRow", "is not in batch 'cars'")
    box = next(i for i, line in enumerate(lines) if "<box " in line)
    bad.write_text(
        "\n".join([*lines[:box], lines[box].replace('xtl="', 'xtl="x'), *lines[box + 1 :]])
    )
    _refused(voc, bad, "cvat", f":{box + 1}:", "xtl")

    coco = tmp_path / "cars_coco.json"
    voc.export_batch("cars", coco, format="coco", prelabels="labels")
    doc = json.loads(coco.read_text())
    doc["images"][1]["file_name"] = outside_key
    bad = tmp_path / "bad_coco.json"
    bad.write_text(json.dumps(doc))
    _refused(voc, bad, "coco", "images[1]", "dataRow")

    nd = tmp_path / "cars.ndjson"
    voc.export_batch("cars", nd, format="ndjson", prelabels="labels")
    recs = [json.loads(x) for x in nd.read_text().splitlines()]
    recs[3]["dataRow"] = {"globalKey": outside_key}
    bad = tmp_path / "bad.ndjson"
    bad.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    _refused(voc, bad, "ndjson", ":4:", "dataRow")
    recs = [json.loads(x) for x in nd.read_text().splitlines()]
    recs[2]["name"] = "spaceship"
    bad.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    _refused(voc, bad, "ndjson", ":3:", "spaceship")


# -- other kinds: COCO polygons, CoNLL text spans, classifications ----------------------------
def _unchanged_round_trip(ws: es.Workspace, batch: str, fmt: str, tmp_path: Path) -> None:
    out = tmp_path / f"{batch}.{fmt}"
    ws.export_batch(batch, out, format=fmt, prelabels="labels")  # type: ignore[arg-type]
    before = _state(ws)
    report = ws.import_batch(batch, out, format=fmt, conflict="override")  # type: ignore[arg-type]
    assert report.rows_changed == []
    assert sorted(report.rows_unchanged) == sorted(_rows(ws, batch))
    assert snapshot(ws) == {k: v for k, v in before.items() if k in snapshot(ws)}


@pytest.mark.parametrize("fmt", FORMATS)
def test_coco_polygons_round_trip(ws: es.Workspace, tmp_path: Path, fmt: str) -> None:
    ws.import_coco(shared_path("coco-val2014-100", "instances_val2014_100.json"))
    labels = ws.labels().to_pylist()
    bad = {
        a["data_row_id"]
        for a in labels
        if a["kind"] != "polygon" or a["iscrowd"] or len(a["coords"] or []) != 1
    }
    ids = sorted({a["data_row_id"] for a in labels} - bad)[:15]
    assert len(ids) == 15
    ws.create_labeling_project("p")
    ws.create_batch("polys", project="p", ids=ids)
    _unchanged_round_trip(ws, "polys", fmt, tmp_path)
    # and an edit comes back as exactly that edit
    out = tmp_path / f"edit.{fmt}"
    ws.export_batch("polys", out, format=fmt, prelabels="labels")  # type: ignore[arg-type]
    if fmt == "labelstudio":
        tasks = json.loads(out.read_text())
        tasks[0]["annotations"][0]["result"].pop()
        out.write_text(json.dumps(tasks))
        report = ws.import_batch("polys", out, conflict="override")
        assert report.rows_changed == [tasks[0]["data"]["errorscope_id"]]
        assert report.labels_replaced - report.labels_added == 1
        assert ws.label_history().num_rows == report.labels_replaced


@pytest.mark.parametrize("fmt", ["labelstudio", "ndjson"])
def test_text_spans_round_trip(ws: es.Workspace, tmp_path: Path, fmt: str) -> None:
    ws.import_conll(shared_path("conll2000-chunking", "ground_truth.txt"), column=3)
    rows = ws.data_rows().column("id").to_pylist()[:25]
    ws.create_labeling_project("p")
    ws.create_batch("text", project="p", ids=rows)
    _unchanged_round_trip(ws, "text", fmt, tmp_path)
    if fmt == "labelstudio":
        tasks = json.loads((tmp_path / "text.labelstudio").read_text())
        res = tasks[0]["annotations"][0]["result"][0]
        text = ws.data_rows().to_pylist()[0]["text"]
        assert res["type"] == "labels"
        assert res["value"]["text"] == text[res["value"]["start"] : res["value"]["end"]]


def test_classifications_and_config(ws: es.Workspace, tmp_path: Path) -> None:
    ws.add_data_rows(
        [
            {"global_key": f"t{i}", "media_type": "text", "text": f"sentence number {i}"}
            for i in range(6)
        ]
    )
    ws.add_class("topic", "radio", ["news", "sport"])
    ws.add_class("flags", "checklist", ["short", "numeric", "odd"])
    ws.add_class("NUM", "text_span")
    ws.add_labels(
        [
            {
                "row_key": f"t{i}",
                "class_name": "topic",
                "kind": "radio",
                "answers": ["news" if i % 2 else "sport"],
            }
            for i in range(6)
        ]
        + [
            {
                "row_key": f"t{i}",
                "class_name": "flags",
                "kind": "checklist",
                "answers": ["numeric", "odd"] if i % 2 else ["short"],
            }
            for i in range(6)
        ]
        + [
            {
                "row_key": f"t{i}",
                "class_name": "NUM",
                "kind": "text_span",
                "span_start": 9,
                "span_end": 15,
            }
            for i in range(6)
        ]
    )
    ws.create_labeling_project("p")
    ws.create_batch("b", project="p", ids=ws.data_rows().column("id").to_pylist())
    _unchanged_round_trip(ws, "b", "labelstudio", tmp_path)
    # the generated labeling configs, parsed
    classes = [LsClass(c.name, c.kind, tuple(c.options or ())) for c in ws.classes()]
    text_cfg = ET.fromstring(label_config(classes, "text"))
    assert [e.tag for e in text_cfg] == ["Text", "Labels", "Header", "Choices", "Header", "Choices"]
    choices = {e.get("name"): e for e in text_cfg.iter("Choices")}
    flags = choices[control_name(LsClass("flags", "checklist"))]
    assert flags.get("choice") == "multiple"
    assert [c.get("value") for c in flags] == ["short", "numeric", "odd"]
    image = [
        LsClass("car", "bbox"),
        LsClass("road", "polygon"),
        LsClass("sky", "mask"),
        LsClass("eye", "point"),
        LsClass("lane", "polyline"),
        LsClass("Tom & Jerry", "bbox"),
    ]
    img_cfg = ET.fromstring(label_config(image, "image"))
    tags = {e.tag: [x.get("value") for x in e] for e in img_cfg if e.tag != "Image"}
    assert tags == {
        "RectangleLabels": ["car", "Tom & Jerry"],
        "PolygonLabels": ["road"],
        "BrushLabels": ["sky"],
        "KeyPointLabels": ["eye"],
    }


def test_brush_rle_round_trip() -> None:
    rng = np.random.default_rng(0)
    for h, w in [(1, 1), (3, 5), (40, 70), (300, 300)]:
        mask = rng.random((h, w)) < 0.3
        mask[: h // 2, : w // 2] = True  # long runs too (over 2**16 values at 300x300)
        rle = encode_brush(mask)
        assert all(0 <= b <= 255 for b in rle)
        assert (decode_brush(rle, h, w) == mask).all()
    with pytest.raises(es.ErrorscopeError, match="the image needs"):
        decode_brush(encode_brush(np.ones((2, 2), bool)), 3, 3)
    with pytest.raises(es.ErrorscopeError, match="ends early"):
        decode_brush(encode_brush(np.ones((20, 20), bool))[:-2], 20, 20)


def test_coco_masks_through_label_studio_json(ws: es.Workspace, tmp_path: Path) -> None:
    ws.import_coco(shared_path("coco-val2014-100", "instances_val2014_100.json"))
    labels = ws.labels().to_pylist()
    with_mask = {a["data_row_id"] for a in labels if a["kind"] == "mask"}
    bad = {
        a["data_row_id"] for a in labels if a["kind"] == "polygon" and len(a["coords"] or []) != 1
    }
    ids = sorted(with_mask - bad)[:4]
    assert ids
    ws.create_labeling_project("p")
    ws.create_batch("masks", project="p", ids=ids)
    _unchanged_round_trip(ws, "masks", "labelstudio", tmp_path)
    tasks = json.loads((tmp_path / "masks.labelstudio").read_text())
    types = {r["type"] for t in tasks for r in t["annotations"][0]["result"]}
    assert "brushlabels" in types
