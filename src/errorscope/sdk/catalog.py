"""``Workspace.catalog``: every data row of the workspace's datasets, beyond one model run.

The catalog is where unlabeled data is found and sent to labeling: the same filter
language as a run's query (:meth:`~errorscope.sdk.query.QueryMixin.query`) restricted to
what needs no run: datasets, ground-truth classes present or absent (``{"type":
"class", "side": "label", "class_name": null, "present": false}``: no ground truth at
all, the *unlabeled* rows), metadata, text, ids, saved slices made of those, and
similarity (:class:`~errorscope.core.query.Similar`). Sorts are by id or ``meta(FIELD)``.
"""

from __future__ import annotations

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
)
from errorscope.errors import InvalidQueryError
from errorscope.sdk.query import QueryPage, QueryRow, paging
from errorscope.sdk.slices import as_filter, resolve_slices
from errorscope.store import catalogquery as store
from errorscope.store.database import Database

__all__ = ["UNLABELED", "CatalogMixin"]

#: The filter of the rows without any ground truth.
UNLABELED = ClassPresent("label", None, present=False)


def _slice_names(f: Filter) -> list[str]:
    """The slices ``f`` refers to itself (not through other slices), in order."""
    if isinstance(f, And | Or):
        return [n for x in f.filters for n in _slice_names(x)]
    if isinstance(f, Not):
        return _slice_names(f.filter)
    return [f.name] if isinstance(f, SliceMember) else []


def _runless(db: Database, given: Filter) -> Filter:
    """``given`` with its slices expanded and its similarity filters resolved to ids (once,
    by :func:`~errorscope.sdk.slices.resolve_slices`: similarity needs no run), refused
    if a leaf needs a model run, naming the slice that brought the leaf in if one did."""
    where = resolve_slices(db, given)
    problem = store.runless_problem(where)
    if problem is None:
        return where
    for name in _slice_names(given):  # only on this error path: which slice was it?
        inner = store.runless_problem(resolve_slices(db, SliceMember(name)))
        if inner is not None:
            raise InvalidQueryError(f"slice {name!r} needs a model run (run=): it uses {inner}")
    raise InvalidQueryError(
        f"{problem} needs a model run (run=): the catalog of all data rows has none"
    )


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
        order = paging(sort, limit, cursor)
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
            parts.append(_runless(self.db, as_filter(filter)))
        if unlabeled:
            parts.append(UNLABELED)
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else And(tuple(parts))
