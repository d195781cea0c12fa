from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pycocotools import mask as mask_utils

import errorscope as es
from errorscope.core.geometry import decode_rle
from errorscope.ingest.coco import parse_coco, parse_coco_results
from tests.conftest import shared_path, snapshot


def decode_segmentation(seg: Any, h: int, w: int) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """A COCO segmentation (polygons, RLE with list or string counts) as a mask."""
    rle = mask_utils.frPyObjects(seg, h, w)
    if isinstance(rle, list):
        rle = mask_utils.merge(rle)
    counts = rle["counts"]
    return decode_rle(counts.decode("ascii") if isinstance(counts, bytes) else counts, h, w)


def _gt_path() -> Path:
    return shared_path("coco-val2014-100", "instances_val2014_100.json")


def _gt_doc() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(_gt_path().read_text())
    return doc


def test_coco_ground_truth_and_both_result_files(ws: es.Workspace) -> None:
    gt = _gt_path()
    report = ws.ingest(parse_coco(gt))
    assert (report.data_rows_created, report.labels, report.classes_created) == (100, 839, 80)
    labels = ws.labels()
    assert sum(labels.column("iscrowd").to_pylist()) == 9
    kinds = set(labels.column("kind").to_pylist())
    assert kinds == {"polygon", "mask"}
    for name in ("fakebbox", "fakesegm"):
        results = shared_path("coco-val2014-100", f"instances_val2014_{name}100_results.json")
        report = ws.ingest(parse_coco_results(results, gt=gt), run=name)
        assert report.predictions == 734
        scores = ws.predictions(name).column("confidence").to_pylist()
        assert all(0 <= s <= 1 for s in scores)
        assert len(set(scores)) > 1


def test_kinds_and_crowd_counts_match_the_file(ws: es.Workspace) -> None:
    doc = _gt_doc()
    anns = doc["annotations"]
    n_poly = sum(isinstance(a["segmentation"], list) for a in anns)
    n_rle = sum(isinstance(a["segmentation"], dict) for a in anns)
    n_crowd = sum(a["iscrowd"] for a in anns)
    assert n_poly + n_rle == len(anns)

    ws.import_coco(_gt_path())
    labels = ws.labels()
    kinds = labels.column("kind").to_pylist()
    assert kinds.count("polygon") == n_poly
    assert kinds.count("mask") == n_rle
    assert sum(labels.column("iscrowd").to_pylist()) == n_crowd
    # the crowd regions are exactly the RLE ones in this file
    crowd_uuids = {str(a["id"]) for a in anns if a["iscrowd"]}
    masks = labels.filter(np.array(kinds) == "mask")
    assert set(masks.column("uuid").to_pylist()) == crowd_uuids


def test_known_annotations_are_preserved_exactly(ws: es.Workspace) -> None:
    doc = _gt_doc()
    images = {im["id"]: im for im in doc["images"]}
    cats = {c["id"]: c["name"] for c in doc["categories"]}
    polygon = next(a for a in doc["annotations"] if isinstance(a["segmentation"], list))
    rle = next(a for a in doc["annotations"] if isinstance(a["segmentation"], dict))

    ws.import_coco(_gt_path())
    stored = {r["uuid"]: r for r in ws.labels().to_pylist()}

    for ann in (polygon, rle):
        got = stored[str(ann["id"])]
        x, y, w, h = ann["bbox"]
        assert (got["x1"], got["y1"], got["x2"], got["y2"]) == (x, y, x + w, y + h)
        assert got["area"] == ann["area"]
        assert got["iscrowd"] == bool(ann["iscrowd"])
        assert got["row_key"] == images[ann["image_id"]]["file_name"]
        assert got["class_name"] == cats[ann["category_id"]]

    assert stored[str(polygon["id"])]["coords"] == polygon["segmentation"]

    got = stored[str(rle["id"])]
    img = images[rle["image_id"]]
    assert (
        (got["rle_h"], got["rle_w"])
        == (img["height"], img["width"])
        == tuple(rle["segmentation"]["size"])
    )
    h, w = rle["segmentation"]["size"]
    want = decode_segmentation(rle["segmentation"], h, w)
    assert np.array_equal(decode_rle(got["rle_counts"], h, w), want)
    assert want.any()


def test_images_become_rows_with_their_sizes(ws: es.Workspace) -> None:
    doc = _gt_doc()
    ws.import_coco(_gt_path())
    rows = {r["global_key"]: r for r in ws.data_rows().to_pylist()}
    assert len(rows) == len(doc["images"])
    for im in doc["images"]:
        row = rows[im["file_name"]]
        assert (row["width"], row["height"], row["media_type"]) == (
            im["width"],
            im["height"],
            "image",
        )


# -- bad input: one error naming file, location and field; the workspace untouched --------


def _split_doc() -> tuple[dict[str, Any], dict[str, Any]]:
    """The GT file cut in two by image: the first half is imported up front, the second
    half carries the faults, so nothing but the injected fault can fail."""
    doc = _gt_doc()
    ids = [im["id"] for im in doc["images"]]
    first = set(ids[: len(ids) // 2])

    def part(keep: bool) -> dict[str, Any]:
        return {
            "images": [im for im in doc["images"] if (im["id"] in first) == keep],
            "annotations": [a for a in doc["annotations"] if (a["image_id"] in first) == keep],
            "categories": doc["categories"],
        }

    return part(True), part(False)


@pytest.fixture
def seeded(ws: es.Workspace, tmp_path: Path) -> tuple[es.Workspace, dict[str, Any]]:
    first, second = _split_doc()
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps(first))
    ws.import_coco(seed)
    return ws, second


def _write(tmp_path: Path, doc: Any, name: str = "bad.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def _fails(ws: es.Workspace, call: Any, *, path: Path) -> es.InvalidInputError:
    before = snapshot(ws)
    with pytest.raises(es.InvalidInputError) as info:
        call()
    assert snapshot(ws) == before
    err = info.value
    assert str(path) in str(err)
    assert err.path == str(path)
    return err


def test_second_half_imports_cleanly(
    seeded: tuple[es.Workspace, dict[str, Any]], tmp_path: Path
) -> None:
    ws, second = seeded
    before = ws.info()["labels"]
    report = ws.import_coco(_write(tmp_path, second))
    assert report.labels == len(second["annotations"])
    assert ws.info()["labels"] == before + report.labels == 839


def test_malformed_json(seeded: tuple[es.Workspace, dict[str, Any]], tmp_path: Path) -> None:
    ws, second = seeded
    text = json.dumps(second, indent=1)
    bad = tmp_path / "bad.json"
    bad.write_text(text[: len(text) // 2])  # cut off in the middle
    err = _fails(ws, lambda: ws.import_coco(bad), path=bad)
    assert err.line is not None
    assert err.line > 1
    assert f"{bad}:{err.line}" in str(err)
    assert "JSON" in str(err)


def _fault(
    seeded: tuple[es.Workspace, dict[str, Any]],
    tmp_path: Path,
    index: int,
    change: dict[str, Any],
) -> tuple[es.Workspace, es.InvalidInputError, Path]:
    ws, second = seeded
    second["annotations"][index].update(change)
    bad = _write(tmp_path, second)
    return ws, _fails(ws, lambda: ws.import_coco(bad), path=bad), bad


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"image_id": 987654321}, "image_id", "987654321"),
        ({"category_id": 4242}, "category_id", "4242"),
        ({"bbox": [10.0, 10.0, -5.0, 3.0]}, "bbox", "negative"),
        ({"bbox": [10.0, 10.0, 5.0]}, "bbox", "bbox"),
        ({"bbox": [10.0, 10.0, 5.0, 3.0, 1.0]}, "bbox", "bbox"),
    ],
    ids=["unknown-image", "unknown-category", "negative-size", "bbox-3", "bbox-5"],
)
def test_bad_annotation_fields(
    seeded: tuple[es.Workspace, dict[str, Any]],
    tmp_path: Path,
    change: dict[str, Any],
    field: str,
    words: str,
) -> None:
    _, err, _ = _fault(seeded, tmp_path, 7, change)
    assert err.location == "annotations[7]"
    assert err.field == field
    assert "annotations[7]" in str(err)
    assert repr(field) in str(err)
    assert words in str(err)


def test_mask_size_differs_from_image(
    seeded: tuple[es.Workspace, dict[str, Any]], tmp_path: Path
) -> None:
    _, second = seeded
    index = next(i for i, a in enumerate(second["annotations"]) if a["iscrowd"])
    seg = second["annotations"][index]["segmentation"]
    h, w = seg["size"]
    mask = decode_segmentation(seg, h, w)
    grown = np.zeros((h + 3, w), dtype=np.uint8, order="F")
    grown[:h] = mask
    rle = mask_utils.encode(grown)
    bad_seg = {"size": [h + 3, w], "counts": rle["counts"].decode("ascii")}
    _, err, _ = _fault(seeded, tmp_path, index, {"segmentation": bad_seg})
    assert err.location == f"annotations[{index}]"
    assert err.field == "mask"
    assert f"{w}x{h + 3}" in str(err)
    assert f"{w}x{h}" in str(err)


def test_duplicate_annotation_id(
    seeded: tuple[es.Workspace, dict[str, Any]], tmp_path: Path
) -> None:
    _, second = seeded
    dup = second["annotations"][2]["id"]
    _, err, _ = _fault(seeded, tmp_path, 9, {"id": dup})
    assert err.location == "annotations[2]"
    assert "annotations[2]" in str(err)
    assert err.field == "uuid"
    assert str(dup) in str(err)
    assert "duplicate" in str(err)


def test_results_list_without_gt_is_a_clear_error(ws: es.Workspace) -> None:
    ws.import_coco(_gt_path())
    results = shared_path("coco-val2014-100", "instances_val2014_fakebbox100_results.json")
    err = _fails(ws, lambda: ws.import_coco(results, run="boxes"), path=results)
    assert "gt" in str(err)
    assert "results" in str(err)
    assert "boxes" not in [r.name for r in ws.runs()]


@pytest.mark.parametrize("score", [1.5, -0.1])
def test_score_out_of_range(ws: es.Workspace, tmp_path: Path, score: float) -> None:
    ws.import_coco(_gt_path())
    results = shared_path("coco-val2014-100", "instances_val2014_fakebbox100_results.json")
    doc = json.loads(results.read_text())
    doc[11]["score"] = score
    bad = _write(tmp_path, doc, "results.json")
    err = _fails(ws, lambda: ws.import_coco(bad, run="boxes", gt=_gt_path()), path=bad)
    assert err.location == "$[11]"
    assert err.field == "confidence"
    assert "$[11]" in str(err)
    assert str(score) in str(err)
    assert "boxes" not in [r.name for r in ws.runs()]
