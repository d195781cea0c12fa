"""Per row / per class counts and the confusion matrix (core/metrics.py), checked against a
plain-Python restatement of the definitions."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from errorscope.core import metrics
from errorscope.core.matching import Objects, match

gt_st = st.lists(
    st.tuples(
        st.integers(1, 4),
        st.integers(0, 3),
        st.sampled_from(["TP", "FN", "ignored"]),
        st.floats(0.5, 1.0),
    ),
    max_size=25,
)
dt_st = st.lists(
    st.tuples(
        st.integers(1, 4),
        st.integers(0, 3),
        st.sampled_from(["FP", "ignored"]),
        st.floats(0.0, 1.0),
    ),
    max_size=25,
)


def _nan_eq(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b)


def test_prf_definitions() -> None:
    p, r, f = metrics.prf([3, 0, 0], [1, 0, 2], [2, 0, 0])
    assert p[0] == 0.75
    assert r[0] == 0.6
    assert f[0] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert math.isnan(p[1])
    assert math.isnan(r[1])
    assert math.isnan(f[1])
    assert p[2] == 0.0
    assert math.isnan(r[2])
    assert f[2] == 0.0


@settings(max_examples=200, deadline=None)
@given(gt_st, dt_st)
def test_row_class_row_and_class_tables_follow_the_definitions(
    gts: list[tuple[int, int, str, float]], extra: list[tuple[int, int, str, float]]
) -> None:
    # a matched prediction per true positive (same row and class), then the others
    dts = [(g[0], g[1], "TP", g[3] / 2) for g in gts if g[2] == "TP"] + extra
    rc = metrics.by_row_class(
        [g[0] for g in gts],
        [g[1] for g in gts],
        [g[2] for g in gts],
        [g[3] if g[2] == "TP" else math.nan for g in gts],
        [d[0] for d in dts],
        [d[1] for d in dts],
        [d[2] for d in dts],
        [d[3] for d in dts],
    )
    cell: dict[tuple[int, int], dict[str, float]] = defaultdict(
        lambda: {"tp": 0, "fp": 0, "fn": 0, "iou": 0.0, "conf": 0.0, "n": 0}
    )
    for row, cls, status, iou in gts:
        if status == "TP":
            cell[row, cls]["tp"] += 1
            cell[row, cls]["iou"] += iou
        elif status == "FN":
            cell[row, cls]["fn"] += 1
    for row, cls, status, conf in dts:
        if status == "ignored":
            continue
        cell[row, cls]["fp"] += status == "FP"
        cell[row, cls]["conf"] += conf
        cell[row, cls]["n"] += 1
    keys = sorted(cell)
    assert list(zip(rc.row.tolist(), rc.cls.tolist(), strict=True)) == keys
    for i, k in enumerate(keys):
        c = cell[k]
        assert (rc.tp[i], rc.fp[i], rc.fn[i]) == (c["tp"], c["fp"], c["fn"])
        assert rc.iou[i] == pytest.approx(c["iou"] / (c["tp"] + c["fp"] + c["fn"]))
        mean = c["conf"] / c["n"] if c["n"] else math.nan
        assert _nan_eq(float(rc.mean_confidence[i]), mean)
        p = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else math.nan
        assert _nan_eq(float(rc.precision[i]), p)

    rows = metrics.by_row(rc)
    for i, row in enumerate(rows.row.tolist()):
        mine = [cell[k] for k in keys if k[0] == row]
        assert rows.tp[i] == sum(c["tp"] for c in mine)
        assert rows.fn[i] == sum(c["fn"] for c in mine)
        ious = [c["iou"] / (c["tp"] + c["fp"] + c["fn"]) for c in mine]
        assert rows.iou[i] == pytest.approx(sum(ious) / len(ious))  # mean over classes
        n = sum(c["n"] for c in mine)
        assert _nan_eq(
            float(rows.mean_confidence[i]), sum(c["conf"] for c in mine) / n if n else math.nan
        )
    classes = metrics.by_class(rc)
    assert sorted(classes.cls.tolist()) == sorted({k[1] for k in keys})
    for i, cls in enumerate(classes.cls.tolist()):
        mine = [cell[k] for k in keys if k[1] == cls]
        assert classes.fp[i] == sum(c["fp"] for c in mine)
        ious = [c["iou"] / (c["tp"] + c["fp"] + c["fn"]) for c in mine]
        assert classes.iou[i] == pytest.approx(sum(ious) / len(ious))  # mean over rows


box = st.tuples(st.integers(0, 8), st.integers(0, 8)).map(
    lambda t: [float(t[0]), float(t[1]), float(t[0] + 4), float(t[1] + 4)]
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 2), st.integers(0, 2), box), max_size=10),
    st.lists(st.tuples(st.integers(1, 2), st.integers(0, 2), box, st.floats(0, 1)), max_size=10),
)
def test_confusion_matrix_accounts_for_every_object(
    gts: list[tuple[int, int, list[float]]], dts: list[tuple[int, int, list[float], float]]
) -> None:
    gt = Objects(
        np.array([g[0] for g in gts], np.int64),
        np.array([g[1] for g in gts], np.int64),
        np.array([g[2] for g in gts], np.float64).reshape(-1, 4),
    )
    dt = Objects(
        np.array([d[0] for d in dts], np.int64),
        np.array([d[1] for d in dts], np.int64),
        np.array([d[2] for d in dts], np.float64).reshape(-1, 4),
        np.array([d[3] for d in dts], np.float64),
    )
    m = match(gt, dt, cross_class=True)
    labels = [2, 0, 1]  # any order: rows and columns follow it
    cm = metrics.confusion_matrix(
        labels, gt.cls, m.gt_match, np.ones(len(gt), bool), dt.cls, m.dt_kept
    )
    expected = np.zeros((4, 4), np.int64)
    pos = {c: i for i, c in enumerate(labels)}
    for g, d in enumerate(m.gt_match.tolist()):
        expected[pos[int(gt.cls[g])], 3 if d < 0 else pos[int(dt.cls[d])]] += 1
    for d in range(len(dts)):
        if m.dt_kept[d] and m.dt_match[d] < 0:
            expected[3, pos[int(dt.cls[d])]] += 1
    np.testing.assert_array_equal(cm, expected)
    assert cm[:3, :].sum() == len(gts)  # every ground truth once
    assert cm[:, :3].sum() == int(m.dt_kept.sum())  # every kept prediction once
    # without cross-class matching the matrix is diagonal plus the None row/column
    same = match(gt, dt)
    diag = metrics.confusion_matrix(
        labels, gt.cls, same.gt_match, np.ones(len(gt), bool), dt.cls, same.dt_kept
    )
    assert np.count_nonzero(diag[:3, :3] - np.diag(np.diag(diag[:3, :3]))) == 0
    assert np.trace(diag[:3, :3]) == int((same.gt_status == "TP").sum())


def test_empty_inputs() -> None:
    rc = metrics.by_row_class([], [], [], [], [], [], [], [])
    assert len(rc) == 0
    assert len(metrics.by_row(rc)) == 0
    cm = metrics.confusion_matrix([1], [], [], [], [], [])
    assert cm.tolist() == [[0, 0], [0, 0]]
