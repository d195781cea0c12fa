"""The catalog: every data row of the workspace's datasets, beyond any one model run.

A catalog query is the query language (:mod:`errorscope.core.query`) without a run: the
leaves that need no run's results (dataset, ground-truth class present or absent,
"no ground truth at all" = unlabeled, metadata, text, ids) compile exactly as in
:mod:`errorscope.store.query` (this module's :class:`CatalogCompiler` is its
:class:`~errorscope.store.query.FilterCompiler` over a run-less row table); a leaf that
reads a run (split, prediction class, metrics, confusion cells, evaluated objects,
custom metrics) is an :class:`~errorscope.errors.InvalidQueryError` naming it. Every
value is a bound parameter. Pages are keyset pages as in a run's query, sorted by row id
or a metadata field.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.core.query import (
    And,
    ClassPresent,
    Confusion,
    CustomMetric,
    Filter,
    Not,
    ObjectMatch,
    Or,
    RowMetric,
    Similar,
    SliceMember,
    Sort,
    Split,
)
from errorscope.core.queryparse import filter_to_json
from errorscope.errors import InvalidQueryError, NotFoundError
from errorscope.store.database import Database
from errorscope.store.query import (
    FilterCompiler,
    QueryResult,
    decode_cursor,
    encode_cursor,
    keyset_page,
)

__all__ = [
    "CatalogCompiler",
    "DatasetCounts",
    "catalog_counts",
    "catalog_ids",
    "catalog_query",
    "label_classes",
    "metadata_fields",
    "runless_problem",
]

#: The catalog's rows ``m``: every data row of the chosen datasets (all if $datasets is
#: NULL), with its dataset's name; the columns the run-less leaves read.
_CATALOG_ROWS = """WITH m AS (
    SELECT d.id, d.global_key, d.text, s.name AS dataset
    FROM data_rows d JOIN datasets s ON s.id = d.dataset_id
    WHERE $datasets IS NULL OR list_contains($datasets::VARCHAR[], s.name)
)"""


def runless_problem(f: Filter) -> str | None:
    """Why ``f`` needs a model run (the first such leaf, described), or None if it does
    not. Slice references and similarity filters must be resolved before."""
    if isinstance(f, And | Or):
        for x in f.filters:
            found = runless_problem(x)
            if found is not None:
                return found
        return None
    if isinstance(f, Not):
        return runless_problem(f.filter)
    if isinstance(f, Split):
        return "a split filter (splits belong to a model run)"
    if isinstance(f, ClassPresent) and f.side == "prediction":
        return "a prediction class filter (predictions belong to a model run)"
    if isinstance(f, RowMetric):
        return f"a metric filter on {f.name!r} (metrics belong to a model run)"
    if isinstance(f, Confusion):
        return "a confusion-matrix filter (it reads a run's evaluation)"
    if isinstance(f, ObjectMatch):
        return "an object filter (it reads a run's evaluated objects)"
    if isinstance(f, CustomMetric):
        return f"a custom metric filter on {f.name!r} (custom metrics belong to a model run)"
    if isinstance(f, SliceMember | Similar):  # pragma: no cover - the SDK resolves them
        return f"an unresolved {type(f).__name__} filter"
    return None


class CatalogCompiler(FilterCompiler):
    """:class:`~errorscope.store.query.FilterCompiler` over the catalog's rows: the same
    SQL for the run-less leaves, an :class:`InvalidQueryError` for the others."""

    def compile(self, f: Filter) -> str:
        problem = runless_problem(f)
        if problem is not None:
            raise InvalidQueryError(
                f"{problem} needs a model run (run=): the catalog of all data rows has none"
            )
        return super().compile(f)

    def ctes(self) -> str:
        return _CATALOG_ROWS


def _check_datasets(db: Database, datasets: Sequence[str] | None) -> list[str] | None:
    if datasets is None:
        return None
    names = [str(n) for n in datasets]
    known = {str(n) for (n,) in db.rows("SELECT name FROM datasets")}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise NotFoundError(
            f"no dataset named {unknown[0]!r} (datasets: {', '.join(sorted(known)) or 'none'})"
        )
    return names


#: At most this many id lists of recent catalog filters are kept (per data generation).
_KEPT = 8


def _matching_ids(
    db: Database, where: Filter | None, datasets: Sequence[str] | None
) -> npt.NDArray[np.int64]:
    """Ids (ascending) of the catalog rows matching ``where``: one SQL evaluation, kept
    until the data change, so that the next pages of the same query cost a binary search
    instead of evaluating the filter again."""
    names = _check_datasets(db, datasets)
    text = None if where is None else json.dumps(filter_to_json(where), sort_keys=True)
    key = (text, None if names is None else tuple(names))
    entry = db.derived.get(("catalog-ids",))
    kept: OrderedDict[Any, npt.NDArray[np.int64]] = (
        entry[1] if entry is not None and entry[0] == db.generation else OrderedDict()
    )
    found = kept.get(key)
    if found is not None:
        kept.move_to_end(key)
        return found
    comp = CatalogCompiler()
    comp.params["datasets"] = names
    cond = "TRUE" if where is None else comp.compile(where)
    out = db.con.execute(f"{comp.matched(cond)} SELECT id FROM q", comp.params).fetchnumpy()
    ids = np.sort(np.asarray(out["id"], dtype=np.int64))
    if not db.in_transaction:
        kept[key] = ids
        while len(kept) > _KEPT:
            kept.popitem(last=False)
        db.derived[("catalog-ids",)] = (db.generation, kept)
    return ids


def _by_id(
    db: Database, ids: npt.NDArray[np.int64], sort: Sort, limit: int, cursor: str | None
) -> QueryResult:
    start = 0
    if cursor is not None:
        _, last_id = decode_cursor(cursor, sort)
        start = int(np.searchsorted(ids, last_id, side="right"))
    page = [int(i) for i in ids[start : start + limit]]
    keys = dict(
        db.con.execute(
            "SELECT id, global_key FROM data_rows WHERE id IN (SELECT unnest($ids::BIGINT[]))",
            {"ids": page},
        ).fetchall()
    )
    more = start + limit < len(ids) and bool(page)
    next_cursor = encode_cursor(sort, None, page[-1]) if more else None
    return QueryResult([(i, keys.get(i), None) for i in page], len(ids), next_cursor)


def catalog_query(
    db: Database,
    where: Filter | None,
    sort: Sort,
    *,
    datasets: Sequence[str] | None = None,
    limit: int,
    cursor: str | None = None,
) -> QueryResult:
    """One page of the catalog's rows (of ``datasets``, default all) matching ``where``
    in ``sort`` order (by id or a metadata field), and their total."""
    if sort.metric is not None and sort.source != "metadata":
        raise InvalidQueryError(
            f"the catalog sorts by id or meta(FIELD), not {sort.spec()!r} (no model run)"
        )
    if sort.metric is None:
        return _by_id(db, _matching_ids(db, where, datasets), sort, limit, cursor)
    comp = CatalogCompiler()
    comp.params["datasets"] = _check_datasets(db, datasets)
    cond = "TRUE" if where is None else comp.compile(where)
    return keyset_page(db, comp, cond, sort, limit=limit, cursor=cursor)


def catalog_ids(db: Database, where: Filter | None, datasets: Sequence[str] | None) -> list[int]:
    """Ids (ascending) of every catalog row matching ``where``."""
    return [int(i) for i in _matching_ids(db, where, datasets)]


@dataclass(frozen=True)
class DatasetCounts:
    """A dataset's data rows: all of them, those with ground truth, those without."""

    dataset: str
    total: int
    labeled: int
    unlabeled: int


def catalog_counts(db: Database) -> list[DatasetCounts]:
    """Per dataset (by name): its rows, labeled and unlabeled (no ground truth at all)."""
    entry = db.derived.get(("catalog-counts",))
    if entry is not None and entry[0] == db.generation:
        kept: list[DatasetCounts] = entry[1]
        return kept
    rows = db.rows(
        """SELECT s.name, count(d.id),
               count(d.id) FILTER (WHERE d.id IN (SELECT data_row_id FROM labels))
           FROM datasets s LEFT JOIN data_rows d ON d.dataset_id = s.id
           GROUP BY s.name ORDER BY s.name"""
    )
    out = [DatasetCounts(str(n), int(t), int(lab), int(t) - int(lab)) for n, t, lab in rows]
    if not db.in_transaction:
        db.derived[("catalog-counts",)] = (db.generation, out)
    return out


def label_classes(db: Database) -> list[str]:
    """The classes that some ground-truth label uses, by name."""
    return [
        str(n)
        for (n,) in db.rows(
            "SELECT DISTINCT c.name FROM labels l JOIN classes c ON c.id = l.class_id ORDER BY 1"
        )
    ]


def metadata_fields(db: Database) -> list[tuple[str, str]]:
    """``(name, type)`` of every metadata field, by name."""
    rows = db.rows("SELECT name, type FROM metadata_fields ORDER BY 1")
    return [(str(n), str(t)) for n, t in rows]
