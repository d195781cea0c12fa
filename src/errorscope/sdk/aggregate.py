"""Aggregations of a run's rows under a filter, every bar, bin and cell with click-through.

* :meth:`AggregateMixin.class_counts`: per-class counts of ground-truth annotations and
  of kept predictions (the Labelbox histograms);
* :meth:`AggregateMixin.class_metrics`: per-class TP/FP/FN, precision, recall, F1 and
  IoU over the matching rows (the metric bars);
* :meth:`AggregateMixin.confusion`: the confusion matrix of the stored evaluation;
* :meth:`AggregateMixin.histogram`: equal-width bins of a row metric, or of one class's
  metric in each row;
* :meth:`AggregateMixin.aggregate`: counts and confusion matrix in one answer.

Each bar, bin and cell carries ``filter``, the JSON form of the filter that selects
exactly the data rows it counts, under the same filter — ready for
:meth:`~errorscope.sdk.query.QueryMixin.query`. Class-level scores over a set of rows
use the counting rules of :mod:`errorscope.core.metrics`: precision = TP / (TP + FP),
recall = TP / (TP + FN), F1 = 2TP / (2TP + FP + FN), IoU = (sum of the TPs' IoU) /
(TP + FP + FN); undefined (None) where the denominator is 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from errorscope.core.query import And, ClassPresent, Confusion, Filter, Or, RowMetric
from errorscope.core.queryparse import filter_to_json
from errorscope.errors import InvalidQueryError
from errorscope.sdk.slices import as_filter, resolve_slices
from errorscope.store import aggregate as agg
from errorscope.store import catalog
from errorscope.store.database import Database

__all__ = ["AggregateMixin"]

FilterLike = Filter | Mapping[str, Any] | None


def _under(base: Filter | None, f: Filter) -> dict[str, Any]:
    return filter_to_json(f if base is None else And((base, f)))


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


class AggregateMixin:
    """The aggregation methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def _resolve(self, run: str, filter: FilterLike) -> tuple[int, Filter | None, Filter | None]:
        info = catalog.get_run(self.db, run)
        base = None if filter is None else as_filter(filter)
        where = None if base is None else resolve_slices(self.db, base)
        return info.id, base, where

    def class_counts(self, run: str, filter: FilterLike = None) -> dict[str, Any]:
        """Per class ``{"class_name", "count", "rows", "filter"}`` of the labels
        (``labels``) and of the kept predictions (``predictions``; below the evaluation's
        confidence threshold they are not kept) in ``run``'s rows matching ``filter``,
        and ``rows``, how many rows match."""
        run_id, base, where = self._resolve(run, filter)
        total, labels, preds = agg.class_counts(self.db, run_id, where)
        evaluated = agg.is_evaluated(self.db, run_id)
        by_pred: dict[str, list[str | None]] = {}
        if evaluated:  # cells that hold no matching row add nothing to a bar's filter
            for g, p in agg.confusion_pairs(self.db, run_id):
                by_pred.setdefault(p, []).append(g)

        def pred_filter(name: str) -> Filter:
            # kept predictions are exactly those in some confusion-matrix cell
            if not evaluated:
                return ClassPresent("prediction", name)
            return Or(tuple(Confusion(g, name) for g in by_pred.get(name, [])))

        return {
            "run": run,
            "filter": None if base is None else filter_to_json(base),
            "rows": total,
            "labels": [
                {
                    "class_name": n,
                    "count": k,
                    "rows": r,
                    "filter": _under(base, ClassPresent("label", n)),
                }
                for n, k, r in labels
            ],
            "predictions": [
                {"class_name": n, "count": k, "rows": r, "filter": _under(base, pred_filter(n))}
                for n, k, r in preds
            ],
        }

    def class_metrics(self, run: str, filter: FilterLike = None) -> dict[str, Any]:
        """Per class ``{"class_name", "tp", "fp", "fn", "precision", "recall", "f1",
        "iou", "rows", "filter"}`` over the evaluated objects in ``run``'s rows matching
        ``filter`` (see the module docstring for the formulas); ``rows`` and ``filter``
        are the rows where the class has a counted label or prediction. Without a filter
        the counts are the stored evaluation's per-class counts."""
        run_id, base, where = self._resolve(run, filter)
        out = []
        for c in agg.class_scores(self.db, run_id, where):
            out.append(
                {
                    "class_name": c.class_name,
                    "tp": c.tp,
                    "fp": c.fp,
                    "fn": c.fn,
                    "precision": _ratio(c.tp, c.tp + c.fp),
                    "recall": _ratio(c.tp, c.tp + c.fn),
                    "f1": _ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn),
                    "iou": c.iou_sum / max(c.tp + c.fp + c.fn, 1),
                    "rows": c.rows,
                    "filter": _under(base, RowMetric("tp", 0, class_name=c.class_name)),
                }
            )
        return {
            "run": run,
            "filter": None if base is None else filter_to_json(base),
            "classes": out,
        }

    def confusion(self, run: str, filter: FilterLike = None) -> dict[str, Any]:
        """The confusion matrix of ``run``'s evaluated objects in the rows matching
        ``filter``: ``{"evaluated", "rows", "gt_classes", "pred_classes", "cells"}``,
        each cell ``{"gt_class", "pred_class", "count", "rows", "filter"}`` with ``None``
        for "no match" (a missed ground truth or an unmatched prediction); only
        non-empty cells are listed."""
        run_id, base, where = self._resolve(run, filter)
        total, cells = agg.confusion_cells(self.db, run_id, where)
        gts: dict[str | None, None] = {}
        preds: dict[str | None, None] = {}
        for g, p, _, _ in cells:
            gts[g] = None
            preds[p] = None
        return {
            "run": run,
            "filter": None if base is None else filter_to_json(base),
            "evaluated": agg.is_evaluated(self.db, run_id),
            "rows": total,
            "gt_classes": list(gts),
            "pred_classes": [*sorted(p for p in preds if p is not None)]
            + ([None] if None in preds else []),
            "cells": [
                {
                    "gt_class": g,
                    "pred_class": p,
                    "count": k,
                    "rows": r,
                    "filter": _under(base, Confusion(g, p)),
                }
                for g, p, k, r in cells
            ],
        }

    def aggregate(self, run: str, filter: FilterLike = None) -> dict[str, Any]:
        """:meth:`class_counts` and :meth:`confusion` in one answer: ``rows``,
        ``labels``, ``predictions`` and ``confusion`` (without its ``run``, ``filter``
        and ``rows``)."""
        counts = self.class_counts(run, filter)
        cm = self.confusion(run, filter)
        for key in ("run", "filter", "rows"):
            cm.pop(key)
        return {**counts, "confusion": cm}

    def histogram(
        self,
        run: str,
        metric: str,
        filter: FilterLike = None,
        *,
        bins: int = 20,
        class_name: str | None = None,
    ) -> dict[str, Any]:
        """Equal-width histogram of the row metric ``metric`` — or, with ``class_name``,
        of that class's metric in each row — over ``run``'s rows matching ``filter``:
        ``{"metric", "class_name", "bins": [{"lo", "hi", "count", "filter"}]}``, each bin
        ``[lo, hi)`` (the last ``[lo, hi]``) with the filter selecting exactly its rows.
        Ratios span [0, 1]; counts their range. Rows without a value are in no bin."""
        if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= 1000:
            raise InvalidQueryError(f"bins must be an integer in [1, 1000], not {bins!r}")
        if class_name is not None and not isinstance(class_name, str):
            raise InvalidQueryError(f"class_name must be a string, not {class_name!r}")
        RowMetric(metric, class_name=class_name)  # an unknown metric raises the standard error
        run_id, base, where = self._resolve(run, filter)
        found = agg.run_histogram(self.db, run_id, where, metric, bins, class_name)
        last = len(found) - 1
        return {
            "run": run,
            "metric": metric,
            "class_name": class_name,
            "bins": [
                {
                    "lo": lo,
                    "hi": hi,
                    "count": k,
                    "filter": _under(
                        base, RowMetric(metric, lo, hi, class_name, hi_inclusive=i == last)
                    ),
                }
                for i, (lo, hi, k) in enumerate(found)
            ],
        }
