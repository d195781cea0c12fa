"""``Workspace.query``: the data rows of a model run that match a filter, one page at a time.

The same engine serves the CLI (``errorscope rows``) and, later, the REST API. Filters
are :mod:`errorscope.core.query` objects or their JSON form; sorts are
:class:`~errorscope.core.query.Sort` or specs such as ``"iou:asc"`` /
``"person.f1:desc"``; pages continue from ``next_cursor`` (keyset pagination).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.core.pointcodes import PointCodes, point_codes
from errorscope.core.query import READY_MADE, ROW_METRICS, Filter, SliceMember, Sort
from errorscope.core.queryparse import parse_sort
from errorscope.errors import InvalidQueryError
from errorscope.sdk.slices import as_filter, resolve_slices
from errorscope.store import catalog
from errorscope.store.database import Database
from errorscope.store.queryindex import index_mask, index_query, load_index

__all__ = ["MAX_LIMIT", "QueryMixin", "QueryPage", "QueryRow", "paging"]

MAX_LIMIT = 10_000


def paging(sort: Sort | str | None, limit: object, cursor: object) -> Sort:
    """The :class:`~errorscope.core.query.Sort` of a page request (a spec string is
    parsed, None = by id) once its ``limit`` (an integer in ``[1, MAX_LIMIT]``) and
    ``cursor`` (None or a previous page's string) are checked: the paging arguments of
    :meth:`QueryMixin.query` and of the catalog. Bad ones raise
    :class:`~errorscope.errors.InvalidQueryError`."""
    order = parse_sort(sort) if isinstance(sort, str) else (sort or Sort())
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidQueryError(f"limit must be an integer in [1, {MAX_LIMIT}], not {limit!r}")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidQueryError("cursor must be a string from a previous page")
    return order


@dataclass(frozen=True)
class QueryRow:
    id: int
    global_key: str | None
    sort_value: float | int | None


@dataclass(frozen=True)
class QueryPage:
    """One page of matching rows, the total number of matches and the cursor of the
    next page (None on the last page)."""

    rows: list[QueryRow]
    total: int
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "rows": [
                {"id": r.id, "global_key": r.global_key, "sort_value": r.sort_value}
                for r in self.rows
            ],
            "total": self.total,
            "next_cursor": self.next_cursor,
        }


class QueryMixin:
    """The query methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def query(
        self,
        run: str,
        filter: Filter | Mapping[str, Any] | None = None,
        *,
        sort: Sort | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> QueryPage:
        """Rows of ``run`` (its evaluation scope) matching ``filter``, ordered by ``sort``
        (default: by id) with ties broken by data row id, at most ``limit`` of them,
        starting after ``cursor`` (a previous page's ``next_cursor``). ``filter`` is a
        :data:`~errorscope.core.query.Filter` or its JSON form; slice references
        (:class:`~errorscope.core.query.SliceMember`) are evaluated now, and a filter that
        is just a ready-made slice with an order of its own (``candidate_mislabels``) uses
        that order when ``sort`` is None. Bad filters, sorts, cursors and unknown or
        self-referring slices raise :class:`~errorscope.errors.InvalidQueryError`."""
        info = catalog.get_run(self.db, run)
        where = None if filter is None else resolve_slices(self.db, as_filter(filter))
        if sort is None and isinstance(filter, SliceMember) and filter.name in READY_MADE:
            sort = READY_MADE[filter.name].sort
        order = paging(sort, limit, cursor)
        found = index_query(self.db, info.id, where, order, limit=limit, cursor=cursor)
        return QueryPage(
            [QueryRow(i, k, v) for i, k, v in found.rows], found.total, found.next_cursor
        )

    def row_metric_columns(
        self,
        run: str,
        metrics: Sequence[str],
        filter: Filter | Mapping[str, Any] | None = None,
    ) -> tuple[npt.NDArray[np.int64], list[npt.NDArray[np.float64]]]:
        """The ids (ascending) of ``run``'s rows matching ``filter`` and, for each name of
        ``metrics`` (:data:`~errorscope.core.query.ROW_METRICS`), that metric of those
        rows, NaN where a row has none: whole columns from the in-memory row index, for
        plots of every row (no paging, no sort). Unknown metrics raise
        :class:`~errorscope.errors.InvalidQueryError`."""
        for name in metrics:
            if name not in ROW_METRICS:
                raise InvalidQueryError(
                    f"unknown metric {name!r}; expected one of {', '.join(ROW_METRICS)}"
                )
        info = catalog.get_run(self.db, run)
        where = None if filter is None else resolve_slices(self.db, as_filter(filter))
        index, mask = index_mask(self.db, info.id, where)
        ids = np.asarray(index.ids[mask], np.int64)
        return ids, [np.asarray(index.metrics[name][mask], np.float64) for name in metrics]

    def row_point_codes(self, run: str, ids: npt.ArrayLike) -> PointCodes:
        """The projector's color codes (:mod:`errorscope.core.pointcodes`) of ``run``'s
        rows ``ids``, in that order: dominant ground-truth and predicted class codes and
        the result code, in one vectorised pass over the in-memory row index. Ids that
        are not rows of the run raise :class:`~errorscope.errors.InvalidQueryError`."""
        info = catalog.get_run(self.db, run)
        index = load_index(self.db, info.id)
        wanted = np.asarray(ids, np.int64).reshape(-1)
        pos = index.positions(wanted)
        if len(pos) != len(wanted):
            missing = np.setdiff1d(wanted, index.ids)
            raise InvalidQueryError(f"data row {int(missing[0])} is not a row of run {run!r}")
        return point_codes(index, pos)

    def prepare_queries(self, runs: list[str] | None = None) -> None:
        """Build the row index of ``runs`` (default: every run) and its aggregation
        bitmaps now, so that the first query does not wait for them (the server does this
        when it starts)."""
        for run in runs if runs is not None else [r.name for r in catalog.list_runs(self.db)]:
            load_index(self.db, catalog.get_run(self.db, run).id).prepare()
