"""Scoring of checklist (multi-label) classifications for :mod:`errorscope.sdk.evaluation`.

A sample is a (data row, checklist class) that has ground truth or a kept prediction; its
true and predicted answers are two sets (a missing side is the empty set). As
scikit-learn scores multi-label indicator matrices:

* ``accuracy``: subset accuracy, the fraction of samples whose sets are equal;
* per answer: TP (in both), FP (predicted only), FN (true only), precision, recall and F1
  (0 where undefined, scikit-learn's ``zero_division=0``); ``macro_f1`` their mean;
* per object: a ground truth is a TP when the prediction's set equals it (else FN), a
  kept prediction likewise (else FP); the IoU is the Jaccard index of the two sets
  (1 for two empty sets). Errors: ``classification`` (a prediction with other answers),
  ``missed`` (no prediction), ``spurious`` (a prediction without ground truth).

The confusion matrix has the answers plus "None": TP on the diagonal, FN in the None
column, FP in the None row.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from errorscope.core import metrics
from errorscope.core.matching import class_thresholds
from errorscope.sdk.scoring import Family, _col, _floats, _objects

__all__ = ["evaluate_checklist"]

Bool2 = npt.NDArray[np.bool_]
I64 = npt.NDArray[np.int64]


def _indicator(table: pa.Table, options: npt.NDArray[np.object_], prefix: bool) -> Bool2:
    answers = table.column("answers").combine_chunks()
    flat = pc.list_flatten(answers).to_numpy(zero_copy_only=False).astype(object)
    parents = pc.list_parent_indices(answers).to_numpy().astype(np.int64)
    if prefix:
        names = _col(table, "class_name").astype(object)
        flat = np.array([f"{names[p]}/{a}" for p, a in zip(parents, flat, strict=True)], object)
    out = np.zeros((table.num_rows, len(options)), bool)
    out[parents, np.searchsorted(options, flat)] = True
    return out


def _option_names(table: pa.Table, prefix: bool) -> set[str]:
    answers = table.column("answers").combine_chunks()
    flat = pc.list_flatten(answers).to_pylist()
    if not prefix:
        return set(flat)
    names = _col(table, "class_name")
    parents = pc.list_parent_indices(answers).to_numpy()
    return {f"{names[p]}/{a}" for p, a in zip(parents, flat, strict=True)}


def evaluate_checklist(
    gt_t: pa.Table,
    dt_t: pa.Table,
    *,
    confidence: float,
    class_confidence: Mapping[int, float] | None = None,
) -> Family:
    conf = _floats(dt_t, "confidence")
    kept = conf >= class_thresholds(_col(dt_t, "class_id"), confidence, class_confidence)
    several = len(set(_col(gt_t, "class_id").tolist()) | set(_col(dt_t, "class_id").tolist())) > 1
    options = np.array(
        sorted(_option_names(gt_t, several) | _option_names(dt_t, several)), dtype=object
    )
    y_gt = _indicator(gt_t, options, several)
    y_dt = _indicator(dt_t, options, several)

    g_key = list(
        zip(_col(gt_t, "data_row_id").tolist(), _col(gt_t, "class_id").tolist(), strict=True)
    )
    d_key = list(
        zip(_col(dt_t, "data_row_id").tolist(), _col(dt_t, "class_id").tolist(), strict=True)
    )
    d_index = {k: i for i, k in enumerate(d_key) if kept[i]}
    g_keys = set(g_key)
    gt_match = np.array([d_index.get(k, -1) for k in g_key], dtype=np.int64)
    lonely = np.array(
        [i for i, k in enumerate(d_key) if kept[i] and k not in g_keys], dtype=np.int64
    )
    # samples: every ground truth (with its prediction or nothing), then the predictions
    # without ground truth
    pred_of_gt = np.zeros_like(y_gt)
    has = gt_match >= 0
    pred_of_gt[has] = y_dt[gt_match[has]]
    truth = np.concatenate([y_gt, np.zeros((len(lonely), len(options)), bool)])
    guess = np.concatenate([pred_of_gt, y_dt[lonely]])

    tp = (truth & guess).sum(axis=0)
    fp = (~truth & guess).sum(axis=0)
    fn = (truth & ~guess).sum(axis=0)
    precision, recall, f1 = (np.nan_to_num(a) for a in metrics.prf(tp, fp, fn))
    exact = (truth == guess).all(axis=1)
    fam = Family()
    fam.summary["classification"] = {
        "accuracy": float(exact.mean()) if len(exact) else 0.0,
        "macro_f1": float(f1.mean()) if len(f1) else 0.0,
        "macro_precision": float(precision.mean()) if len(f1) else 0.0,
        "macro_recall": float(recall.mean()) if len(f1) else 0.0,
    }
    union = (truth | guess).sum(axis=1)
    jaccard = np.where(union > 0, (truth & guess).sum(axis=1) / np.maximum(union, 1), 1.0)

    n_gt = len(g_key)
    right = exact[:n_gt] & has
    gt_status = np.where(right, "TP", "FN").astype(object)
    gt_error = np.where(right, "", np.where(has, "classification", "missed")).astype(object)
    gt_iou = np.where(has, jaccard[:n_gt], np.nan)
    dt_match = np.full(len(d_key), -1, np.int64)
    dt_match[gt_match[has]] = np.nonzero(has)[0]
    dt_iou = np.full(len(d_key), np.nan)
    dt_iou[gt_match[has]] = jaccard[:n_gt][has]
    dt_right = np.zeros(len(d_key), bool)
    dt_right[gt_match[right]] = True
    dt_status = np.where(dt_right, "TP", np.where(kept, "FP", "ignored")).astype(object)
    dt_error = np.where(
        dt_status == "FP", np.where(dt_match >= 0, "classification", "spurious"), ""
    ).astype(object)
    gt_ids = _col(gt_t, "id").astype(np.int64)
    dt_ids = _col(dt_t, "id").astype(np.int64)
    fam.objects.append(_objects("label", gt_t, gt_status, gt_match, dt_ids, gt_iou, gt_error))
    fam.objects.append(_objects("prediction", dt_t, dt_status, dt_match, gt_ids, dt_iou, dt_error))
    fam.counts = metrics.by_row_class(
        _col(gt_t, "data_row_id"),
        _col(gt_t, "class_id"),
        gt_status,
        np.where(right, 1.0, np.nan),
        _col(dt_t, "data_row_id"),
        _col(dt_t, "class_id"),
        dt_status,
        conf,
    )
    for i, name in enumerate(options.tolist()):
        fam.per_class[name] = {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "tp": int(tp[i]),
            "fp": int(fp[i]),
            "fn": int(fn[i]),
            "support": int(tp[i] + fn[i]),
        }
    k = len(options)
    matrix = np.zeros((k + 1, k + 1), np.int64)
    matrix[np.arange(k), np.arange(k)] = tp
    matrix[np.arange(k), k] = fn
    matrix[k, np.arange(k)] = fp
    fam.confusion = {"labels": [*options.tolist(), "None"], "matrix": matrix.tolist()}
    return fam
