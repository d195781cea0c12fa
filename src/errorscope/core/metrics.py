"""Per data row and per class counts and scores from per-object statuses.

Inputs are per-object results (any matcher): for ground truth its data row, class,
status (``"TP"``/``"FN"``; anything else, e.g. ``"ignored"``, is not counted) and IoU
with its match; for predictions the same plus confidence (status ``"TP"``/``"FP"``
counted; ``"ignored"`` not).

Definitions (Labelbox's):

* precision = TP / (TP + FP), recall = TP / (TP + FN), F1 their harmonic mean; NaN
  where the denominator is 0;
* IoU of a (data row, class) = sum of the IoUs of its matched pairs / (TP + FP + FN),
  i.e. matched + unmatched predictions + unmatched labels; a data row's IoU is the mean
  over the classes present in the row; a class's IoU is the mean over the data rows where
  the class is present;
* mean confidence = mean confidence of the counted (kept) predictions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["Counts", "by_class", "by_row", "by_row_class", "confusion_matrix", "prf"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Obj = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Counts:
    """A table of counts and scores, one entry per key (``row`` and/or ``cls``, -1 where
    the table is not keyed by it)."""

    row: I64
    cls: I64
    tp: I64
    fp: I64
    fn: I64
    precision: F64
    recall: F64
    f1: F64
    iou: F64
    mean_confidence: F64

    def __len__(self) -> int:
        return len(self.tp)


def prf(tp: npt.ArrayLike, fp: npt.ArrayLike, fn: npt.ArrayLike) -> tuple[F64, F64, F64]:
    """Precision, recall and F1 (NaN where undefined)."""
    t = np.asarray(tp, dtype=np.float64)
    p_den = t + np.asarray(fp, dtype=np.float64)
    r_den = t + np.asarray(fn, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(p_den > 0, t / np.where(p_den > 0, p_den, 1), np.nan)
        recall = np.where(r_den > 0, t / np.where(r_den > 0, r_den, 1), np.nan)
        f_den = p_den + r_den
        f1 = np.where(f_den > 0, 2 * t / np.where(f_den > 0, f_den, 1), np.nan)
    return precision, recall, f1


def by_row_class(
    gt_row: npt.ArrayLike,
    gt_cls: npt.ArrayLike,
    gt_status: npt.ArrayLike,
    gt_iou: npt.ArrayLike,
    dt_row: npt.ArrayLike,
    dt_cls: npt.ArrayLike,
    dt_status: npt.ArrayLike,
    dt_conf: npt.ArrayLike,
) -> Counts:
    """Counts per (data row, class) over the pairs that have a counted object."""
    gs = np.asarray(gt_status, dtype=object)
    ds = np.asarray(dt_status, dtype=object)
    g_on = (gs == "TP") | (gs == "FN")
    d_on = (ds == "TP") | (ds == "FP")
    rows = np.concatenate([np.asarray(gt_row, np.int64)[g_on], np.asarray(dt_row, np.int64)[d_on]])
    classes = np.concatenate(
        [np.asarray(gt_cls, np.int64)[g_on], np.asarray(dt_cls, np.int64)[d_on]]
    )
    if not len(rows):
        return _empty()
    keys, inverse = np.unique(np.stack([rows, classes], axis=1), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    n = len(keys)
    gi, di = inverse[: int(g_on.sum())], inverse[int(g_on.sum()) :]
    g_tp = (gs[g_on] == "TP").astype(np.float64)
    tp = np.bincount(gi, weights=g_tp, minlength=n).astype(np.int64)
    fn = np.bincount(gi, weights=1 - g_tp, minlength=n).astype(np.int64)
    d_fp = (ds[d_on] == "FP").astype(np.float64)
    fp = np.bincount(di, weights=d_fp, minlength=n).astype(np.int64)
    iou = np.nan_to_num(np.asarray(gt_iou, np.float64)[g_on]) * g_tp
    iou_sum = np.bincount(gi, weights=iou, minlength=n)
    conf = np.asarray(dt_conf, np.float64)[d_on]
    n_dt = np.bincount(di, minlength=n)
    conf_sum = np.bincount(di, weights=conf, minlength=n)
    p, r, f = prf(tp, fp, fn)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.where(n_dt > 0, conf_sum / np.maximum(n_dt, 1), np.nan)
    return Counts(
        row=keys[:, 0].astype(np.int64),
        cls=keys[:, 1].astype(np.int64),
        tp=tp,
        fp=fp,
        fn=fn,
        precision=p,
        recall=r,
        f1=f,
        iou=iou_sum / np.maximum(tp + fp + fn, 1),
        mean_confidence=mean_conf,
    )


def _empty() -> Counts:
    i, f = np.zeros(0, np.int64), np.zeros(0, np.float64)
    return Counts(i, i, i, i, i, f, f, f, f, f)


def _rollup(rc: Counts, key: I64, conf_weight: F64) -> tuple[I64, I64, I64, I64, F64, F64]:
    keys, inv = np.unique(key, return_inverse=True)
    inv = inv.reshape(-1)
    n = len(keys)
    tp = np.bincount(inv, weights=rc.tp, minlength=n).astype(np.int64)
    fp = np.bincount(inv, weights=rc.fp, minlength=n).astype(np.int64)
    fn = np.bincount(inv, weights=rc.fn, minlength=n).astype(np.int64)
    iou = np.bincount(inv, weights=rc.iou, minlength=n) / np.bincount(inv, minlength=n)
    has = ~np.isnan(rc.mean_confidence)
    w = np.where(has, conf_weight, 0.0)
    c_sum = np.bincount(inv, weights=np.where(has, rc.mean_confidence, 0.0) * w, minlength=n)
    c_n = np.bincount(inv, weights=w, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(c_n > 0, c_sum / np.where(c_n > 0, c_n, 1), np.nan)
    return keys.astype(np.int64), tp, fp, fn, iou, conf


def _table(row: I64, cls: I64, parts: tuple[I64, I64, I64, I64, F64, F64]) -> Counts:
    _, tp, fp, fn, iou, conf = parts
    p, r, f = prf(tp, fp, fn)
    return Counts(row, cls, tp, fp, fn, p, r, f, iou, conf)


def by_row(rc: Counts) -> Counts:
    """Roll (row, class) counts up to data rows (IoU: mean over the row's classes)."""
    weight = (rc.tp + rc.fp).astype(np.float64)
    parts = _rollup(rc, rc.row, weight)
    return _table(parts[0], np.full(len(parts[0]), -1, np.int64), parts)


def by_class(rc: Counts) -> Counts:
    """Roll (row, class) counts up to classes (IoU: mean over the rows with the class)."""
    weight = (rc.tp + rc.fp).astype(np.float64)
    parts = _rollup(rc, rc.cls, weight)
    return _table(np.full(len(parts[0]), -1, np.int64), parts[0], parts)


def confusion_matrix(
    labels: Sequence[int],
    gt_cls: npt.ArrayLike,
    gt_match: npt.ArrayLike,
    gt_counted: npt.ArrayLike,
    dt_cls: npt.ArrayLike,
    dt_counted: npt.ArrayLike,
) -> I64:
    """``(K + 1, K + 1)`` matrix, rows = ground-truth class, columns = predicted class, in
    the order of ``labels`` plus a last "None" row/column: a matched pair adds to its
    (gt class, predicted class) cell, an unmatched ground truth to (class, None), an
    unmatched prediction to (None, class). Only counted objects take part."""
    k = len(labels)
    lab = np.asarray(labels, np.int64)
    order = np.argsort(lab, kind="stable")

    def lookup(values: I64) -> I64:
        pos = np.minimum(np.searchsorted(lab[order], values), max(k - 1, 0))
        ok = (lab[order][pos] == values) if k else np.zeros(len(values), bool)
        return np.where(ok, order[pos] if k else 0, k).astype(np.int64)

    g_cls = np.asarray(gt_cls, np.int64)
    d_cls = np.asarray(dt_cls, np.int64)
    g_on = np.asarray(gt_counted, bool)
    d_on = np.asarray(dt_counted, bool)
    g_match = np.asarray(gt_match, np.int64)
    out = np.zeros((k + 1, k + 1), np.int64)
    gi = lookup(g_cls)
    di = lookup(d_cls)
    matched = g_on & (g_match >= 0)
    matched[matched] &= d_on[g_match[matched]]
    np.add.at(out, (gi[matched], di[g_match[matched]]), 1)
    lost = gi[g_on & ~matched]
    np.add.at(out, (lost, np.full(len(lost), k, np.int64)), 1)
    d_matched = np.zeros(len(d_cls), bool)
    d_matched[g_match[matched]] = True
    np.add.at(out, (np.full(int((d_on & ~d_matched).sum()), k), di[d_on & ~d_matched]), 1)
    return out
