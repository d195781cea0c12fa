"""PASCAL VOC average precision: 11-point (VOC2007) and every-point (VOC2010+).

The matching is the VOC devkit's (``VOCevaldet.m``, and py-faster-rcnn's
``voc_eval.py``), per class:

* detections of all images are sorted by descending score (a stable sort: ties keep
  their input order);
* each detection looks at the ground truth of its image and class and takes the one with
  the highest IoU (the first on ties), difficult or not, taken or not;
* if that IoU is ``>= iou_threshold`` (the devkit's ``ovmax >= minoverlap``;
  py-faster-rcnn writes ``>``): a difficult ground truth makes the detection ignored
  (neither TP nor FP); an untaken one makes it a TP and takes it; a taken one makes it
  an FP (a duplicate). Otherwise it is an FP.
* recall = cumulative TP / number of non-difficult ground truth, precision = cumulative
  TP / cumulative (TP + FP);
* AP11 = mean over recall thresholds 0, 0.1, ..., 1 of the highest precision at a
  recall ``>=`` the threshold (0 if none); AP (every point) = area under the monotone
  precision envelope, summed where recall changes.

A detection only "sees" the best-IoU ground truth, so whether it is a TP depends only
on whether an earlier detection (in score order) took the same ground truth: the first
detection per ground truth is the TP. That makes the whole matching vectorised.

A class without non-difficult ground truth has AP ``nan`` (and does not count in mAP);
a class with ground truth but no detections has AP 0. Box IoU is continuous
(``(x2 - x1) * (y2 - y1)``) or, with ``legacy=True``, the devkit's pixel-inclusive
``+1`` convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["VocAp", "voc_ap", "voc_box_iou_pairs", "voc_evaluate"]

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]


@dataclass
class VocAp:
    """The outcome of :func:`voc_evaluate`; per-class entries in ``class_ids`` order."""

    class_ids: I64  # K, sorted: every class with ground truth or detections
    ap11: F64  # [K] 11-point AP, nan without non-difficult ground truth
    ap: F64  # [K] every-point AP, nan without non-difficult ground truth
    npos: I64  # [K] non-difficult ground truth
    recall: list[F64]  # K arrays, one point per non-ignored detection, in score order
    precision: list[F64]  # K arrays
    detections: list[I64]  # K arrays: the detection rows behind each point
    dt_status: NDArray[np.object_]  # [n_dt] "TP", "FP" or "ignored"
    dt_match: I64  # [n_dt] ground truth row taken (TP) or -1

    @property
    def map_11(self) -> float:
        return _nanmean(self.ap11)

    @property
    def map_all(self) -> float:
        return _nanmean(self.ap)


def _nanmean(values: F64) -> float:
    ok = ~np.isnan(values)
    return float(values[ok].mean()) if ok.any() else float("nan")


def voc_box_iou_pairs(a: F64, b: F64, *, legacy: bool = False) -> F64:
    """IoU of the box pairs ``a[i], b[i]`` (both ``(n, 4)`` xyxy), VOC arithmetic."""
    one = 1.0 if legacy else 0.0
    iw = np.minimum(a[:, 2], b[:, 2]) - np.maximum(a[:, 0], b[:, 0]) + one
    ih = np.minimum(a[:, 3], b[:, 3]) - np.maximum(a[:, 1], b[:, 1]) + one
    inter = np.maximum(iw, 0.0) * np.maximum(ih, 0.0)
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    union = area_a + area_b - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(union > 0, inter / union, 0.0)
    return out.astype(np.float64)


def voc_ap(recall: F64, precision: F64, *, use_07_metric: bool = False) -> float:
    """AP of one class from its recall/precision points (in score order)."""
    if use_07_metric:
        if not len(recall):
            return 0.0
        envelope = np.maximum.accumulate(precision[::-1])[::-1]
        idx = np.searchsorted(recall, np.arange(0.0, 1.1, 0.1), side="left")
        p = np.where(idx < len(recall), envelope[np.minimum(idx, len(recall) - 1)], 0.0)
        return float(np.sum(p / 11.0))
    mrec = np.concatenate(([0.0], recall, [1.0]))
    mpre = np.concatenate(([0.0], precision, [0.0]))
    mpre = np.maximum.accumulate(mpre[::-1])[::-1]
    i = np.nonzero(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def _best_gt(
    gt_key: I64, gt_boxes: F64, dt_key: I64, dt_boxes: F64, legacy: bool
) -> tuple[I64, F64]:
    """Per detection, the ground truth row with the highest IoU in the same (image, class)
    group (first in input order on ties; -1 if none) and that IoU (-inf if none)."""
    order = np.argsort(gt_key, kind="stable")
    sorted_keys = gt_key[order]
    lo = np.searchsorted(sorted_keys, dt_key, side="left")
    hi = np.searchsorted(sorted_keys, dt_key, side="right")
    counts = hi - lo
    n_pairs = int(counts.sum())
    best = np.full(len(dt_key), -1, np.int64)
    best_iou = np.full(len(dt_key), -np.inf)
    if not n_pairs:
        return best, best_iou
    pair_dt = np.repeat(np.arange(len(dt_key)), counts)
    starts = np.cumsum(counts) - counts
    pos = np.arange(n_pairs) - np.repeat(starts, counts) + np.repeat(lo, counts)
    pair_gt = order[pos]
    ious = voc_box_iou_pairs(dt_boxes[pair_dt], gt_boxes[pair_gt], legacy=legacy)
    # per detection: highest IoU, then the earliest ground truth
    pick = np.lexsort((pair_gt, -ious, pair_dt))
    first = np.ones(n_pairs, bool)
    first[1:] = pair_dt[pick][1:] != pair_dt[pick][:-1]
    sel = pick[first]
    best[pair_dt[sel]] = pair_gt[sel]
    best_iou[pair_dt[sel]] = ious[sel]
    return best, best_iou


def voc_evaluate(
    gt_image: I64,
    gt_class: I64,
    gt_boxes: F64,
    gt_difficult: NDArray[np.bool_],
    dt_image: I64,
    dt_class: I64,
    dt_boxes: F64,
    dt_score: F64,
    *,
    iou_threshold: float = 0.5,
    legacy: bool = False,
) -> VocAp:
    """VOC AP per class (see the module docstring). Boxes are ``(n, 4)`` xyxy."""
    gt_image, gt_class = np.asarray(gt_image, np.int64), np.asarray(gt_class, np.int64)
    dt_image, dt_class = np.asarray(dt_image, np.int64), np.asarray(dt_class, np.int64)
    gt_boxes = np.asarray(gt_boxes, np.float64).reshape(-1, 4)
    dt_boxes = np.asarray(dt_boxes, np.float64).reshape(-1, 4)
    gt_difficult = np.asarray(gt_difficult, bool)
    dt_score = np.asarray(dt_score, np.float64)
    classes = np.union1d(gt_class, dt_class).astype(np.int64)
    n_cls = len(classes)
    ncls_key = max(n_cls, 1)
    gci = np.searchsorted(classes, gt_class)
    dci = np.searchsorted(classes, dt_class)
    # (image, class) group keys, dense over the images seen
    images = np.union1d(gt_image, dt_image)
    gt_key = np.searchsorted(images, gt_image).astype(np.int64) * ncls_key + gci
    dt_key = np.searchsorted(images, dt_image).astype(np.int64) * ncls_key + dci
    best, best_iou = _best_gt(gt_key, gt_boxes, dt_key, dt_boxes, legacy)

    n_dt = len(dt_image)
    hit = (best >= 0) & (best_iou >= iou_threshold)
    ignored = hit.copy()
    ignored[hit] = gt_difficult[best[hit]]
    candidate = hit & ~ignored
    # score order (stable), then the first candidate per ground truth takes it
    order = np.argsort(-dt_score, kind="stable")
    rank = np.empty(n_dt, np.int64)
    rank[order] = np.arange(n_dt)
    cand = np.nonzero(candidate)[0]
    cand = cand[np.lexsort((rank[cand], best[cand]))]
    firsts = np.ones(len(cand), bool)
    firsts[1:] = best[cand][1:] != best[cand][:-1]
    tp = np.zeros(n_dt, bool)
    tp[cand[firsts]] = True
    status = np.where(ignored, "ignored", np.where(tp, "TP", "FP")).astype(object)
    dt_match = np.where(tp, best, -1).astype(np.int64)

    npos = np.bincount(gci[~gt_difficult], minlength=n_cls).astype(np.int64)
    # per class, in score order, without the ignored detections
    kept = order[~ignored[order]]
    kept = kept[np.argsort(dci[kept], kind="stable")]
    bounds = np.searchsorted(dci[kept], np.arange(n_cls + 1))
    eps = np.finfo(np.float64).eps
    recall: list[F64] = []
    precision: list[F64] = []
    detections: list[I64] = []
    ap11 = np.full(n_cls, np.nan)
    ap = np.full(n_cls, np.nan)
    for k in range(n_cls):
        sel = kept[bounds[k] : bounds[k + 1]]
        ctp = np.cumsum(tp[sel]).astype(np.float64)
        cfp = np.cumsum(~tp[sel]).astype(np.float64)
        prec = ctp / np.maximum(ctp + cfp, eps)
        if npos[k]:
            rec = ctp / float(npos[k])
            ap11[k] = voc_ap(rec, prec, use_07_metric=True)
            ap[k] = voc_ap(rec, prec)
        else:
            rec = np.full(len(sel), np.nan)
        recall.append(rec)
        precision.append(prec)
        detections.append(sel.astype(np.int64))
    return VocAp(
        class_ids=classes,
        ap11=ap11,
        ap=ap,
        npos=npos,
        recall=recall,
        precision=precision,
        detections=detections,
        dt_status=status,
        dt_match=dt_match,
    )
