from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import errorscope as es
from errorscope.cli import cli, main
from errorscope.core.geometry import decode_rle, encode_mask
from errorscope.core.types import ANNOTATION_SCHEMA
from errorscope.export.coco import annotation_ids
from errorscope.export.ndjson import stable_uuid
from tests.conftest import shared_path

# pycocotools 2.0.11's mask decoding trips numpy 2's __array__(copy=) deprecation
PYCOCO_DECODE = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


def _coco(name: str) -> Path:
    return shared_path("coco-val2014-100", name)


GT = "instances_val2014_100.json"
SEGM = "instances_val2014_fakesegm100_results.json"
BBOX = "instances_val2014_fakebbox100_results.json"


@pytest.fixture
def coco_ws(ws: es.Workspace) -> es.Workspace:
    ws.import_coco(_coco(GT))
    ws.import_coco(_coco(SEGM), run="segm", gt=_coco(GT))
    ws.import_coco(_coco(BBOX), run="bbox", gt=_coco(GT))
    return ws


def _by(table: pa.Table, key: str) -> dict[Any, dict[str, Any]]:
    return {r[key]: r for r in table.to_pylist()}


def _mask(rec: dict[str, Any]) -> np.ndarray[Any, Any]:
    return decode_rle(rec["rle_counts"], rec["rle_h"], rec["rle_w"])


def assert_same_annotations(
    got: pa.Table,
    want: pa.Table,
    *,
    key: str | None = "uuid",
    scored: bool = False,
    area: bool = True,
) -> None:
    """Same rows, classes, kinds, boxes (1e-9), areas, crowd flags, polygons and masks."""
    assert got.num_rows == want.num_rows
    if key is None:  # same order
        pairs = zip(got.to_pylist(), want.to_pylist(), strict=True)
    else:
        g, w = _by(got, key), _by(want, key)
        assert set(g) == set(w)
        pairs = ((g[k], w[k]) for k in w)
    for a, b in pairs:
        for col in ("row_key", "class_name", "kind", "iscrowd", "coords"):
            assert a[col] == b[col], col
        if area:
            assert a["area"] == b["area"]
        for col in ("x1", "y1", "x2", "y2"):
            assert a[col] == pytest.approx(b[col], abs=1e-9), col
        if b["kind"] == "mask":
            assert (a["rle_h"], a["rle_w"]) == (b["rle_h"], b["rle_w"])
            assert np.array_equal(_mask(a), _mask(b))
        if scored:
            assert a["confidence"] == b["confidence"]


# -- COCO -----------------------------------------------------------------------------------


def test_coco_ground_truth_round_trip(coco_ws: es.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "gt.json"
    assert coco_ws.export_coco(out) == 839

    with es.open_workspace(tmp_path / "fresh") as fresh:
        report = fresh.import_coco(out)
        assert (report.data_rows_created, report.labels, report.classes_created) == (100, 839, 80)
        assert_same_annotations(fresh.labels(), coco_ws.labels())
        keep = ["global_key", "media_type", "width", "height"]
        assert fresh.data_rows().select(keep).to_pylist() == (
            coco_ws.data_rows().select(keep).to_pylist()
        )
        assert [(c.name, c.kind) for c in fresh.classes()] == [
            (c.name, c.kind) for c in coco_ws.classes()
        ]


def test_coco_document_shape(coco_ws: es.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "gt.json"
    coco_ws.export_coco(out)
    doc = json.loads(out.read_text())
    original = json.loads(_coco(GT).read_text())
    rows = _by(coco_ws.data_rows(), "global_key")
    assert sorted(im["file_name"] for im in doc["images"]) == sorted(
        im["file_name"] for im in original["images"]
    )
    for im in doc["images"]:
        assert im["id"] == rows[im["file_name"]]["id"]
    assert [(c["id"], c["name"]) for c in doc["categories"]] == [
        (c.id, c.name) for c in coco_ws.classes()
    ]
    want = {a["id"]: a for a in original["annotations"]}
    image_names = {im["id"]: im["file_name"] for im in doc["images"]}
    original_names = {im["id"]: im["file_name"] for im in original["images"]}
    for ann in doc["annotations"]:
        src = want[ann["id"]]  # COCO annotation ids survive as uuids
        assert image_names[ann["image_id"]] == original_names[src["image_id"]]
        assert ann["bbox"] == pytest.approx(src["bbox"], abs=1e-9)
        assert (ann["area"], ann["iscrowd"]) == (src["area"], src["iscrowd"])
        if isinstance(src["segmentation"], list):
            assert ann["segmentation"] == src["segmentation"]
        else:  # crowd regions: uncompressed RLE in, compressed string out
            assert isinstance(ann["segmentation"]["counts"], str)
            assert ann["segmentation"]["size"] == src["segmentation"]["size"]


@PYCOCO_DECODE
def test_pycocotools_reads_the_export(coco_ws: es.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "gt.json"
    coco_ws.export_coco(out)
    exported = COCO(str(out))
    original = COCO(str(_coco(GT)))
    assert len(exported.getAnnIds()) == len(original.getAnnIds()) == 839
    assert len(exported.getImgIds()) == 100
    crowd = original.getAnnIds(iscrowd=True)
    plain = original.getAnnIds(iscrowd=False)
    multi = [
        a["id"]
        for a in original.loadAnns(plain)
        if len(a["segmentation"]) > 1  # multi-part polygons
    ]
    chosen = [*crowd[:3], *plain[:3], *multi[:2]]
    assert len(chosen) == 8
    for ann_id in chosen:
        want = original.annToMask(original.loadAnns(ann_id)[0])
        got = exported.annToMask(exported.loadAnns(ann_id)[0])
        assert want.any()
        assert np.array_equal(got, want), ann_id


def test_coco_results_round_trip_with_exported_gt(coco_ws: es.Workspace, tmp_path: Path) -> None:
    gt, segm, bbox = tmp_path / "gt.json", tmp_path / "segm.json", tmp_path / "bbox.json"
    coco_ws.export_coco(gt)
    assert coco_ws.export_coco(segm, run="segm", results=True) == 734
    assert coco_ws.export_coco(bbox, run="bbox", results=True) == 734
    # the results form keeps COCO's own shape: masks alone, or boxes alone
    assert set(json.loads(segm.read_text())[0]) == {
        "image_id",
        "category_id",
        "segmentation",
        "score",
    }
    assert set(json.loads(bbox.read_text())[0]) == {"image_id", "category_id", "bbox", "score"}
    with es.open_workspace(tmp_path / "fresh") as fresh:
        fresh.import_coco(gt)
        for run, path in (("segm", segm), ("bbox", bbox)):
            assert fresh.import_coco(path, run=run, gt=gt).predictions == 734
            assert_same_annotations(
                fresh.predictions(run), coco_ws.predictions(run), key=None, scored=True
            )


def test_coco_full_form_run_round_trip(coco_ws: es.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "segm-full.json"
    assert coco_ws.export_coco(out, run="segm") == 734
    doc = json.loads(out.read_text())
    assert all("score" in a for a in doc["annotations"])
    # a run lists only the images it has predictions on
    used = set(coco_ws.predictions("segm").column("row_key").to_pylist())
    assert {im["file_name"] for im in doc["images"]} == used
    with es.open_workspace(tmp_path / "fresh") as fresh:
        fresh.import_coco(_coco(GT))
        assert fresh.import_coco(out, run="segm").predictions == 734
        got, want = fresh.predictions("segm"), coco_ws.predictions("segm")
        # the results file had no areas: the export computed them from the masks
        assert_same_annotations(got, want, key=None, scored=True, area=False)
        assert want.column("area").null_count == 734
        masks = [_mask(r) for r in want.to_pylist()]
        assert got.column("area").to_pylist() == [float(m.sum()) for m in masks]


def _stats(gt: Path | dict[str, Any], results: Path | list[Any], iou_type: str) -> Any:
    coco_gt = COCO(str(gt)) if isinstance(gt, Path) else COCO()
    if isinstance(gt, dict):
        coco_gt.dataset = gt
        coco_gt.createIndex()
    ev = COCOeval(
        coco_gt, coco_gt.loadRes(str(results) if isinstance(results, Path) else results), iou_type
    )
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return ev.stats


@PYCOCO_DECODE
@pytest.mark.parametrize(
    ("run", "iou_type", "src"), [("bbox", "bbox", BBOX), ("segm", "segm", SEGM)]
)
def test_cocoeval_on_the_export_matches_the_original(
    coco_ws: es.Workspace, tmp_path: Path, run: str, iou_type: str, src: str
) -> None:
    gt, res = tmp_path / "gt.json", tmp_path / "res.json"
    coco_ws.export_coco(gt)
    coco_ws.export_coco(res, run=run, results=True)
    got = _stats(gt, res, iou_type)

    # COCOeval breaks score ties by image id order, so evaluate the original files with
    # their image ids renumbered to the exported ones (data row ids) for an exact match
    row_ids = {r["global_key"]: r["id"] for r in coco_ws.data_rows().to_pylist()}
    original = json.loads(_coco(GT).read_text())
    renumber = {im["id"]: row_ids[im["file_name"]] for im in original["images"]}
    for im in original["images"]:
        im["id"] = renumber[im["id"]]
    for ann in original["annotations"]:
        ann["image_id"] = renumber[ann["image_id"]]
    results = json.loads(_coco(src).read_text())
    for r in results:
        r["image_id"] = renumber[r["image_id"]]
    want = _stats(original, results, iou_type)
    assert got == pytest.approx(want, abs=1e-12)
    # and close to the published figures for the files as they are (other tie order)
    assert got == pytest.approx(_stats(_coco(GT), _coco(src), iou_type), abs=5e-4)


def test_results_form_needs_a_run(coco_ws: es.Workspace, tmp_path: Path) -> None:
    with pytest.raises(es.ErrorscopeError, match="run"):
        coco_ws.export_coco(tmp_path / "x.json", results=True)
    assert not (tmp_path / "x.json").exists()


def test_unknown_run_is_not_found(coco_ws: es.Workspace, tmp_path: Path) -> None:
    with pytest.raises(es.NotFoundError, match="nope"):
        coco_ws.export_coco(tmp_path / "x.json", run="nope")


# -- a workspace with every kind ------------------------------------------------------------

TEXT = "Alice met Bob in Paris."


def _records(rows: list[dict[str, Any]]) -> pa.Table:
    for i, r in enumerate(rows, 1):
        r.setdefault("line", i)
    return pa.Table.from_pylist(rows, schema=ANNOTATION_SCHEMA)


@pytest.fixture
def mixed_ws(ws: es.Workspace) -> es.Workspace:
    """Image rows (one without a global key), a text row, and one label of every kind."""
    ids = ws.add_data_rows(
        [
            {
                "global_key": "a.jpg",
                "media_type": "image",
                "uri": "a.jpg",
                "width": 64,
                "height": 48,
            },
            {
                "global_key": None,
                "media_type": "image",
                "uri": "/img/b.jpg",
                "width": 32,
                "height": 16,
            },
            {"global_key": "t1", "media_type": "text", "text": TEXT},
        ]
    )
    mask = np.zeros((48, 64), dtype=np.uint8)
    mask[10:20, 5:30] = 1
    labels = [
        {
            "uuid": "car-1",
            "row_key": "a.jpg",
            "class_name": "car",
            "kind": "bbox",
            "x1": 1.5,
            "y1": 2.0,
            "x2": 11.25,
            "y2": 9.0,
        },
        {
            "row_key": "a.jpg",
            "class_name": "road",
            "kind": "polygon",
            "coords": [[0.0, 0.0, 10.0, 0.0, 10.0, 5.0]],
            "x1": 0.0,
            "y1": 0.0,
            "x2": 10.0,
            "y2": 5.0,
        },
        {
            "row_id": ids[1],
            "class_name": "eye",
            "kind": "point",
            "coords": [[3.0, 4.0]],
            "x1": 3.0,
            "y1": 4.0,
            "x2": 3.0,
            "y2": 4.0,
        },
        {
            "row_id": ids[1],
            "class_name": "lane",
            "kind": "polyline",
            "coords": [[1.0, 1.0, 5.0, 2.0, 9.0, 8.0]],
            "x1": 1.0,
            "y1": 1.0,
            "x2": 9.0,
            "y2": 8.0,
        },
        {
            "row_key": "a.jpg",
            "class_name": "sky",
            "kind": "mask",
            "rle_counts": encode_mask(mask),
            "rle_h": 48,
            "rle_w": 64,
            "x1": 5.0,
            "y1": 10.0,
            "x2": 30.0,
            "y2": 20.0,
        },
        {"row_key": "t1", "class_name": "PER", "kind": "text_span", "span_start": 0, "span_end": 5},
        {
            "row_key": "t1",
            "class_name": "LOC",
            "kind": "text_span",
            "span_start": 17,
            "span_end": 22,
        },
        {"row_key": "t1", "class_name": "tone", "kind": "radio", "answers": ["neutral"]},
        {
            "row_key": "t1",
            "class_name": "topics",
            "kind": "checklist",
            "answers": ["people", "places"],
        },
    ]
    ws.add_labels(_records(labels))
    preds = [
        dict(labels[0], confidence=0.9, custom_metrics=[("iou", 0.75), ("hard", 1.0)]),
        dict(labels[5], confidence=0.6),
        dict(labels[7], confidence=0.55),
    ]
    ws.add_predictions("r1", _records(preds))
    return ws


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_ndjson_shapes(mixed_ws: es.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "labels.ndjson"
    assert mixed_ws.export_ndjson(out) == 9
    recs = {r["name"]: r for r in _lines(out)}
    assert recs["car"]["dataRow"] == {"globalKey": "a.jpg"}
    assert recs["car"]["bbox"] == {"top": 2.0, "left": 1.5, "height": 7.0, "width": 9.75}
    assert recs["road"]["polygon"] == [
        {"x": 0.0, "y": 0.0},
        {"x": 10.0, "y": 0.0},
        {"x": 10.0, "y": 5.0},
    ]
    b_id = mixed_ws.data_rows().to_pylist()[1]["id"]
    assert recs["eye"]["dataRow"] == {"id": b_id}
    assert recs["eye"]["point"] == {"x": 3.0, "y": 4.0}
    assert recs["lane"]["line"] == [
        {"x": 1.0, "y": 1.0},
        {"x": 5.0, "y": 2.0},
        {"x": 9.0, "y": 8.0},
    ]
    rle = recs["sky"]["mask"]["rle"]
    assert rle["size"] == [48, 64]
    assert int(decode_rle(rle["counts"], 48, 64).sum()) == 10 * 25
    # Labelbox's end offset is inclusive
    per, loc = recs["PER"]["location"], recs["LOC"]["location"]
    assert TEXT[per["start"] : per["end"] + 1] == "Alice"
    assert TEXT[loc["start"] : loc["end"] + 1] == "Paris"
    assert recs["tone"]["answer"] == {"name": "neutral"}
    assert recs["topics"]["answer"] == [{"name": "people"}, {"name": "places"}]
    assert all("confidence" not in r for r in recs.values())
    assert len({r["uuid"] for r in recs.values()}) == 9


def test_ndjson_predictions_carry_scores_and_metrics(
    mixed_ws: es.Workspace, tmp_path: Path
) -> None:
    out = tmp_path / "r1.ndjson"
    assert mixed_ws.export_ndjson(out, run="r1") == 3
    recs = {r["name"]: r for r in _lines(out)}
    assert recs["car"]["confidence"] == 0.9
    assert sorted(recs["car"]["customMetrics"], key=lambda m: m["name"]) == [
        {"name": "hard", "value": 1.0},
        {"name": "iou", "value": 0.75},
    ]
    assert recs["PER"]["confidence"] == 0.6
    assert "customMetrics" not in recs["PER"]


def test_ndjson_export_is_stable(mixed_ws: es.Workspace, tmp_path: Path) -> None:
    a, b = tmp_path / "a.ndjson", tmp_path / "b.ndjson"
    mixed_ws.export_ndjson(a)
    mixed_ws.export_ndjson(b)
    assert a.read_bytes() == b.read_bytes()


def test_coco_export_skips_what_coco_cannot_hold(mixed_ws: es.Workspace, tmp_path: Path) -> None:
    out = tmp_path / "gt.json"
    assert mixed_ws.export_coco(out) == 3  # box, polygon, mask
    doc = json.loads(out.read_text())
    assert sorted(c["name"] for c in doc["categories"]) == ["car", "eye", "lane", "road", "sky"]
    assert sorted(im["file_name"] for im in doc["images"]) == ["/img/b.jpg", "a.jpg"]
    by_cat = {c["id"]: c["name"] for c in doc["categories"]}
    anns = {by_cat[a["category_id"]]: a for a in doc["annotations"]}
    assert anns["car"]["bbox"] == [1.5, 2.0, 9.75, 7.0]
    assert anns["car"]["area"] == 9.75 * 7.0
    assert "segmentation" not in anns["car"]
    assert anns["road"]["area"] == 25.0  # shoelace of the triangle
    assert anns["sky"]["area"] == 250.0  # pixels of the mask
    assert anns["sky"]["segmentation"]["size"] == [48, 64]
    assert all(isinstance(a["id"], int) for a in doc["annotations"])
    assert len({a["id"] for a in doc["annotations"]}) == 3


def test_ndjson_round_trip(mixed_ws: es.Workspace, tmp_path: Path) -> None:
    pytest.importorskip("errorscope.ingest.ndjson", reason="the NDJSON importer is not there yet")
    labels, preds = tmp_path / "labels.ndjson", tmp_path / "r1.ndjson"
    mixed_ws.export_ndjson(labels)
    mixed_ws.export_ndjson(preds, run="r1")
    cols = [
        "data_row_id",
        "row_key",
        "class_name",
        "kind",
        "x1",
        "y1",
        "x2",
        "y2",
        "coords",
        "rle_counts",
        "rle_h",
        "rle_w",
        "span_start",
        "span_end",
        "answers",
    ]
    with es.open_workspace(tmp_path / "fresh") as fresh:
        keep = ["global_key", "media_type", "uri", "width", "height", "text"]
        fresh.add_data_rows(mixed_ws.data_rows().select(keep))
        assert fresh.import_ndjson(labels).labels == 9
        assert fresh.import_ndjson(preds, run="r1").predictions == 3
        for scope, got, want in (
            ("labels", fresh.labels(), mixed_ws.labels()),
            ("run:r1", fresh.predictions("r1"), mixed_ws.predictions("r1")),
        ):
            assert got.select(cols).to_pylist() == want.select(cols).to_pylist()
            # a stored uuid is kept; one stored without gets its stable uuid
            assert got.column("uuid").to_pylist() == [
                r["uuid"] or stable_uuid(scope, r["id"]) for r in want.to_pylist()
            ]
            assert "car-1" in got.column("uuid").to_pylist()
            if scope != "labels":
                assert got.column("confidence") == want.column("confidence")
                metrics = [
                    sorted(t.column("custom_metrics")[i].as_py() or [])
                    for t in (got, want)
                    for i in range(t.num_rows)
                ]
                assert metrics[:3] == metrics[3:]
                assert metrics[0] == [("hard", 1.0), ("iou", 0.75)]


def test_ndjson_round_trip_of_coco_ground_truth(coco_ws: es.Workspace, tmp_path: Path) -> None:
    pytest.importorskip("errorscope.ingest.ndjson", reason="the NDJSON importer is not there yet")
    out = tmp_path / "gt.ndjson"
    want = coco_ws.labels().to_pylist()
    # a Labelbox polygon is one ring: a multi-part COCO polygon becomes one line per part
    n_parts = sum(len(r["coords"]) if r["kind"] == "polygon" else 1 for r in want)
    assert n_parts > len(want) == 839
    assert coco_ws.export_ndjson(out) == n_parts
    with es.open_workspace(tmp_path / "fresh") as fresh:
        keep = ["global_key", "media_type", "uri", "width", "height"]
        fresh.add_data_rows(coco_ws.data_rows().select(keep))
        assert fresh.import_ndjson(out).labels == n_parts
        got = _by(fresh.labels(), "uuid")
        for rec in want:
            if rec["kind"] == "polygon":
                uuids = [rec["uuid"]] + [f"{rec['uuid']}-{j}" for j in range(1, len(rec["coords"]))]
                pieces = [got.pop(u) for u in uuids]
                assert [p["coords"][0] for p in pieces] == rec["coords"]
            else:
                piece = got.pop(rec["uuid"])
                assert np.array_equal(_mask(piece), _mask(rec))
                pieces = [piece]
            for p in pieces:
                assert (p["row_key"], p["class_name"], p["kind"]) == (
                    rec["row_key"],
                    rec["class_name"],
                    rec["kind"],
                )
        assert not got


# -- CLI ------------------------------------------------------------------------------------


def test_cli_import_info_export(tmp_path: Path) -> None:
    runner = CliRunner()
    wsdir = str(tmp_path / "ws")
    res = runner.invoke(cli, ["import", "coco", str(_coco(GT)), "-w", wsdir])
    assert res.exit_code == 0, res.output
    assert "839 labels" in res.stdout
    res = runner.invoke(
        cli,
        ["import", "coco", str(_coco(SEGM)), "--gt", str(_coco(GT)), "--run", "segm", "-w", wsdir],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(cli, ["info", "--json", "-w", wsdir])
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert (info["data_rows"], info["image_rows"], info["labels"], info["classes"]) == (
        100,
        100,
        839,
        80,
    )
    assert [(r["name"], r["predictions"]) for r in info["runs"]] == [("segm", 734)]
    out = tmp_path / "out.json"
    res = runner.invoke(cli, ["export", "coco", str(out), "-w", wsdir])
    assert res.exit_code == 0, res.output
    assert f"wrote 839 annotations to {out}" in res.stdout
    assert len(json.loads(out.read_text())["annotations"]) == 839
    res = runner.invoke(
        cli, ["export", "coco", str(tmp_path / "r.json"), "--run", "segm", "--results", "-w", wsdir]
    )
    assert res.exit_code == 0, res.output
    assert len(json.loads((tmp_path / "r.json").read_text())) == 734


def test_cli_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = json.loads(_coco(GT).read_text())
    doc["annotations"][5]["category_id"] = 999
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(doc))
    wsdir = str(tmp_path / "ws")
    with pytest.raises(SystemExit) as info:
        main(["import", "coco", str(bad), "-w", wsdir])
    assert info.value.code == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ")
    assert "\n" not in err
    assert "Traceback" not in captured.err + captured.out
    assert str(bad) in err
    assert "annotations[5]" in err
    assert "category_id" in err
    with es.open_workspace(wsdir) as ws:
        assert ws.info()["labels"] == 0


def test_coco_annotation_ids() -> None:
    # integer uuids (COCO's own ids) are kept; others numbered above the largest
    assert annotation_ids(pa.array(["5", None, "abc", "2", ""])) == [5, 6, 7, 2, 8]
    # ids that would collide or overflow: everything renumbered
    assert annotation_ids(pa.array(["7", "007"])) == [1, 2]
    assert annotation_ids(pa.array(["99999999999999999999", "1"])) == [1, 2]
    assert annotation_ids(pa.array([], pa.string())) == []


def test_empty_workspace_exports(ws: es.Workspace, tmp_path: Path) -> None:
    assert ws.export_coco(tmp_path / "gt.json") == 0
    assert json.loads((tmp_path / "gt.json").read_text()) == {
        "images": [],
        "annotations": [],
        "categories": [],
    }
    assert ws.export_ndjson(tmp_path / "gt.ndjson") == 0
    assert (tmp_path / "gt.ndjson").read_bytes() == b""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gt.json", "gt.ndjson", "ws"]


def test_cli_results_without_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["export", "coco", str(tmp_path / "r.json"), "--results", "-w", str(tmp_path / "ws")])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "run" in err
    assert err.count("\n") == 1
    assert not (tmp_path / "r.json").exists()
