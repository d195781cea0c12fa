"""The compiled loops of :mod:`errorscope.core.cocoeval` (numba, cached on disk).

Conventions: a *group* is one (image, class) pair. ``gs``/``ds`` list ground-truth and
detection rows group by group (detections by descending score within a group, cut to
the best 100); ``g_start``/``g_end``/``d_start``/``d_end`` bound each group in them.
``acc_pos[p]`` is where the detection at position ``p`` of ``ds`` sits in accumulation
order (class, descending score, image, given order); ``state[i, a, t]`` holds, for
accumulation position ``i``, area range ``a`` and IoU threshold ``t``: 0 false positive,
1 true positive, 2 ignored.
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import NDArray

from errorscope.core.iou import _coco_box_iou_into

__all__ = ["FP", "IGNORED", "TP", "accumulate", "box_ious", "counting_sort", "match"]

FP, TP, IGNORED = 0, 1, 2


@numba.njit(cache=True)
def counting_sort(
    keys: NDArray[np.int64], order: NDArray[np.int64], n_keys: int
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:  # pragma: no cover - compiled
    """``order`` stably re-sorted by ``keys[order]`` (keys in ``[0, n_keys)``), and the
    ``n_keys + 1`` bounds of each key's run."""
    bounds = np.zeros(n_keys + 1, dtype=np.int64)
    for i in order:
        bounds[keys[i] + 1] += 1
    for k in range(n_keys):
        bounds[k + 1] += bounds[k]
    fill = bounds[:-1].copy()
    out = np.empty(len(order), dtype=np.int64)
    for i in order:
        k = keys[i]
        out[fill[k]] = i
        fill[k] += 1
    return out, bounds


@numba.njit(cache=True)
def box_ious(
    dt_boxes: NDArray[np.float64],
    gt_boxes: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
    ds: NDArray[np.int64],
    gs: NDArray[np.int64],
    d_start: NDArray[np.int64],
    d_end: NDArray[np.int64],
    g_start: NDArray[np.int64],
    g_end: NDArray[np.int64],
    off: NDArray[np.int64],
    out: NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """pycocotools' box IoU of each group, row-major (detection, ground truth) at ``off``."""
    for k in range(len(d_start)):
        nd = d_end[k] - d_start[k]
        ng = g_end[k] - g_start[k]
        if nd == 0 or ng == 0:
            continue
        _coco_box_iou_into(
            dt_boxes[ds[d_start[k] : d_end[k]]],
            gt_boxes[gs[g_start[k] : g_end[k]]],
            gt_crowd[gs[g_start[k] : g_end[k]]],
            out[off[k] : off[k] + nd * ng].reshape((nd, ng)),
        )


@numba.njit(cache=True)
def _match_range(
    k_lo: int,
    k_hi: int,
    ious: NDArray[np.float64],
    off: NDArray[np.int64],
    ds: NDArray[np.int64],
    gs: NDArray[np.int64],
    d_start: NDArray[np.int64],
    d_end: NDArray[np.int64],
    g_start: NDArray[np.int64],
    g_end: NDArray[np.int64],
    gt_area: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
    dt_area: NDArray[np.float64],
    area_rng: NDArray[np.float64],
    thrs: NDArray[np.float64],
    acc_pos: NDArray[np.int64],
    state: NDArray[np.uint8],
    dt_match: NDArray[np.int64],
    dt_iou: NDArray[np.float64],
    dt_ignore: NDArray[np.bool_],
    gt_match: NDArray[np.int64],
) -> None:  # pragma: no cover - compiled
    """Groups ``k_lo`` to ``k_hi`` of :func:`match`."""
    n_area = area_rng.shape[0]
    n_thr = len(thrs)
    thr = np.empty(n_thr, dtype=np.float64)
    for t in range(n_thr):
        thr[t] = min(thrs[t], 1 - 1e-10)
    max_g = 1
    for k in range(k_lo, k_hi):
        max_g = max(max_g, g_end[k] - g_start[k])
    order = np.empty(max_g, dtype=np.int64)
    ig = np.empty(max_g, dtype=np.bool_)
    taken = np.empty((n_thr, max_g), dtype=np.bool_)
    max_d = 1
    for k in range(k_lo, k_hi):
        max_d = max(max_d, d_end[k] - d_start[k])
    reach = np.empty(max_d, dtype=np.int64)
    for k in range(k_lo, k_hi):
        d0, nd = d_start[k], d_end[k] - d_start[k]
        g0, ng = g_start[k], g_end[k] - g_start[k]
        if nd == 0:
            continue
        base = off[k]
        for d in range(nd):
            top = 0.0
            for j in range(ng):
                top = max(top, ious[base + d * ng + j])
            t = 0
            while t < n_thr and thr[t] <= top:
                t += 1
            reach[d] = t
        for a in range(n_area):
            lo, hi = area_rng[a, 0], area_rng[a, 1]
            if ng == 0:  # nothing to match: false positives unless outside the range
                for d in range(nd):
                    ar = dt_area[d0 + d]
                    s = IGNORED if (ar < lo or ar > hi) else FP
                    state[acc_pos[d0 + d], a, :] = s
                    if a == 0:
                        dt_ignore[:, ds[d0 + d]] = s == IGNORED
                continue
            # ground truth: regular first, then ignored, each in given order
            n_reg = 0
            for j in range(ng):
                ar = gt_area[g0 + j]
                ig[j] = gt_crowd[g0 + j] or ar < lo or ar > hi
                if not ig[j]:
                    order[n_reg] = j
                    n_reg += 1
            pos = n_reg
            for j in range(ng):
                if ig[j]:
                    order[pos] = j
                    pos += 1
            taken[:, :ng] = False
            for d in range(nd):
                row = base + d * ng
                dt_row = ds[d0 + d]
                ar = dt_area[d0 + d]
                out_of_range = ar < lo or ar > hi
                # thresholds above the detection's best IoU cannot match it
                for t in range(reach[d], n_thr):
                    s = IGNORED if out_of_range else FP
                    state[acc_pos[d0 + d], a, t] = s
                    if a == 0:
                        dt_ignore[t, dt_row] = s == IGNORED
                for t in range(reach[d]):
                    best = thr[t]
                    m = -1
                    for gi in range(ng):
                        j = order[gi]
                        if taken[t, j] and not gt_crowd[g0 + j]:
                            continue
                        if m > -1 and not ig[m] and ig[j]:
                            break
                        v = ious[row + j]
                        if v < best:
                            continue
                        best = v
                        m = j
                    if m == -1:
                        s = IGNORED if out_of_range else FP
                    else:
                        taken[t, m] = True
                        s = IGNORED if ig[m] else TP
                        if a == 0:
                            dt_match[t, dt_row] = gs[g0 + m]
                            dt_iou[t, dt_row] = best
                            gt_match[t, gs[g0 + m]] = dt_row
                    state[acc_pos[d0 + d], a, t] = s
                    if a == 0:
                        dt_ignore[t, dt_row] = s == IGNORED


@numba.njit(cache=True, parallel=True)
def match(
    ious: NDArray[np.float64],
    off: NDArray[np.int64],
    ds: NDArray[np.int64],
    gs: NDArray[np.int64],
    d_start: NDArray[np.int64],
    d_end: NDArray[np.int64],
    g_start: NDArray[np.int64],
    g_end: NDArray[np.int64],
    gt_area: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
    dt_area: NDArray[np.float64],
    area_rng: NDArray[np.float64],
    thrs: NDArray[np.float64],
    acc_pos: NDArray[np.int64],
    state: NDArray[np.uint8],
    dt_match: NDArray[np.int64],
    dt_iou: NDArray[np.float64],
    dt_ignore: NDArray[np.bool_],
    gt_match: NDArray[np.int64],
    n_chunks: int,
) -> None:  # pragma: no cover - compiled
    """pycocotools' ``evaluateImg`` for every group and area range, in ``n_chunks``
    parallel chunks of groups.

    ``gt_area``/``gt_crowd`` are by position in ``gs``, ``dt_area`` by position in
    ``ds``; the outputs ``dt_match``, ``dt_iou``, ``dt_ignore``, ``gt_match`` ([T, n]
    each, area range 0) by input row. All thresholds advance together, detection by
    detection (each keeps its own taken ground truth), which is the same as pycocotools'
    loop over thresholds outside the loop over detections.
    """
    for c in numba.prange(n_chunks):
        _match_range(
            c * len(d_start) // n_chunks,
            (c + 1) * len(d_start) // n_chunks,
            ious,
            off,
            ds,
            gs,
            d_start,
            d_end,
            g_start,
            g_end,
            gt_area,
            gt_crowd,
            dt_area,
            area_rng,
            thrs,
            acc_pos,
            state,
            dt_match,
            dt_iou,
            dt_ignore,
            gt_match,
        )


@numba.njit(cache=True, parallel=True)
def accumulate(
    state: NDArray[np.uint8],
    cls_start: NDArray[np.int64],
    rank: NDArray[np.int64],
    score: NDArray[np.float64],
    npig: NDArray[np.int64],
    max_dets: NDArray[np.int64],
    rec_thrs: NDArray[np.float64],
    precision: NDArray[np.float64],
    recall: NDArray[np.float64],
    scores: NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """pycocotools' ``accumulate`` (``rank``/``score`` by accumulation position).

    Only true positives raise recall, and a false positive or ignored detection never
    has a higher precision than the true positive before it, so the precision envelope
    at a recall threshold is the running maximum over the true positives from the first
    one reaching it; the same floats as pycocotools' cumulative sums, in one pass.
    """
    n_area = state.shape[1]
    n_cls = len(cls_start) - 1
    for ka in numba.prange(n_cls * n_area):
        k, a = ka // n_area, ka % n_area
        if npig[k, a] > 0:
            _accumulate_one(
                k, a, state, cls_start, rank, score, npig[k, a], max_dets, rec_thrs,
                precision, recall, scores,
            )  # fmt: skip


@numba.njit(cache=True)
def _accumulate_one(
    k: int,
    a: int,
    state: NDArray[np.uint8],
    cls_start: NDArray[np.int64],
    rank: NDArray[np.int64],
    score: NDArray[np.float64],
    n_pos: int,
    max_dets: NDArray[np.int64],
    rec_thrs: NDArray[np.float64],
    precision: NDArray[np.float64],
    recall: NDArray[np.float64],
    scores: NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    """Class ``k``, area range ``a`` of :func:`accumulate` (``n_pos`` > 0)."""
    n_thr = state.shape[2]
    n_rec = len(rec_thrs)
    pr_tp = np.empty((n_thr, n_pos), dtype=np.float64)
    sc_tp = np.empty((n_thr, n_pos), dtype=np.float64)
    tp = np.empty(n_thr, dtype=np.int64)
    fp = np.empty(n_thr, dtype=np.int64)
    eps = np.finfo(np.float64).eps
    for mi in range(len(max_dets)):
        cap = max_dets[mi]
        tp[:] = 0
        fp[:] = 0
        nd = 0
        first = -1
        for i in range(cls_start[k], cls_start[k + 1]):
            if rank[i] >= cap:
                continue
            if nd == 0:
                first = i
            nd += 1
            for t in range(n_thr):
                s = state[i, a, t]
                if s == TP:
                    j = tp[t]
                    tp[t] = j + 1
                    pr_tp[t, j] = (j + 1) / (fp[t] + j + 1 + eps)
                    sc_tp[t, j] = score[i]
                elif s == FP:
                    fp[t] += 1
        for t in range(n_thr):
            n_tp = tp[t]
            recall[t, k, a, mi] = n_tp / n_pos if nd else 0.0
            for j in range(n_tp - 1, 0, -1):
                if pr_tp[t, j] > pr_tp[t, j - 1]:
                    pr_tp[t, j - 1] = pr_tp[t, j]
            j = 0
            for r in range(n_rec):
                thr = rec_thrs[r]
                if nd == 0:
                    precision[t, r, k, a, mi] = 0.0
                    scores[t, r, k, a, mi] = 0.0
                    continue
                if thr <= 0.0:  # searchsorted lands on the first detection
                    precision[t, r, k, a, mi] = pr_tp[t, 0] if n_tp else 0.0
                    scores[t, r, k, a, mi] = score[first]
                    continue
                while j < n_tp and (j + 1) / n_pos < thr:
                    j += 1
                if j < n_tp:
                    precision[t, r, k, a, mi] = pr_tp[t, j]
                    scores[t, r, k, a, mi] = sc_tp[t, j]
                else:
                    precision[t, r, k, a, mi] = 0.0
                    scores[t, r, k, a, mi] = 0.0
