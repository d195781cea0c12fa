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

from errorscope.core.cocokernels import accumulate, box_ious, counting_sort, match

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


# --------------------------------------------------------------------------- driver


def _as(arr: Any, dtype: Any) -> NDArray[Any]:
    return np.ascontiguousarray(np.asarray(arr, dtype=dtype))


def _positions(values: NDArray[np.int64], universe: NDArray[np.int64]) -> NDArray[np.int64]:
    """Index of each value in the sorted ``universe``, -1 where absent."""
    pos = np.searchsorted(universe, values)
    ok = pos < len(universe)
    ok[ok] = universe[pos[ok]] == values[ok]
    return np.where(ok, pos, -1).astype(np.int64)


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
    g_cls, d_cls = _as(gt.class_id, np.int64), _as(dt.class_id, np.int64)
    d_score = _as(dt.score, np.float64)
    classes = np.unique(
        np.concatenate([g_cls, d_cls]) if class_ids is None else _as(class_ids, np.int64)
    )
    n_gt, n_dt = len(g_cls), len(d_cls)
    n_img, n_cls, n_thr = len(images), len(classes), len(IOU_THRESHOLDS)
    n_area, n_m, n_rec = len(AREA_RANGES), len(MAX_DETS), len(RECALL_THRESHOLDS)
    n_keys = max(n_img * n_cls, 1)

    # group key (image position, class position) of every object, -1 if not evaluated
    g_ip, g_cp = _positions(_as(gt.image_id, np.int64), images), _positions(g_cls, classes)
    d_ip, d_cp = _positions(_as(dt.image_id, np.int64), images), _positions(d_cls, classes)
    g_ok, d_ok = (g_ip >= 0) & (g_cp >= 0), (d_ip >= 0) & (d_cp >= 0)
    g_key = np.where(g_ok, g_ip * n_cls + g_cp, 0)
    d_key = np.where(d_ok, d_ip * n_cls + d_cp, 0)
    d_ip0, d_cp0 = np.where(d_ok, d_ip, 0), np.where(d_ok, d_cp, 0)

    # ground truth by group in given order; detections by (score desc, image, given
    # order), then by group — within a group: score desc, given order
    gs, g_bounds = counting_sort(g_key, np.flatnonzero(g_ok), n_keys)
    by_img, _ = counting_sort(d_ip0, np.flatnonzero(d_ok), max(n_img, 1))
    by_score = by_img[np.argsort(-d_score[by_img], kind="stable")]
    ds, d_bounds = counting_sort(d_key, by_score, n_keys)
    rank_all = np.arange(len(ds), dtype=np.int64) - d_bounds[d_key[ds]]
    keep = rank_all < MAX_DETS[-1]
    if not keep.all():  # only the best 100 of each image and class
        ds = ds[keep]
        d_bounds = d_bounds - np.searchsorted(np.flatnonzero(~keep), d_bounds)
    kept = np.zeros(n_dt, dtype=np.bool_)
    kept[ds] = True
    rank = np.zeros(n_dt, dtype=np.int64)
    rank[ds] = rank_all[keep]
    acc, cls_start = counting_sort(d_cp0, by_score[kept[by_score]], max(n_cls, 1))
    acc_of_row = np.empty(n_dt, dtype=np.int64)
    acc_of_row[acc] = np.arange(len(acc), dtype=np.int64)
    acc_pos, acc_rank, acc_score = acc_of_row[ds], rank[acc], d_score[acc]

    # regular (not ignored) ground truth per class and area range
    npig = np.zeros((n_cls, n_area), dtype=np.int64)
    g_cp_ok, ga, gc = g_cp[g_ok], _as(gt.area, np.float64)[g_ok], _as(gt.iscrowd, np.bool_)[g_ok]
    for a, (lo, hi) in enumerate(AREA_RANGES):
        regular = ~(gc | (ga < lo) | (ga > hi))  # NaN area: not ignored
        npig[:, a] = np.bincount(g_cp_ok[regular], minlength=n_cls)[:n_cls]
    # free the temporaries before the big per-object outputs (matters at scale)
    del g_ip, g_cp, d_ip, d_cp, g_ok, d_ok, g_key, d_key, d_ip0, d_cp0, by_img, by_score
    del rank_all, keep, rank, acc_of_row, acc, g_cp_ok, ga, gc

    groups = np.flatnonzero((np.diff(g_bounds) > 0) | (np.diff(d_bounds) > 0))
    g_start, g_end = g_bounds[groups], g_bounds[groups + 1]
    d_start, d_end = d_bounds[groups], d_bounds[groups + 1]
    sizes = (d_end - d_start) * (g_end - g_start)
    off = np.zeros(len(groups), dtype=np.int64)
    if len(groups):
        off[1:] = np.cumsum(sizes)[:-1]
    ious = np.zeros(int(sizes.sum()), dtype=np.float64)
    g_crowd = _as(gt.iscrowd, np.bool_)
    if segm:
        _mask_ious(gt, dt, gs, ds, g_crowd, d_start, d_end, g_start, g_end, off, ious)
    else:
        args = (d_start, d_end, g_start, g_end, off, ious)
        box_ious(_as(dt.boxes, np.float64), _as(gt.boxes, np.float64), g_crowd, ds, gs, *args)

    g_area = _as(gt.area, np.float64)
    state = np.zeros((len(acc_rank), n_area, n_thr), dtype=np.uint8)
    dt_match = np.full((n_thr, n_dt), -1, dtype=np.int64)
    dt_iou = np.full((n_thr, n_dt), np.nan, dtype=np.float64)
    dt_ignore = np.ones((n_thr, n_dt), dtype=np.bool_)
    gt_match = np.full((n_thr, n_gt), -1, dtype=np.int64)
    match(
        ious, off, ds, gs, d_start, d_end, g_start, g_end, g_area[gs], g_crowd[gs],
        _as(dt.area, np.float64)[ds], AREA_RANGES, IOU_THRESHOLDS, acc_pos, state,
        dt_match, dt_iou, dt_ignore, gt_match, min(len(groups), 64 * numba.get_num_threads()),
    )  # fmt: skip

    del ious, acc_pos
    precision = -np.ones((n_thr, n_rec, n_cls, n_area, n_m))
    recall = -np.ones((n_thr, n_cls, n_area, n_m))
    scores = -np.ones((n_thr, n_rec, n_cls, n_area, n_m))
    accumulate(
        state, cls_start[: n_cls + 1], acc_rank, acc_score, npig, MAX_DETS, RECALL_THRESHOLDS,
        precision, recall, scores,
    )  # fmt: skip
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
        gt_ignore=g_crowd.copy(),
        dt_evaluated=kept,
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
        c = crowd[gs[g_start[k] : g_end[k]]]
        block = np.asarray(mask_utils.iou(d, g, c), dtype=np.float64)
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
