"""COCO evaluation (core/cocoeval.py) against pycocotools, on real and random data."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import errorscope as es
from errorscope.core.cocoeval import (
    IOU_THRESHOLDS,
    STAT_NAMES,
    CocoEval,
    CocoObjects,
    evaluate_coco,
)
from errorscope.core.geometry import rle_from_polygons
from errorscope.core.iou import box_iou, coco_box_iou
from tests.conftest import shared_path

# cocodataset/cocoapi's fixture, expected stats as recorded in ../shared/data/README.md
EXPECTED = {
    "bbox": [
        0.5045806987, 0.6969727247, 0.5729816670, 0.5856257209, 0.5193996948, 0.5013978986,
        0.3868127796, 0.5936795763, 0.5953529829, 0.6398109626, 0.5664205979, 0.5642905983,
    ],
    "segm": [
        0.3195452759, 0.5622883973, 0.2989265341, 0.3873740316, 0.3101827240, 0.3269339071,
        0.2682297226, 0.4154486811, 0.4168394992, 0.4694498623, 0.3767592267, 0.3814715100,
    ],
}  # fmt: skip
RESULTS = {
    "bbox": "instances_val2014_fakebbox100_results.json",
    "segm": "instances_val2014_fakesegm100_results.json",
}


# --------------------------------------------------------------------------- helpers


def quiet_cocoeval(
    gt_doc: dict[str, Any], results: list[dict[str, Any]], iou_type: str
) -> COCOeval:
    """pycocotools' full evaluate/accumulate/summarize on in-memory documents."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt_doc
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results) if results else COCO()
        ev = COCOeval(coco_gt, coco_dt, iou_type)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


def seg_rle(seg: Any, h: int, w: int) -> dict[str, Any]:
    """A COCO segmentation (polygons, uncompressed or compressed RLE) as a compressed RLE."""
    if isinstance(seg, list):
        return dict(mask_utils.merge(mask_utils.frPyObjects(seg, h, w)))
    if isinstance(seg["counts"], list):
        return dict(mask_utils.frPyObjects(seg, h, w))
    counts = seg["counts"]
    return {"size": seg["size"], "counts": counts.encode() if isinstance(counts, str) else counts}


def objects_from_json(
    gt_doc: dict[str, Any], results: list[dict[str, Any]], iou_type: str
) -> tuple[CocoObjects, CocoObjects]:
    """CocoObjects straight from a COCO file and a results list (no pycocotools index)."""
    sizes = {im["id"]: (im["height"], im["width"]) for im in gt_doc["images"]}
    anns = gt_doc["annotations"]
    segm = iou_type == "segm"
    gt = CocoObjects(
        image_id=np.array([a["image_id"] for a in anns], dtype=np.int64),
        class_id=np.array([a["category_id"] for a in anns], dtype=np.int64),
        boxes=np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4),
        area=np.array([a["area"] for a in anns], dtype=np.float64),
        iscrowd=np.array([bool(a.get("iscrowd", 0)) for a in anns]),
        score=None,
        rles=[seg_rle(a["segmentation"], *sizes[a["image_id"]]) for a in anns] if segm else None,
    )
    if segm:
        rles = [seg_rle(r["segmentation"], *sizes[r["image_id"]]) for r in results]
        area = np.array([mask_utils.area(r) for r in rles], dtype=np.float64)
        boxes = np.array([mask_utils.toBbox(r) for r in rles], dtype=np.float64).reshape(-1, 4)
    else:
        rles = None
        boxes = np.array([r["bbox"] for r in results], dtype=np.float64).reshape(-1, 4)
        area = boxes[:, 2] * boxes[:, 3]
    dt = CocoObjects(
        image_id=np.array([r["image_id"] for r in results], dtype=np.int64),
        class_id=np.array([r["category_id"] for r in results], dtype=np.int64),
        boxes=boxes,
        area=area,
        iscrowd=np.zeros(len(results), dtype=np.bool_),
        score=np.array([r["score"] for r in results], dtype=np.float64),
        rles=rles,
    )
    return gt, dt


def objects_from_workspace(
    ws: es.Workspace, run: str | None, iou_type: str
) -> tuple[CocoObjects, NDArray[np.int64]]:
    """A small reader: labels (``run=None``) or a run's predictions as CocoObjects,
    plus the annotation ids in the same order."""
    table = ws.labels() if run is None else ws.predictions(run)
    table = table.sort_by("id")
    cols = table.to_pydict()
    class_ids = {c.name: c.id for c in ws.classes()}
    rows = ws.data_rows().to_pydict()
    size = {r: (h, w) for r, h, w in zip(rows["id"], rows["height"], rows["width"], strict=True)}
    x1, y1, x2, y2 = (np.asarray(cols[c], dtype=np.float64) for c in ("x1", "y1", "x2", "y2"))
    boxes = np.stack([x1, y1, x2 - x1, y2 - y1], axis=1)
    rles: list[dict[str, Any]] | None = None
    if iou_type == "segm":
        rles = []
        for row, coords, counts, h, w in zip(
            cols["data_row_id"], cols["coords"], cols["rle_counts"], cols["rle_h"], cols["rle_w"],
            strict=True,
        ):  # fmt: skip
            if counts is None:
                ih, iw = size[row]
                counts, h, w = rle_from_polygons(coords, ih, iw), ih, iw
            rles.append({"size": [h, w], "counts": counts.encode()})
    area = np.array([np.nan if a is None else a for a in cols["area"]], dtype=np.float64)
    area = np.where(np.isnan(area), boxes[:, 2] * boxes[:, 3], area)  # as export_coco
    if run is not None:  # pycocotools' loadRes: box area, or mask area for segm
        area = (
            np.array([mask_utils.area(r) for r in rles], dtype=np.float64)
            if rles is not None
            else boxes[:, 2] * boxes[:, 3]
        )
    confidence = cols.get("confidence")
    objects = CocoObjects(
        image_id=np.asarray(cols["data_row_id"], dtype=np.int64),
        class_id=np.array([class_ids[n] for n in cols["class_name"]], dtype=np.int64),
        boxes=boxes,
        area=area,
        iscrowd=np.asarray(cols["iscrowd"], dtype=np.bool_),
        score=None if confidence is None else np.asarray(confidence, dtype=np.float64),
        rles=rles,
    )
    return objects, np.asarray(cols["id"], dtype=np.int64)


def ids_of(index: Any, ids: Any) -> Any:
    """pycocotools' convention: the matched annotation's id, 0 for none."""
    out = np.zeros(len(index), dtype=np.int64)
    out[index >= 0] = ids[index[index >= 0]]
    return out


def assert_matches_agree(ours: CocoEval, ev: COCOeval, gt_ids: Any, dt_ids: Any) -> None:
    """dt_match at every IoU threshold equals evalImgs' dtMatches (area all, maxDets 100);
    ``gt_ids[i]``/``dt_ids[i]`` are pycocotools' annotation ids of our row i."""
    seen = 0
    n_area, n_img = len(ev.params.areaRng), len(ev.params.imgIds)
    for k in range(len(ev.params.catIds)):
        for i in range(n_img):
            e = ev.evalImgs[k * n_area * n_img + i]
            if e is None:
                continue
            for col, dt_id in enumerate(e["dtIds"]):
                row = int(np.flatnonzero(dt_ids == dt_id)[0])
                ours_ids = ids_of(ours.dt_match[:, row], gt_ids)
                np.testing.assert_array_equal(ours_ids, e["dtMatches"][:, col])
                np.testing.assert_array_equal(ours.dt_ignore[:, row], e["dtIgnore"][:, col])
                seen += 1
            for col, gt_id in enumerate(e["gtIds"]):
                row = int(np.flatnonzero(gt_ids == gt_id)[0])
                theirs = e["gtMatches"][:, col]
                ours_ids = ids_of(ours.gt_match[:, row], dt_ids)
                np.testing.assert_array_equal(ours_ids, theirs)
    assert seen == int(ours.dt_evaluated.sum())


def assert_same_as(ours: CocoEval, ev: COCOeval) -> None:
    np.testing.assert_allclose(ours.stats, ev.stats, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.precision, ev.eval["precision"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.recall, ev.eval["recall"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(ours.scores, ev.eval["scores"], rtol=0, atol=1e-12)


# --------------------------------------------------------------------------- real data


@pytest.mark.shared_data
@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_coco_val2014_from_json(iou_type: str) -> None:
    gt_doc = json.loads(shared_path("coco-val2014-100", "instances_val2014_100.json").read_text())
    results = json.loads(shared_path("coco-val2014-100", RESULTS[iou_type]).read_text())
    gt, dt = objects_from_json(gt_doc, results, iou_type)
    image_ids = np.array([im["id"] for im in gt_doc["images"]], dtype=np.int64)
    ours = evaluate_coco(gt, dt, image_ids=image_ids, iou_type=iou_type)  # type: ignore[arg-type]

    np.testing.assert_allclose(ours.stats, EXPECTED[iou_type], rtol=0, atol=1e-6)
    assert list(ours.stats_dict()) == list(STAT_NAMES)

    # the same run of pycocotools: every array equal, every match equal
    ev = quiet_cocoeval(json.loads(json.dumps(gt_doc)), json.loads(json.dumps(results)), iou_type)
    ours = evaluate_coco(
        gt,
        dt,
        image_ids=image_ids,
        iou_type=iou_type,  # type: ignore[arg-type]
        class_ids=np.array(ev.params.catIds, dtype=np.int64),
    )
    assert_same_as(ours, ev)
    gt_ids = np.array([a["id"] for a in gt_doc["annotations"]], dtype=np.int64)
    dt_ids = np.arange(1, len(results) + 1, dtype=np.int64)  # loadRes numbers from 1
    assert_matches_agree(ours, ev, gt_ids, dt_ids)
    np.testing.assert_array_equal(ours.gt_ignore, gt.iscrowd)
    # per-class AP averages to the AP stat over the classes that have ground truth
    per_class = ours.per_class_ap()
    assert np.isclose(np.nanmean(per_class), ours.stats[0], atol=1e-12)
    cats_with_gt = set(gt.class_id.tolist())
    assert {
        int(c) for c, ap in zip(ours.class_ids, per_class, strict=True) if not np.isnan(ap)
    } == (cats_with_gt)
    # IoU of a match is at least its threshold
    matched = ours.dt_match >= 0
    assert (ours.dt_iou[matched] >= np.broadcast_to(IOU_THRESHOLDS[:, None], matched.shape)[
        matched
    ] - 1e-12).all()  # fmt: skip
    assert np.isnan(ours.dt_iou[~matched]).all()


@pytest.mark.shared_data
@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_coco_val2014_through_a_workspace(ws: es.Workspace, iou_type: str) -> None:
    gt_path = shared_path("coco-val2014-100", "instances_val2014_100.json")
    ws.import_coco(gt_path)
    ws.import_coco(shared_path("coco-val2014-100", RESULTS[iou_type]), run="r", gt=gt_path)
    gt, _ = objects_from_workspace(ws, None, iou_type)
    dt, _ = objects_from_workspace(ws, "r", iou_type)
    assert (len(gt), len(dt)) == (839, 734)
    image_ids = np.asarray(ws.data_rows().column("id").to_pylist(), dtype=np.int64)
    ours = evaluate_coco(gt, dt, image_ids=image_ids, iou_type=iou_type)  # type: ignore[arg-type]
    np.testing.assert_allclose(ours.stats, EXPECTED[iou_type], rtol=0, atol=1e-6)


@pytest.mark.shared_data
def test_voc100_equals_pycocotools_on_the_exported_files(ws: es.Workspace, tmp_path: Path) -> None:
    voc = shared_path("voc100")
    ws.import_voc(voc / "gts" / "pascalvoc_format", images_dir=voc / "images")
    ws.import_yolo(voc / "dets" / "abs_xywh", names=voc / "voc.names", layout="ltwh", run="dets")
    gt, gt_label_ids = objects_from_workspace(ws, None, "bbox")
    dt, _ = objects_from_workspace(ws, "dets", "bbox")
    assert (len(gt), len(dt)) == (273, 452)
    image_ids = np.asarray(ws.data_rows().column("id").to_pylist(), dtype=np.int64)
    ours = evaluate_coco(gt, dt, image_ids=image_ids)

    ws.export_coco(tmp_path / "gt.json")
    ws.export_coco(tmp_path / "dets.json", run="dets", results=True)
    gt_doc = json.loads((tmp_path / "gt.json").read_text())
    results = json.loads((tmp_path / "dets.json").read_text())
    ev = quiet_cocoeval(gt_doc, results, "bbox")
    np.testing.assert_allclose(ours.stats, ev.stats, rtol=0, atol=1e-6)
    # README: AP 0.347, AP50 0.610, AP75 0.354
    np.testing.assert_allclose(ours.stats[:3], [0.347, 0.610, 0.354], atol=5e-4)

    # per-object matches at every threshold: pair our rows with the exported annotations
    # by (image, category, box, score)
    def key(image: Any, cat: Any, box: Any, score: Any = None) -> tuple[Any, ...]:
        return (int(image), int(cat), *np.round(np.asarray(box, dtype=float), 6), score)

    gt_index = {
        key(a["image_id"], a["category_id"], a["bbox"]): a["id"] for a in gt_doc["annotations"]
    }
    dt_index = {
        key(r["image_id"], r["category_id"], r["bbox"], round(r["score"], 9)): i + 1
        for i, r in enumerate(results)
    }
    assert len(gt_index) == 273
    gt_ids = np.array(
        [gt_index[key(*k)] for k in zip(gt.image_id, gt.class_id, gt.boxes, strict=True)]
    )
    assert dt.score is not None
    dt_ids = np.array(
        [
            dt_index[key(i, c, b, round(float(s), 9))]
            for i, c, b, s in zip(dt.image_id, dt.class_id, dt.boxes, dt.score, strict=True)
        ]
    )
    ours = evaluate_coco(gt, dt, image_ids=image_ids, class_ids=np.array(ev.params.catIds))
    assert_same_as(ours, ev)
    assert_matches_agree(ours, ev, gt_ids, dt_ids)
    assert len(set(gt_label_ids.tolist())) == 273


# --------------------------------------------------------------------------- random scenes


def random_scene(
    seed: int, *, n_img: int, segm: bool = False
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Boxes on a coarse grid (so IoUs and scores tie), crowds, areas around 32² and 96²,
    sometimes more than 100 detections on one image and class."""
    rng = np.random.default_rng(seed)
    side = 160
    images = [{"id": int(i) * 3 + 7, "height": side, "width": side} for i in range(n_img)]
    cats = [{"id": c, "name": f"c{c}"} for c in (2, 5, 9)]

    def box() -> list[float]:
        scale = rng.choice([4.0, 8.0, 16.0])
        x, y = (float(v) for v in rng.integers(0, side // scale, 2) * scale)
        w, h = (float(v) for v in rng.integers(1, 8, 2) * scale)
        return [x, y, min(w, side - x), min(h, side - y)]

    def as_mask(b: list[float]) -> dict[str, Any]:
        m = np.zeros((side, side), dtype=np.uint8, order="F")
        x, y, w, h = (int(v) for v in b)
        m[y : y + h, x : x + w] = 1
        return dict(mask_utils.encode(m))

    anns: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for im in images:
        for c in cats:
            truth = [box() for _ in range(int(rng.integers(0, 5)))]
            for b in truth:
                crowd = int(rng.random() < 0.15)
                ann = {
                    "id": len(anns) + 1,
                    "image_id": im["id"],
                    "category_id": c["id"],
                    "bbox": b,
                    "area": b[2] * b[3] * float(rng.choice([1.0, 0.9, 1.1])),
                    "iscrowd": crowd,
                }
                if segm:
                    rle = as_mask(b)
                    ann["segmentation"] = (
                        {"size": rle["size"], "counts": rle["counts"].decode()} if crowd else rle
                    )
                anns.append(ann)
            n_dt = int(rng.choice([0, 1, 3, 8, 120], p=[0.2, 0.3, 0.3, 0.15, 0.05]))
            for _ in range(n_dt):
                if truth and rng.random() < 0.6:
                    t = truth[int(rng.integers(len(truth)))]
                    jitter = rng.integers(-1, 2, 4) * 4.0
                    b = [max(t[0] + jitter[0], 0.0), max(t[1] + jitter[1], 0.0)]
                    b += [max(t[2] + jitter[2], 4.0), max(t[3] + jitter[3], 4.0)]
                    b = [b[0], b[1], min(b[2], side - b[0]), min(b[3], side - b[1])]
                else:
                    b = box()
                r: dict[str, Any] = {
                    "image_id": im["id"],
                    "category_id": c["id"],
                    "score": float(rng.integers(1, 6)) / 5,
                }
                if segm:
                    r["segmentation"] = as_mask(b)
                else:
                    r["bbox"] = b
                results.append(r)
    return {"images": images, "categories": cats, "annotations": anns}, results


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), n_img=st.integers(1, 12))
def test_random_bbox_scenes_equal_pycocotools(seed: int, n_img: int) -> None:
    gt_doc, results = random_scene(seed, n_img=n_img)
    if not results:
        return
    gt, dt = objects_from_json(gt_doc, results, "bbox")
    ev = quiet_cocoeval(gt_doc, [dict(r) for r in results], "bbox")
    image_ids = np.array(ev.params.imgIds, dtype=np.int64)
    ours = evaluate_coco(gt, dt, image_ids=image_ids, class_ids=np.array(ev.params.catIds))
    assert_same_as(ours, ev)
    gt_ids = np.array([a["id"] for a in gt_doc["annotations"]], dtype=np.int64)
    assert_matches_agree(ours, ev, gt_ids, np.arange(1, len(results) + 1))
    # input order across images does not matter (only the order within an image does)
    by_image = np.argsort(-dt.image_id, kind="stable")
    shuffled = CocoObjects(
        dt.image_id[by_image],
        dt.class_id[by_image],
        dt.boxes[by_image],
        dt.area[by_image],
        dt.iscrowd[by_image],
        None if dt.score is None else dt.score[by_image],
    )
    again = evaluate_coco(gt, shuffled, image_ids=image_ids, class_ids=ours.class_ids)
    np.testing.assert_array_equal(again.precision, ours.precision)
    np.testing.assert_array_equal(again.dt_match, ours.dt_match[:, by_image])


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_random_segm_scenes_equal_pycocotools(seed: int) -> None:
    gt_doc, results = random_scene(seed, n_img=4, segm=True)
    if not results:
        return
    gt, dt = objects_from_json(gt_doc, results, "segm")
    ev = quiet_cocoeval(gt_doc, [dict(r) for r in results], "segm")
    ours = evaluate_coco(
        gt,
        dt,
        image_ids=np.array(ev.params.imgIds, dtype=np.int64),
        iou_type="segm",
        class_ids=np.array(ev.params.catIds),
    )
    assert_same_as(ours, ev)
    gt_ids = np.array([a["id"] for a in gt_doc["annotations"]], dtype=np.int64)
    assert_matches_agree(ours, ev, gt_ids, np.arange(1, len(results) + 1))


# --------------------------------------------------------------------------- small cases


def objs(
    boxes: list[list[float]],
    *,
    image: list[int] | None = None,
    cls: list[int] | None = None,
    crowd: list[bool] | None = None,
    score: list[float] | None = None,
) -> CocoObjects:
    b = np.array(boxes, dtype=np.float64).reshape(-1, 4)
    n = len(b)
    return CocoObjects(
        image_id=np.array(image or [1] * n, dtype=np.int64),
        class_id=np.array(cls or [1] * n, dtype=np.int64),
        boxes=b,
        area=b[:, 2] * b[:, 3],
        iscrowd=np.array(crowd or [False] * n, dtype=np.bool_),
        score=None if score is None else np.array(score, dtype=np.float64),
    )


def test_perfect_detections_score_one_and_misses_score_zero() -> None:
    gt = objs([[0, 0, 50, 50], [100, 100, 10, 10]], image=[1, 2])
    dt = objs([[0, 0, 50, 50], [100, 100, 10, 10]], image=[1, 2], score=[0.9, 0.8])
    ours = evaluate_coco(gt, dt, image_ids=np.array([1, 2]))
    assert ours.stats[0] == pytest.approx(1.0)
    np.testing.assert_array_equal(ours.dt_match, [[0, 1]] * 10)
    np.testing.assert_array_equal(ours.gt_match, [[0, 1]] * 10)
    far = objs([[300, 300, 5, 5]], score=[0.9])
    missed = evaluate_coco(gt, far, image_ids=np.array([1, 2]))
    assert missed.stats[0] == 0.0
    assert (missed.dt_match == -1).all()
    assert not missed.dt_ignore.any()


def test_crowd_ground_truth_absorbs_detections_and_is_not_counted() -> None:
    gt = objs([[0, 0, 100, 100], [200, 200, 20, 20]], crowd=[True, False])
    dt = objs([[10, 10, 20, 20], [20, 20, 20, 20], [200, 200, 20, 20]], score=[0.9, 0.8, 0.7])
    ours = evaluate_coco(gt, dt, image_ids=np.array([1]))
    # both small detections inside the crowd box match it (IoU = 1: union = dt area)
    np.testing.assert_array_equal(ours.dt_match[0], [0, 0, 1])
    np.testing.assert_allclose(ours.dt_iou[0], [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(ours.dt_ignore[0], [True, True, False])
    assert ours.gt_ignore.tolist() == [True, False]
    assert ours.stats[0] == pytest.approx(1.0)


def test_only_the_best_100_detections_per_image_and_class_count() -> None:
    gt = objs([[0, 0, 10, 10]])
    boxes = [[500.0, 500.0, 10.0, 10.0]] * 100 + [[0.0, 0.0, 10.0, 10.0]]
    dt = objs(boxes, score=[0.9] * 100 + [0.5])
    ours = evaluate_coco(gt, dt, image_ids=np.array([1]))
    assert not ours.dt_evaluated[100]
    assert ours.dt_match[0, 100] == -1
    assert ours.dt_ignore[0, 100]
    assert ours.stats[8] == 0.0  # AR@100: the true positive was cut


def test_images_and_classes_outside_the_evaluation_are_left_out() -> None:
    gt = objs([[0, 0, 10, 10], [0, 0, 10, 10]], image=[1, 2])
    dt = objs([[0, 0, 10, 10], [50, 50, 10, 10]], image=[1, 2], score=[0.9, 0.9])
    ours = evaluate_coco(gt, dt, image_ids=np.array([1]))
    assert ours.stats[0] == pytest.approx(1.0)
    assert ours.dt_evaluated.tolist() == [True, False]
    only_class_2 = evaluate_coco(gt, dt, image_ids=np.array([1, 2]), class_ids=np.array([2]))
    assert (only_class_2.precision == -1).all()
    assert np.isnan(only_class_2.per_class_ap()).all()
    assert only_class_2.stats.tolist() == [-1.0] * 12


def test_empty_inputs() -> None:
    empty = objs([], score=[])
    ours = evaluate_coco(objs([[0, 0, 5, 5]]), empty, image_ids=np.array([1]))
    assert ours.stats[0] == 0.0
    assert ours.dt_match.shape == (10, 0)
    none = evaluate_coco(objs([]), empty, image_ids=np.array([1]))
    assert none.stats.tolist() == [-1.0] * 12


def test_bad_inputs_are_refused() -> None:
    gt = objs([[0, 0, 5, 5]])
    with pytest.raises(ValueError, match=r"dt\.score is required"):
        evaluate_coco(gt, objs([[0, 0, 5, 5]]), image_ids=np.array([1]))
    bad = objs([[0, 0, 5, 5]])
    bad.boxes = np.zeros((1, 3))
    with pytest.raises(ValueError, match=r"gt\.boxes must have shape"):
        evaluate_coco(bad, objs([], score=[]), image_ids=np.array([1]))
    with pytest.raises(ValueError, match="rles"):
        evaluate_coco(gt, objs([], score=[]), image_ids=np.array([1]), iou_type="segm")
    with pytest.raises(ValueError, match="iou_type"):
        evaluate_coco(gt, objs([], score=[]), image_ids=np.array([1]), iou_type="x")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- IoU


coord = st.integers(0, 10_000).map(lambda v: v / 100)  # 0.01-pixel grid: no float dust
size = st.integers(0, 5_000).map(lambda v: v / 100)
box_lists = st.lists(st.tuples(coord, coord, size, size), min_size=0, max_size=6)


@settings(max_examples=60, deadline=None)
@given(a=box_lists, b=box_lists, crowd=st.lists(st.booleans(), min_size=6, max_size=6))
def test_coco_box_iou_equals_pycocotools(
    a: list[tuple[float, ...]], b: list[tuple[float, ...]], crowd: list[bool]
) -> None:
    ours = coco_box_iou(a, b, crowd[: len(b)])
    assert ours.shape == (len(a), len(b))
    if a and b:
        theirs = mask_utils.iou(
            np.array(a, dtype=np.float64), np.array(b, dtype=np.float64), crowd[: len(b)]
        )
        np.testing.assert_array_equal(ours, theirs)


@settings(max_examples=60, deadline=None)
@given(a=box_lists, b=box_lists, plus_one=st.booleans())
def test_box_iou_symmetric_and_in_unit_interval(
    a: list[tuple[float, ...]], b: list[tuple[float, ...]], plus_one: bool
) -> None:
    xa = np.array([[x, y, x + w, y + h] for x, y, w, h in a], dtype=np.float64).reshape(-1, 4)
    xb = np.array([[x, y, x + w, y + h] for x, y, w, h in b], dtype=np.float64).reshape(-1, 4)
    ab, ba = box_iou(xa, xb, plus_one=plus_one), box_iou(xb, xa, plus_one=plus_one)
    np.testing.assert_allclose(ab, ba.T, rtol=0, atol=1e-12)
    assert ((ab >= 0) & (ab <= 1 + 1e-12)).all()
    if not plus_one and a and b:  # continuous IoU equals pycocotools' on the same boxes
        theirs = mask_utils.iou(
            np.array(a, dtype=np.float64), np.array(b, dtype=np.float64), [0] * len(b)
        )
        # x + w then (x + w) - x is not w in floating point: on boxes a few hundredths of
        # a pixel wide that rounding reaches ~1e-7 of IoU, so compare to 1e-6 here (the
        # exact COCO path, coco_box_iou, is compared bit for bit above)
        np.testing.assert_allclose(ab, theirs, rtol=0, atol=1e-6)


def test_box_iou_values() -> None:
    a = [[0, 0, 10, 10]]
    b = [[5, 0, 15, 10], [0, 0, 10, 10], [20, 20, 30, 30], [3, 3, 3, 3]]
    np.testing.assert_allclose(box_iou(a, b), [[50 / 150, 1.0, 0.0, 0.0]])
    # pixel-inclusive: 11x11 boxes overlapping 6x11
    np.testing.assert_allclose(box_iou(a, b[:1], plus_one=True), [[66 / (121 + 121 - 66)]])
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 4)
