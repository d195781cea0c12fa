"""COCO detection evaluation (bbox and segm), equal to pycocotools' ``COCOeval``.

A numpy + numba re-implementation of ``evaluate()``, ``accumulate()`` and
``summarize()`` with the default parameters (IoU thresholds .50:.05:.95, 101 recall
thresholds, area ranges all/small/medium/large, maxDets 1/10/100). Every rule of the
reference is kept, because each one moves the numbers:

* images are evaluated in ascending ``image_id`` (only those in ``image_ids``), classes
  in ascending ``class_id``; a detection or ground truth outside both is not evaluated;
* per image and class, detections are sorted by descending score with a stable sort
  (ties keep their given order) and cut to the best 100; ground truth keeps its given
  order, then is stably sorted so that ignored objects (crowd, or area outside the
  range) come last;
* greedy matching in score order: each detection takes the ground truth with the
  highest IoU ``>= min(t, 1 - 1e-10)`` (the last one on ties), skipping ground truth
  already taken unless it is crowd, and stopping at the ignored ones once it holds a
  regular match; a detection matched to ignored ground truth is ignored, and an
  unmatched one whose area is outside the range is ignored;
* box IoU is pycocotools' own arithmetic on ``x, y, w, h`` (crowd: union = the
  detection's area); mask IoU is ``pycocotools.mask.iou`` on the RLEs;
* accumulation per class, area range and maxDets: detections of all images are
  concatenated in image order and stably sorted by descending score, precision gets its
  monotone envelope and is read at the 101 recall thresholds with ``searchsorted``
  (``side="left"``), zero past the last recall reached; -1 marks a class without
  (non-ignored) ground truth; summary stats average the entries that are not -1.

The per-object results (``dt_match``, ``gt_match``, ...) are those of area range "all"
and maxDets 100 — what pycocotools keeps in ``evalImgs`` as ``dtMatches`` /
``gtMatches`` — as row indices into the inputs instead of annotation ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numba
import numpy as np
from numpy.typing import NDArray

from errorscope.core.iou import _coco_box_iou_into

__all__ = [
    "AREA_RANGES",
    "IOU_THRESHOLDS",
    "MAX_DETS",
    "RECALL_THRESHOLDS",
    "STAT_NAMES",
    "CocoEval",
    "CocoObjects",
    "evaluate_coco",
]

#: pycocotools' ``Params.iouThrs``, ``recThrs``, ``areaRng`` and ``maxDets`` (same
#: expressions, so the same floats).
IOU_THRESHOLDS: NDArray[np.float64] = np.linspace(
    0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True
)
RECALL_THRESHOLDS: NDArray[np.float64] = np.linspace(
    0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True
)
AREA_RANGES: NDArray[np.float64] = np.array(
    [[0**2, 1e5**2], [0**2, 32**2], [32**2, 96**2], [96**2, 1e5**2]], dtype=np.float64
)
AREA_NAMES = ("all", "small", "medium", "large")
MAX_DETS: NDArray[np.int64] = np.array([1, 10, 100], dtype=np.int64)
STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "APs",
    "APm",
    "APl",
    "AR1",
    "AR10",
    "AR100",
    "ARs",
    "ARm",
    "ARl",
)

_FP, _TP, _IGNORED = 0, 1, 2


@dataclass
class CocoObjects:
    """Ground truth or detections, one row per object (all arrays of length n).

    ``boxes`` are COCO ``x, y, w, h``; ``area`` is what pycocotools uses (ground truth:
    the stored area; detections: ``w * h`` for boxes, the mask area for segm);
    ``iscrowd`` is for ground truth (all False for detections); ``score`` is for
    detections. ``rles`` (segm only): pycocotools RLE dicts ``{"size": [h, w],
    "counts": bytes}``.
    """

    image_id: NDArray[np.int64]
    class_id: NDArray[np.int64]
    boxes: NDArray[np.float64]
    area: NDArray[np.float64]
    iscrowd: NDArray[np.bool_]
    score: NDArray[np.float64] | None
    rles: list[dict[str, Any]] | None = None

    def __len__(self) -> int:
        return len(self.image_id)

    def _check(self, what: str, *, scored: bool, segm: bool) -> None:
        n = len(self.image_id)
        arrays: list[tuple[str, NDArray[Any]]] = [
            ("class_id", self.class_id),
            ("area", self.area),
            ("iscrowd", self.iscrowd),
        ]
        if self.score is not None:
            arrays.append(("score", self.score))
        for name, arr in arrays:
            if len(arr) != n:
                raise ValueError(f"{what}.{name} has {len(arr)} entries, image_id has {n}")
        if np.shape(self.boxes) != (n, 4):
            raise ValueError(f"{what}.boxes must have shape ({n}, 4), not {np.shape(self.boxes)}")
        if scored and self.score is None:
            raise ValueError(f"{what}.score is required for detections")
        if segm and (self.rles is None or len(self.rles) != n):
            raise ValueError(f"{what}.rles must hold one RLE per object for iou_type='segm'")


@dataclass
class CocoEval:
    """The outcome of :func:`evaluate_coco` (array layouts as pycocotools' ``eval``)."""

    stats: NDArray[np.float64]  # the 12 standard stats, pycocotools order (STAT_NAMES)
    precision: NDArray[np.float64]  # [T, R, K, A, M]
    recall: NDArray[np.float64]  # [T, K, A, M]
    class_ids: NDArray[np.int64]  # K, sorted
    iou_thresholds: NDArray[np.float64]  # T
    dt_match: NDArray[np.int64]  # [T, n_dt] gt row index or -1 (area all, maxDets 100)
    dt_iou: NDArray[np.float64]  # [T, n_dt] IoU with the matched gt, nan if none
    dt_ignore: NDArray[np.bool_]  # [T, n_dt] (also True for detections not evaluated)
    gt_match: NDArray[np.int64]  # [T, n_gt] dt row index or -1
    gt_ignore: NDArray[np.bool_]  # [n_gt] crowd
    dt_evaluated: NDArray[np.bool_] = field(
        default_factory=lambda: np.zeros(0, dtype=np.bool_)
    )  # [n_dt] False: image/class not evaluated or beyond the 100 best of its image and class
    scores: NDArray[np.float64] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float64)
    )  # [T, R, K, A, M] score at each recall threshold (pycocotools' eval["scores"])

    def stats_dict(self) -> dict[str, float]:
        """The 12 stats by name (AP, AP50, ..., ARl)."""
        return {name: float(v) for name, v in zip(STAT_NAMES, self.stats, strict=True)}

    def per_class_ap(self) -> NDArray[np.float64]:
        """AP@[.50:.95] per class (area all, maxDets 100); nan for a class without gt."""
        return _mean_valid(self.precision[:, :, :, 0, -1], axes=(0, 1))

    def per_class_ap50(self) -> NDArray[np.float64]:
        """AP@.50 per class (area all, maxDets 100); nan for a class without gt."""
        return _mean_valid(self.precision[:1, :, :, 0, -1], axes=(0, 1))

    def per_class_recall(self) -> NDArray[np.float64]:
        """AR@[.50:.95] per class (area all, maxDets 100); nan for a class without gt."""
        return _mean_valid(self.recall[:, :, 0, -1], axes=(0,))


def _mean_valid(s: NDArray[np.float64], *, axes: tuple[int, ...]) -> NDArray[np.float64]:
    valid = s > -1
    count = valid.sum(axis=axes)
    total = np.where(valid, s, 0.0).sum(axis=axes)
    out = np.full(count.shape, np.nan)
    np.divide(total, count, out=out, where=count > 0)
    return out


# --------------------------------------------------------------------------- kernels


@numba.njit(cache=True)
def _box_ious(
    dt_boxes: NDArray[np.float64],
    gt_boxes: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
    d_start: NDArray[np.int64],
    d_end: NDArray[np.int64],
    g_start: NDArray[np.int64],
    g_end: NDArray[np.int64],
    off: NDArray[np.int64],
    out: NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    for k in range(len(d_start)):
        nd = d_end[k] - d_start[k]
        ng = g_end[k] - g_start[k]
        if nd == 0 or ng == 0:
            continue
        block = out[off[k] : off[k] + nd * ng].reshape((nd, ng))
        _coco_box_iou_into(
            dt_boxes[d_start[k] : d_end[k]],
            gt_boxes[g_start[k] : g_end[k]],
            gt_crowd[g_start[k] : g_end[k]],
            block,
        )


@numba.njit(cache=True)
def _match(
    ious: NDArray[np.float64],
    off: NDArray[np.int64],
    d_start: NDArray[np.int64],
    d_end: NDArray[np.int64],
    g_start: NDArray[np.int64],
    g_end: NDArray[np.int64],
    gt_area: NDArray[np.float64],
    gt_crowd: NDArray[np.bool_],
    dt_area: NDArray[np.float64],
    area_rng: NDArray[np.float64],
    thrs: NDArray[np.float64],
    state: NDArray[np.uint8],
    dt_match: NDArray[np.int64],
    dt_iou: NDArray[np.float64],
    gt_match: NDArray[np.int64],
) -> None:  # pragma: no cover - compiled
    """pycocotools' evaluateImg for every group (image, class) and area range.

    Positions are into the group-sorted arrays. ``state[a, t, d]``: 0 FP, 1 TP,
    2 ignored. ``dt_match``/``dt_iou``/``gt_match`` are filled for area range 0.
    """
    n_area = area_rng.shape[0]
    n_thr = len(thrs)
    max_g = 0
    for k in range(len(g_start)):
        max_g = max(max_g, g_end[k] - g_start[k])
    order = np.empty(max_g, dtype=np.int64)
    ig = np.empty(max_g, dtype=np.bool_)
    taken = np.empty(max_g, dtype=np.int64)
    for k in range(len(d_start)):
        ds, nd = d_start[k], d_end[k] - d_start[k]
        gs, ng = g_start[k], g_end[k] - g_start[k]
        if nd == 0:
            continue
        base = off[k]
        for a in range(n_area):
            lo, hi = area_rng[a, 0], area_rng[a, 1]
            # ground truth: regular first, then ignored, each in given order
            n_reg = 0
            for j in range(ng):
                ar = gt_area[gs + j]
                ig[j] = gt_crowd[gs + j] or ar < lo or ar > hi
                if not ig[j]:
                    order[n_reg] = j
                    n_reg += 1
            pos = n_reg
            for j in range(ng):
                if ig[j]:
                    order[pos] = j
                    pos += 1
            for t in range(n_thr):
                for j in range(ng):
                    taken[j] = -1
                for d in range(nd):
                    best = min(thrs[t], 1 - 1e-10)
                    m = -1
                    for gi in range(ng):
                        j = order[gi]
                        if taken[j] >= 0 and not gt_crowd[gs + j]:
                            continue
                        if m > -1 and not ig[m] and ig[j]:
                            break
                        v = ious[base + d * ng + j]
                        if v < best:
                            continue
                        best = v
                        m = j
                    if m == -1:
                        ar = dt_area[ds + d]
                        state[a, t, ds + d] = _IGNORED if (ar < lo or ar > hi) else _FP
                        continue
                    taken[m] = d
                    state[a, t, ds + d] = _IGNORED if ig[m] else _TP
                    if a == 0:
                        dt_match[t, ds + d] = gs + m
                        dt_iou[t, ds + d] = best
                        gt_match[t, gs + m] = ds + d


@numba.njit(cache=True)
def _accumulate(
    state: NDArray[np.uint8],
    acc: NDArray[np.int64],
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
    """pycocotools' accumulate: ``acc`` lists group-sorted detection positions by class,
    then descending score, image, given order; ``cls_start`` has K + 1 bounds."""
    n_thr, n_area = state.shape[1], state.shape[0]
    n_cls = len(cls_start) - 1
    n_rec = len(rec_thrs)
    longest = 0
    for k in range(n_cls):
        longest = max(longest, cls_start[k + 1] - cls_start[k])
    sel = np.empty(longest, dtype=np.int64)
    rc = np.empty(longest, dtype=np.float64)
    pr = np.empty(longest, dtype=np.float64)
    eps = np.finfo(np.float64).eps
    for k in range(n_cls):
        for a in range(n_area):
            if npig[k, a] == 0:
                continue
            for mi in range(len(max_dets)):
                nd = 0
                for i in range(cls_start[k], cls_start[k + 1]):
                    p = acc[i]
                    if rank[p] < max_dets[mi]:
                        sel[nd] = p
                        nd += 1
                for t in range(n_thr):
                    tp = 0
                    fp = 0
                    for i in range(nd):
                        s = state[a, t, sel[i]]
                        if s == _TP:
                            tp += 1
                        elif s == _FP:
                            fp += 1
                        rc[i] = tp / npig[k, a]
                        pr[i] = tp / (fp + tp + eps)
                    recall[t, k, a, mi] = rc[nd - 1] if nd else 0.0
                    for i in range(nd - 1, 0, -1):
                        if pr[i] > pr[i - 1]:
                            pr[i - 1] = pr[i]
                    p = 0
                    for r in range(n_rec):
                        while p < nd and rc[p] < rec_thrs[r]:
                            p += 1
                        if p >= nd:
                            for r2 in range(r, n_rec):
                                precision[t, r2, k, a, mi] = 0.0
                                scores[t, r2, k, a, mi] = 0.0
                            break
                        precision[t, r, k, a, mi] = pr[p]
                        scores[t, r, k, a, mi] = score[sel[p]]


# --------------------------------------------------------------------------- driver


def _as(arr: Any, dtype: Any) -> NDArray[Any]:
    return np.ascontiguousarray(np.asarray(arr, dtype=dtype))


def evaluate_coco(
    gt: CocoObjects,
    dt: CocoObjects,
    *,
    image_ids: NDArray[np.int64],
    iou_type: Literal["bbox", "segm"] = "bbox",
    class_ids: NDArray[np.int64] | None = None,
) -> CocoEval:
    """COCOeval of ``dt`` against ``gt`` on ``image_ids`` (pycocotools' ``params.imgIds``).

    ``class_ids`` (pycocotools' ``params.catIds``) defaults to every class present in
    either input; a class without ground truth gets -1 in ``precision``/``recall``
    and so does not count, exactly as a category without annotations in pycocotools.
    """
    if iou_type not in ("bbox", "segm"):
        raise ValueError(f"iou_type must be 'bbox' or 'segm', not {iou_type!r}")
    segm = iou_type == "segm"
    gt._check("gt", scored=False, segm=segm)
    dt._check("dt", scored=True, segm=segm)
    assert dt.score is not None
    images = np.unique(_as(image_ids, np.int64))
    g_img, g_cls = _as(gt.image_id, np.int64), _as(gt.class_id, np.int64)
    d_img, d_cls = _as(dt.image_id, np.int64), _as(dt.class_id, np.int64)
    d_score = _as(dt.score, np.float64)
    classes = np.unique(
        np.concatenate([g_cls, d_cls]) if class_ids is None else _as(class_ids, np.int64)
    )
    n_gt, n_dt = len(g_img), len(d_img)
    n_img, n_cls, n_thr = len(images), len(classes), len(IOU_THRESHOLDS)
    n_area, n_m, n_rec = len(AREA_RANGES), len(MAX_DETS), len(RECALL_THRESHOLDS)

    def positions(img: NDArray[np.int64], cls: NDArray[np.int64]) -> NDArray[np.int64]:
        """Group key img_pos * K + class_pos, or -1 when not evaluated."""
        ip = np.searchsorted(images, img)
        cp = np.searchsorted(classes, cls)
        ok = (ip < n_img) & (cp < n_cls)
        ok[ok] &= (images[ip[ok]] == img[ok]) & (classes[cp[ok]] == cls[ok])
        return np.where(ok, ip * max(n_cls, 1) + cp, -1).astype(np.int64)

    g_key, d_key = positions(g_img, g_cls), positions(d_img, d_cls)
    # ground truth: by group, given order within a group
    gs = np.flatnonzero(g_key >= 0)
    gs = gs[np.argsort(g_key[gs], kind="stable")]
    # detections: by group, descending score (stable), then cut to the best 100
    ds = np.flatnonzero(d_key >= 0)
    ds = ds[np.lexsort((-d_score[ds], d_key[ds]))]
    gk, dk = g_key[gs], d_key[ds]
    first = np.searchsorted(dk, dk, side="left")
    rank_all = np.arange(len(ds), dtype=np.int64) - first
    keep = rank_all < MAX_DETS[-1]
    ds, dk, rank = ds[keep], dk[keep], rank_all[keep]

    groups = np.union1d(gk, dk)
    g_start = np.searchsorted(gk, groups, side="left").astype(np.int64)
    g_end = np.searchsorted(gk, groups, side="right").astype(np.int64)
    d_start = np.searchsorted(dk, groups, side="left").astype(np.int64)
    d_end = np.searchsorted(dk, groups, side="right").astype(np.int64)
    sizes = (d_end - d_start) * (g_end - g_start)
    off = np.zeros(len(groups), dtype=np.int64)
    if len(groups):
        off[1:] = np.cumsum(sizes)[:-1]
    ious = np.zeros(int(sizes.sum()), dtype=np.float64)

    g_crowd = _as(gt.iscrowd, np.bool_)[gs]
    if segm:
        _mask_ious(gt, dt, gs, ds, g_crowd, d_start, d_end, g_start, g_end, off, ious)
    else:
        _box_ious(
            _as(dt.boxes, np.float64)[ds],
            _as(gt.boxes, np.float64)[gs],
            g_crowd,
            d_start,
            d_end,
            g_start,
            g_end,
            off,
            ious,
        )

    g_area = _as(gt.area, np.float64)[gs]
    state = np.zeros((n_area, n_thr, len(ds)), dtype=np.uint8)
    m_dt = np.full((n_thr, len(ds)), -1, dtype=np.int64)
    m_iou = np.full((n_thr, len(ds)), np.nan, dtype=np.float64)
    m_gt = np.full((n_thr, len(gs)), -1, dtype=np.int64)
    _match(
        ious,
        off,
        d_start,
        d_end,
        g_start,
        g_end,
        g_area,
        g_crowd,
        _as(dt.area, np.float64)[ds],
        AREA_RANGES,
        IOU_THRESHOLDS,
        state,
        m_dt,
        m_iou,
        m_gt,
    )

    # accumulate: per class, by descending score, then image, then given order
    d_cpos = dk % max(n_cls, 1)
    acc = np.lexsort((ds, dk // max(n_cls, 1), -d_score[ds], d_cpos)).astype(np.int64)
    cls_start = np.searchsorted(d_cpos[acc], np.arange(n_cls + 1)).astype(np.int64)
    g_cpos = gk % max(n_cls, 1)
    npig = np.zeros((n_cls, n_area), dtype=np.int64)
    for a, (lo, hi) in enumerate(AREA_RANGES):
        regular = ~(g_crowd | (g_area < lo) | (g_area > hi))  # NaN area: not ignored
        npig[:, a] = np.bincount(g_cpos[regular], minlength=n_cls)[:n_cls]
    precision = -np.ones((n_thr, n_rec, n_cls, n_area, n_m))
    recall = -np.ones((n_thr, n_cls, n_area, n_m))
    scores = -np.ones((n_thr, n_rec, n_cls, n_area, n_m))
    _accumulate(
        state,
        acc,
        cls_start,
        rank,
        d_score[ds],
        npig,
        MAX_DETS,
        RECALL_THRESHOLDS,
        precision,
        recall,
        scores,
    )

    # per-object results back in input row order
    dt_match = np.full((n_thr, n_dt), -1, dtype=np.int64)
    matched = m_dt >= 0
    dt_match[:, ds] = np.where(matched, gs[np.where(matched, m_dt, 0)] if len(gs) else -1, -1)
    dt_iou = np.full((n_thr, n_dt), np.nan)
    dt_iou[:, ds] = m_iou
    dt_ignore = np.ones((n_thr, n_dt), dtype=np.bool_)
    dt_ignore[:, ds] = state[0] == _IGNORED
    gt_match = np.full((n_thr, n_gt), -1, dtype=np.int64)
    taken = m_gt >= 0
    gt_match[:, gs] = np.where(taken, ds[np.where(taken, m_gt, 0)] if len(ds) else -1, -1)
    evaluated = np.zeros(n_dt, dtype=np.bool_)
    evaluated[ds] = True
    return CocoEval(
        stats=_summarize(precision, recall),
        precision=precision,
        recall=recall,
        class_ids=classes,
        iou_thresholds=IOU_THRESHOLDS.copy(),
        dt_match=dt_match,
        dt_iou=dt_iou,
        dt_ignore=dt_ignore,
        gt_match=gt_match,
        gt_ignore=_as(gt.iscrowd, np.bool_).copy(),
        dt_evaluated=evaluated,
        scores=scores,
    )


def _mask_ious(
    gt: CocoObjects,
    dt: CocoObjects,
    gs: NDArray[np.int64],
    ds: NDArray[np.int64],
    g_crowd: NDArray[np.bool_],
    d_start: NDArray[np.int64],
    d_end: NDArray[np.int64],
    g_start: NDArray[np.int64],
    g_end: NDArray[np.int64],
    off: NDArray[np.int64],
    out: NDArray[np.float64],
) -> None:
    """Mask IoU per group with pycocotools' mask API (the reference computation)."""
    from pycocotools import mask as mask_utils

    assert gt.rles is not None
    assert dt.rles is not None
    g_rles, d_rles = gt.rles, dt.rles
    crowd = g_crowd.astype(np.uint8)
    busy = np.flatnonzero((d_end > d_start) & (g_end > g_start))
    for k in busy:
        d = [d_rles[i] for i in ds[d_start[k] : d_end[k]]]
        g = [g_rles[i] for i in gs[g_start[k] : g_end[k]]]
        block = np.asarray(mask_utils.iou(d, g, crowd[g_start[k] : g_end[k]]), dtype=np.float64)
        out[off[k] : off[k] + block.size] = block.ravel()


def _summarize(precision: NDArray[np.float64], recall: NDArray[np.float64]) -> NDArray[np.float64]:
    """pycocotools' ``summarize()`` for detections (the 12 stats)."""
    t50 = int(np.where(IOU_THRESHOLDS == 0.5)[0][0])
    t75 = int(np.where(IOU_THRESHOLDS == 0.75)[0][0])

    def mean(s: NDArray[np.float64]) -> float:
        valid = s[s > -1]
        return float(np.mean(valid)) if valid.size else -1.0

    def ap(t: int | None = None, a: int = 0, m: int = 2) -> float:
        s = precision if t is None else precision[t : t + 1]
        return mean(s[:, :, :, a, m])

    def ar(a: int = 0, m: int = 2) -> float:
        return mean(recall[:, :, a, m])

    return np.array(
        [
            ap(),
            ap(t50),
            ap(t75),
            ap(a=1),
            ap(a=2),
            ap(a=3),
            ar(m=0),
            ar(m=1),
            ar(),
            ar(a=1),
            ar(a=2),
            ar(a=3),
        ],
        dtype=np.float64,
    )
