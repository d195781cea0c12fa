"""Aggregations of a run's rows under a filter: per-class counts and scores, the
confusion matrix and histograms, from the run's row index
(:mod:`errorscope.store.queryindex`): the filter becomes a mask over the rows, and each
aggregation sums columns of the index's per-(row, class) tables over the rows in the mask
(popcounts of bitmaps for most rows; see :meth:`~errorscope.core.rowindex.ClassTable.grouped`)
— no SQL per request.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from errorscope.core.query import Filter
from errorscope.core.rowindex import (
    CELL_COLUMNS,
    COUNT_COLUMNS,
    GROUP_STRIDE,
    SCORE_COLUMNS,
    bin_counts,
)
from errorscope.store.database import Database
from errorscope.store.queryindex import index_mask, load_index

__all__ = [
    "ClassScores",
    "class_counts",
    "class_scores",
    "confusion_cells",
    "confusion_pairs",
    "is_evaluated",
    "run_histogram",
]


def class_counts(
    db: Database, run_id: int, where: Filter | None
) -> tuple[int, list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """The matching rows, and per class ``(class, annotations, data rows)`` of the
    labels and of the kept predictions in them (a prediction is kept unless its
    evaluation ignored it, below the confidence threshold; an unevaluated run's
    predictions are all kept). Classes with nothing kept are left out; by name."""
    index, mask = index_mask(db, run_id, where)
    groups, _, sums = index.classes.grouped(mask, COUNT_COLUMNS)
    names = {v: k for k, v in index.class_ids.items()}
    labels: list[tuple[str, int, int]] = []
    preds: list[tuple[str, int, int]] = []
    for g, kept, rows in zip(groups, sums["kept"], sums["has_kept"], strict=True):
        if kept <= 0:
            continue
        entry = (names[int(g) % GROUP_STRIDE], int(kept), int(rows))
        (labels if g < GROUP_STRIDE else preds).append(entry)
    return int(mask.sum()), sorted(labels), sorted(preds)


def _cell(names: dict[int, str], code: int) -> tuple[str | None, str | None]:
    """The (gt, predicted) class names of a confusion group code (None: no match)."""
    gt, pred = divmod(int(code), GROUP_STRIDE)
    return (None if gt == 0 else names[gt - 1]), (None if pred == 0 else names[pred - 1])


def confusion_cells(
    db: Database, run_id: int, where: Filter | None
) -> tuple[int, list[tuple[str | None, str | None, int, int]]]:
    """The matching rows, and the confusion-matrix cells ``(gt, pred, objects, data
    rows)`` of their evaluated objects (``None``: no match), by gt then pred (None last)."""
    index, mask = index_mask(db, run_id, where)
    groups, rows, sums = index.confusion.grouped(mask, CELL_COLUMNS)
    names = {v: k for k, v in index.class_ids.items()}
    cells = [
        (*_cell(names, g), int(k), int(r)) for g, k, r in zip(groups, sums["n"], rows, strict=True)
    ]
    cells.sort(key=lambda c: (c[0] is None, c[0] or "", c[1] is None, c[1] or ""))
    return int(mask.sum()), cells


def is_evaluated(db: Database, run_id: int) -> bool:
    """Whether the run has a stored evaluation (from its index: no query per request)."""
    return load_index(db, run_id).evaluated


def confusion_pairs(db: Database, run_id: int) -> list[tuple[str | None, str]]:
    """Every (gt class or None, predicted class) cell the run's evaluation has, anywhere."""
    index = load_index(db, run_id)
    names = {v: k for k, v in index.class_ids.items()}
    pairs = [_cell(names, c) for c in index.confusion.codes]
    return [(gt, pred) for gt, pred in pairs if pred is not None]


@dataclass(frozen=True)
class ClassScores:
    class_name: str
    tp: int
    fp: int
    fn: int
    iou_sum: float
    rows: int  # data rows where the class has a counted label or prediction


def class_scores(db: Database, run_id: int, where: Filter | None) -> list[ClassScores]:
    """Per class, the TP/FP/FN counts and TP IoU sum of the evaluated objects in the
    matching rows (sums of the per-row, per-class counts), by class name."""
    index, mask = index_mask(db, run_id, where)
    groups, rows, sums = index.per_class.grouped(mask, SCORE_COLUMNS)
    names = {v: k for k, v in index.class_ids.items()}
    out = [
        ClassScores(
            names[int(g)],
            int(sums["tp"][i]),
            int(sums["fp"][i]),
            int(sums["fn"][i]),
            float(sums["iou_sum"][i]),
            int(rows[i]),
        )
        for i, g in enumerate(groups)
    ]
    return sorted(out, key=lambda c: c.class_name)


#: Metrics that are ratios in [0, 1]: their histograms always span [0, 1].
_RATIOS = frozenset(
    {"iou", "precision", "recall", "f1", "mean_confidence", "max_fp_confidence", "mislabel_score"}
)


def run_histogram(
    db: Database,
    run_id: int,
    where: Filter | None,
    metric: str,
    bins: int,
    class_name: str | None = None,
) -> list[tuple[float, float, int]]:
    """``bins`` equal-width bins ``(lo, hi, rows)`` of the row metric ``metric`` (of
    ``class_name`` in the row, if given) over the run's rows matching ``where`` (rows
    without a value are in no bin). Bins are ``[lo, hi)``, the last ``[lo, hi]``; ratios
    span [0, 1], counts their min..max."""
    index, mask = index_mask(db, run_id, where)
    if class_name is None:
        values = index.metrics[metric][mask]
    else:
        values = index.class_metric(metric, class_name)[mask]
    values = values[~np.isnan(values)]
    if not len(values):
        return []
    lo, hi = float(values.min()), float(values.max())
    if metric in _RATIOS:
        lo, hi = min(lo, 0.0), max(hi, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    edges = [lo + (hi - lo) * i / bins for i in range(bins)] + [hi]
    counts = bin_counts(values, edges)
    return [(edges[i], edges[i + 1], counts[i]) for i in range(bins)]
