"""``Workspace.catalog``: every data row of the workspace's datasets, beyond one model run.

The catalog is where unlabeled data is found and sent to labeling: the same filter
language as a run's query (:meth:`~errorscope.sdk.query.QueryMixin.query`) restricted to
what needs no run: datasets, ground-truth classes present or absent (``{"type":
"class", "side": "label", "class_name": null, "present": false}``: no ground truth at
all, the *unlabeled* rows), metadata, text, ids, saved slices made of those, and
similarity (:class:`~errorscope.core.query.Similar`). Sorts are by id or ``meta(FIELD)``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from errorscope.core.query import (
    And,
    ClassPresent,
    Filter,
    Not,
    Or,
    SliceMember,
    Sort,
    expand_slices,
)
from errorscope.core.queryparse import parse_sort
from errorscope.errors import InvalidQueryError
from errorscope.sdk.query import MAX_LIMIT, QueryPage, QueryRow
from errorscope.sdk.slices import as_filter, resolve_slices
from errorscope.store import catalogquery as store
from errorscope.store import slices as slice_store
from errorscope.store.database import Database

__all__ = ["UNLABELED", "CatalogMixin"]

#: The filter of the rows without any ground truth.
UNLABELED = ClassPresent("label", None, present=False)


def _check_slices(db: Database, f: Filter) -> None:
    """Name the slice when a slice of ``f`` needs a model run."""
    if isinstance(f, And | Or):
        for x in f.filters:
            _check_slices(db, x)
    elif isinstance(f, Not):
        _check_slices(db, f.filter)
    elif isinstance(f, SliceMember):

        def lookup(name: str) -> Filter | None:
            row = slice_store.get_slice(db, name)
            return None if row is None else as_filter(json.loads(row[2]))

        problem = store.runless_problem(expand_slices(f, lookup))
        if problem is not None:
            raise InvalidQueryError(f"slice {f.name!r} needs a model run (run=): it uses {problem}")


class CatalogMixin:
    """The catalog methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def catalog(
        self,
        filter: Filter | Mapping[str, Any] | None = None,
        *,
        datasets: Sequence[str] | None = None,
        unlabeled: bool = False,
        sort: Sort | str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> QueryPage:
        """Data rows of ``datasets`` (default: every dataset) matching ``filter``, with
        ``unlabeled`` only those without any ground truth, ordered by ``sort`` (``id``,
        the default, or ``meta(FIELD)[:asc|:desc]``; ties by id), at most ``limit`` of
        them after ``cursor`` (a previous page's ``next_cursor``). Filters that need a
        model run (split, prediction class, metrics, confusion, object, custom metric,
        ready-made slices) raise :class:`~errorscope.errors.InvalidQueryError` naming
        the leaf; an unknown dataset raises :class:`~errorscope.errors.NotFoundError`."""
        where = self._catalog_filter(filter, unlabeled)
        order = parse_sort(sort) if isinstance(sort, str) else (sort or Sort())
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            raise InvalidQueryError(f"limit must be an integer in [1, {MAX_LIMIT}], not {limit!r}")
        if cursor is not None and not isinstance(cursor, str):
            raise InvalidQueryError("cursor must be a string from a previous page")
        found = store.catalog_query(
            self.db, where, order, datasets=datasets, limit=limit, cursor=cursor
        )
        return QueryPage(
            [QueryRow(i, k, v) for i, k, v in found.rows], found.total, found.next_cursor
        )

    def catalog_ids(
        self,
        filter: Filter | Mapping[str, Any] | None = None,
        *,
        datasets: Sequence[str] | None = None,
        unlabeled: bool = False,
    ) -> list[int]:
        """Ids (ascending) of every catalog row :meth:`catalog` would page through."""
        return store.catalog_ids(self.db, self._catalog_filter(filter, unlabeled), datasets)

    def catalog_summary(self) -> dict[str, Any]:
        """Per dataset its rows (``total``, ``labeled``, ``unlabeled``), the classes of
        the ground truth and the metadata fields (``name``, ``type``): what the catalog
        view's pickers offer."""
        return {
            "datasets": [asdict(c) for c in store.catalog_counts(self.db)],
            "classes": store.label_classes(self.db),
            "metadata_fields": [{"name": n, "type": t} for n, t in store.metadata_fields(self.db)],
        }

    def _catalog_filter(
        self, filter: Filter | Mapping[str, Any] | None, unlabeled: bool
    ) -> Filter | None:
        parts: list[Filter] = []
        if filter is not None:
            given = as_filter(filter)
            _check_slices(self.db, given)
            parts.append(resolve_slices(self.db, given))
        if unlabeled:
            parts.append(UNLABELED)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(tuple(parts))
