"""Labelbox-style matching, IoU and TIDE error types (core/matching.py)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from errorscope.core.geometry import rle_from_polygons
from errorscope.core.matching import Objects, box_iou, iou_pairs, mask_iou, match


def objs(
    rows: list[int], classes: list[int], boxes: list[list[float]], scores: list[float] | None = None
) -> Objects:
    return Objects(
        row=np.array(rows, np.int64),
        cls=np.array(classes, np.int64),
        boxes=np.array(boxes, np.float64).reshape(-1, 4),
        score=None if scores is None else np.array(scores, np.float64),
    )


# -- IoU ------------------------------------------------------------------------------------
def test_box_iou_continuous_and_legacy() -> None:
    a, b = [[0, 0, 10, 10]], [[5, 5, 15, 15]]
    assert box_iou(a, b)[0, 0] == pytest.approx(25 / 175)
    # pixel-inclusive: each box is 11 x 11, the overlap 6 x 6
    assert box_iou(a, b, legacy=True)[0, 0] == pytest.approx(36 / (121 + 121 - 36))
    assert box_iou(a, [[20, 20, 30, 30]])[0, 0] == 0.0
    assert box_iou(a, a)[0, 0] == 1.0
    assert box_iou([[3, 3, 3, 3]], [[3, 3, 3, 3]])[0, 0] == 0.0  # empty boxes
    assert box_iou(np.zeros((0, 4)), a).shape == (0, 1)


def _rle(box: list[float], h: int = 40, w: int = 40) -> dict[str, object]:
    x1, y1, x2, y2 = box
    counts = rle_from_polygons([[x1, y1, x1, y2, x2, y2, x2, y1]], h, w)
    return {"size": [h, w], "counts": counts.encode("ascii")}


def test_mask_iou_of_integer_boxes_equals_box_iou() -> None:
    boxes = [[0, 0, 10, 10], [5, 5, 15, 15], [2, 8, 30, 12], [20, 20, 39, 39]]
    got = mask_iou([_rle(b) for b in boxes], [_rle(b) for b in boxes])
    np.testing.assert_allclose(got, box_iou(boxes, boxes), atol=1e-12)
    direct = mask_utils.iou([_rle(boxes[0])], [_rle(boxes[1])], [0])
    assert got[0, 1] == pytest.approx(float(direct[0][0]))


box_st = st.tuples(
    st.integers(0, 20), st.integers(0, 20), st.integers(0, 12), st.integers(0, 12)
).map(lambda t: [float(t[0]), float(t[1]), float(t[0] + t[2]), float(t[1] + t[3])])


@settings(deadline=None)
@given(st.lists(box_st, min_size=1, max_size=6), st.lists(box_st, min_size=1, max_size=6))
def test_iou_is_symmetric_and_in_unit_interval(a: list[list[float]], b: list[list[float]]) -> None:
    for legacy in (False, True):
        ab = box_iou(a, b, legacy=legacy)
        assert np.all((ab >= 0) & (ab <= 1))
        np.testing.assert_allclose(ab, box_iou(b, a, legacy=legacy).T)


@settings(deadline=None)
@given(st.lists(box_st, min_size=1, max_size=8), st.lists(box_st, min_size=1, max_size=8))
def test_iou_pairs_are_the_positive_entries_of_the_matrix(
    a: list[list[float]], b: list[list[float]]
) -> None:
    gt = objs([1] * len(a), [0] * len(a), a)
    dt = objs([1] * len(b), [0] * len(b), b, [1.0] * len(b))
    pg, pd, piou = iou_pairs(gt, dt)
    full = box_iou(a, b)
    got = np.zeros_like(full)
    got[pg, pd] = piou
    np.testing.assert_allclose(got, full, atol=1e-12)
    assert len(pg) == int((full > 0).sum())


# -- Labelbox greedy matching ----------------------------------------------------------------
def test_greedy_takes_the_highest_iou_not_the_highest_score() -> None:
    gt = objs([1], [0], [[0, 0, 10, 10]])
    dt = objs([1, 1], [0, 0], [[0, 0, 10, 7], [0, 0, 10, 9]], [0.99, 0.6])
    m = match(gt, dt)
    assert m.gt_match.tolist() == [1]
    assert m.gt_iou[0] == pytest.approx(0.9)
    assert m.dt_status.tolist() == ["FP", "TP"]
    assert m.dt_error.tolist() == ["duplicate", ""]


def test_threshold_is_strict_and_low_confidence_is_ignored() -> None:
    gt = objs([1, 1], [0, 0], [[0, 0, 10, 10], [20, 20, 30, 30]])
    # IoU exactly 0.5 does not match (Labelbox: IoU > threshold)
    dt = objs([1, 1], [0, 0], [[0, 0, 10, 5], [20, 20, 30, 30]], [0.9, 0.4])
    m = match(gt, dt, iou_threshold=0.5, confidence=0.5)
    assert m.gt_status.tolist() == ["FN", "FN"]
    assert m.dt_status.tolist() == ["FP", "ignored"]
    assert m.dt_kept.tolist() == [True, False]
    assert m.dt_error.tolist() == ["localisation", ""]
    assert m.gt_error.tolist() == ["", "missed"]  # the first is blamed on the prediction
    m = match(gt, dt, iou_threshold=0.49, confidence=0.4)
    assert m.gt_status.tolist() == ["TP", "TP"]
    assert m.dt_match.tolist() == [0, 1]


def test_matching_is_per_row_and_class_unless_cross_class() -> None:
    gt = objs([1, 2], [0, 0], [[0, 0, 10, 10], [0, 0, 10, 10]])
    dt = objs([2, 1], [0, 1], [[0, 0, 10, 10], [0, 0, 10, 10]], [0.9, 0.9])
    m = match(gt, dt)
    assert m.gt_status.tolist() == ["FN", "TP"]
    assert m.gt_match.tolist() == [-1, 0]
    assert m.dt_error.tolist() == ["", "classification"]
    x = match(gt, dt, cross_class=True)
    assert x.gt_match.tolist() == [1, 0]  # row 1 matches across classes
    assert x.gt_status.tolist() == ["FN", "TP"]  # but a different class is not a TP
    assert x.dt_status.tolist() == ["TP", "FP"]
    assert x.gt_error.tolist() == ["classification", ""]


def test_tide_error_types() -> None:
    gt = objs([1, 1], [0, 1], [[0, 0, 10, 10], [100, 100, 110, 110]])
    dt = objs(
        [1, 1, 1, 1, 1, 1],
        [0, 0, 0, 2, 2, 0],
        [
            [0, 0, 10, 10],  # TP
            [0, 0, 10, 10],  # duplicate of the TP
            [0, 0, 10, 3],  # localisation (IoU 0.3 with its class)
            [100, 100, 110, 110],  # classification (IoU 1 with class 1)
            [100, 100, 110, 103],  # both (IoU 0.3 with another class)
            [50, 50, 60, 60],  # background
        ],
        [0.9, 0.8, 0.8, 0.8, 0.8, 0.8],
    )
    m = match(gt, dt)
    assert m.dt_status.tolist() == ["TP", "FP", "FP", "FP", "FP", "FP"]
    assert m.dt_error.tolist() == [
        "",
        "duplicate",
        "localisation",
        "classification",
        "both",
        "background",
    ]
    assert m.gt_error.tolist() == ["", ""]  # gt 1 is accounted for by the class error


# -- properties -----------------------------------------------------------------------------
obj_st = st.tuples(st.integers(1, 3), st.integers(0, 2), box_st)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(obj_st, max_size=12),
    st.lists(st.tuples(obj_st, st.sampled_from([0.2, 0.5, 0.7, 0.9])), max_size=14),
    st.sampled_from([0.1, 0.3, 0.5, 0.75]),
    st.sampled_from([0.0, 0.5, 0.8]),
    st.booleans(),
    st.randoms(use_true_random=False),
)
def test_count_identities_and_order_invariance(
    gts: list[tuple[int, int, list[float]]],
    dts: list[tuple[tuple[int, int, list[float]], float]],
    thr: float,
    conf: float,
    cross: bool,
    rnd: object,
) -> None:
    gt = objs([g[0] for g in gts], [g[1] for g in gts], [g[2] for g in gts])
    dt = objs(
        [d[0][0] for d in dts], [d[0][1] for d in dts], [d[0][2] for d in dts], [d[1] for d in dts]
    )
    m = match(gt, dt, iou_threshold=thr, confidence=conf, cross_class=cross)
    tp = int((m.gt_status == "TP").sum())
    fn = int((m.gt_status == "FN").sum())
    fp = int((m.dt_status == "FP").sum())
    kept = sum(1 for d in dts if d[1] >= conf)
    assert tp + fn == len(gts)
    assert tp + fp == kept
    assert int((m.dt_status == "TP").sum()) == tp
    # every match is one-to-one, within a row, above the threshold, mutual
    for g in np.nonzero(m.gt_match >= 0)[0]:
        d = m.gt_match[g]
        assert m.dt_match[d] == g
        assert gt.row[g] == dt.row[d]
        assert cross or gt.cls[g] == dt.cls[d]
        assert m.gt_iou[g] > thr
        assert m.gt_iou[g] == pytest.approx(box_iou(gt.boxes[g], dt.boxes[d])[0, 0])
    # greedy = maximal: no free gt and free kept prediction could still be matched
    free_g = np.nonzero(m.gt_match < 0)[0]
    free_d = np.nonzero((m.dt_match < 0) & m.dt_kept)[0]
    for g in free_g:
        for d in free_d:
            same = cross or gt.cls[g] == dt.cls[d]
            if same and gt.row[g] == dt.row[d]:
                assert box_iou(gt.boxes[g], dt.boxes[d])[0, 0] <= thr
    # shuffling the inputs changes nothing but the indices
    import random

    assert isinstance(rnd, random.Random)
    pg = np.array(rnd.sample(range(len(gts)), len(gts)), np.int64)
    pd = np.array(rnd.sample(range(len(dts)), len(dts)), np.int64)
    m2 = match(gt.take(pg), dt.take(pd), iou_threshold=thr, confidence=conf, cross_class=cross)
    assert _summary(m2, dt.take(pd)) == _summary(m, dt)
    np.testing.assert_array_equal(
        np.sort(m2.gt_iou[~np.isnan(m2.gt_iou)]), np.sort(m.gt_iou[~np.isnan(m.gt_iou)])
    )


def _summary(m: object, dt: Objects) -> tuple[int, int, int, list[str]]:
    from errorscope.core.matching import Matching

    assert isinstance(m, Matching)
    status: npt.NDArray[np.object_] = m.dt_status
    return (
        int((m.gt_status == "TP").sum()),
        int((m.gt_status == "FN").sum()),
        int((status == "FP").sum()),
        sorted(m.dt_error.tolist()),
    )
