"""``Workspace.aggregate``: what the rows of a run matching a filter hold, with click-through.

Per-class counts of ground-truth annotations and of kept predictions (the Labelbox
histograms) and the confusion matrix of the stored evaluation, each bar and cell with the
filter (JSON form) that selects exactly the data rows it counts, under the same filter.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from errorscope.core.query import (
    And,
    ClassPresent,
    Confusion,
    Filter,
    Or,
    RowMetric,
    filter_to_json,
)
from errorscope.errors import InvalidQueryError
from errorscope.sdk.slices import as_filter, resolve_slices
from errorscope.store import catalog
from errorscope.store.aggregate import run_aggregate, run_histogram
from errorscope.store.database import Database
from errorscope.store.results import load_evaluation

__all__ = ["AggregateMixin"]


def _under(base: Filter | None, f: Filter) -> dict[str, Any]:
    return filter_to_json(f if base is None else And((base, f)))


class AggregateMixin:
    """The aggregation methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def aggregate(
        self, run: str, filter: Filter | Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Aggregations of ``run``'s rows matching ``filter`` (a filter or its JSON form):

        * ``rows``: how many data rows match;
        * ``labels`` / ``predictions``: per class ``{"class_name", "count", "rows",
          "filter"}`` (annotations / kept predictions, the data rows holding them, and
          the filter selecting exactly those rows);
        * ``confusion``: ``{"evaluated", "gt_classes", "pred_classes", "cells"}``, each
          cell ``{"gt_class", "pred_class", "count", "rows", "filter"}`` with ``None`` for
          "no match" (a missed ground truth or an unmatched prediction); only non-empty
          cells are listed.

        Every ``filter`` is the given filter AND the bar's or cell's own condition, ready
        for :meth:`~errorscope.sdk.query.QueryMixin.query`."""
        info = catalog.get_run(self.db, run)
        base = None if filter is None else as_filter(filter)
        where = None if base is None else resolve_slices(self.db, base)
        evaluated = load_evaluation(self.db, info.id) is not None
        found = run_aggregate(self.db, info.id, where)
        gts: dict[str | None, None] = {}
        preds: dict[str | None, None] = {}
        by_pred: dict[str, list[str | None]] = {}
        for g, p, _, _ in found.confusion:
            gts[g] = None
            preds[p] = None
            if p is not None:
                by_pred.setdefault(p, []).append(g)

        def pred_filter(name: str) -> Filter:
            if not evaluated:
                return ClassPresent("prediction", name)
            return Or(tuple(Confusion(g, name) for g in by_pred.get(name, [])))

        return {
            "run": run,
            "filter": None if base is None else filter_to_json(base),
            "rows": found.rows,
            "labels": [
                {
                    "class_name": n,
                    "count": k,
                    "rows": r,
                    "filter": _under(base, ClassPresent("label", n)),
                }
                for n, k, r in found.labels
            ],
            "predictions": [
                {"class_name": n, "count": k, "rows": r, "filter": _under(base, pred_filter(n))}
                for n, k, r in found.predictions
            ],
            "confusion": {
                "evaluated": evaluated,
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
                    for g, p, k, r in found.confusion
                ],
            },
        }

    def histogram(
        self,
        run: str,
        metric: str,
        filter: Filter | Mapping[str, Any] | None = None,
        *,
        bins: int = 20,
    ) -> dict[str, Any]:
        """Equal-width histogram of the row metric ``metric`` over ``run``'s rows matching
        ``filter``: ``{"metric", "bins": [{"lo", "hi", "count", "filter"}]}``, each bin
        ``[lo, hi)`` (the last ``[lo, hi]``) with the filter selecting exactly its rows.
        Ratios span [0, 1]; counts their range. Rows without a value are in no bin."""
        info = catalog.get_run(self.db, run)
        RowMetric(metric)  # validates the name
        if isinstance(bins, bool) or not isinstance(bins, int) or not 1 <= bins <= 1000:
            raise InvalidQueryError(f"bins must be an integer in [1, 1000], not {bins!r}")
        base = None if filter is None else as_filter(filter)
        where = None if base is None else resolve_slices(self.db, base)
        found = run_histogram(self.db, info.id, where, metric, bins)
        return {
            "run": run,
            "metric": metric,
            "bins": [
                {
                    "lo": lo,
                    "hi": hi,
                    "count": k,
                    "filter": _under(
                        base, RowMetric(metric, lo, hi, hi_inclusive=i == len(found) - 1)
                    ),
                }
                for i, (lo, hi, k) in enumerate(found)
            ],
        }
