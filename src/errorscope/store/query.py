"""Compile a query (:mod:`errorscope.core.query`) to SQL over a run's stored results.

The rows of a run are the data rows of its evaluation scope (every row of the datasets
its predictions touch, see :mod:`errorscope.store.results`), each with its split in the
run (``unassigned`` if the run has no row there) and its stored row metrics. Every value
of a query is bound as a named parameter; identifiers (metric columns) come from a fixed
whitelist, so no user text is ever part of the SQL.

This is the query language's statement in SQL over the base tables. Requests are
answered by the run's in-memory row index (:mod:`errorscope.store.queryindex`), which
uses :class:`FilterCompiler` for the leaves it does not hold; :func:`run_query` and
:func:`filter_row_ids` are the reference the index is tested against, and serve callers
that build their own row set (embeddings, failure analysis).

Pagination is keyset: the cursor is the last row's ``(sort value, id)`` and the next
page continues strictly after it in the order ``sort value (nulls last), id``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from errorscope.core.query import (
    ROW_METRICS,
    And,
    ClassPresent,
    Confusion,
    CustomMetric,
    Dataset,
    Filter,
    Ids,
    Metadata,
    Not,
    ObjectMatch,
    Or,
    RowMetric,
    Sort,
    Split,
    TextContains,
)
from errorscope.errors import InvalidQueryError
from errorscope.store.database import Database
from errorscope.store.rowscores import MISLABEL

__all__ = [
    "METRIC_COLUMNS",
    "FilterCompiler",
    "QueryResult",
    "decode_cursor",
    "encode_cursor",
    "filter_row_ids",
    "keyset_page",
    "run_query",
]

#: Metric name -> SQL column of the row table ``m`` and of the per-class table ``pc``.
METRIC_COLUMNS = {name: f'"{name}"' for name in ROW_METRICS}
_COUNTS = frozenset({"tp", "fp", "fn"})

_ROWS = f"""
u AS (
    SELECT d.id, d.global_key, d.text, coalesce(rr.split, 'unassigned') AS split,
        s.name AS dataset
    FROM data_rows d
    JOIN datasets s ON s.id = d.dataset_id
    LEFT JOIN run_rows rr ON rr.data_row_id = d.id AND rr.run_id = $run
    WHERE d.dataset_id IN (
        SELECT DISTINCT x.dataset_id FROM data_rows x
        JOIN run_rows r ON r.data_row_id = x.id WHERE r.run_id = $run)
),
m AS (
    SELECT u.*, coalesce(e.tp, 0) AS tp, coalesce(e.fp, 0) AS fp, coalesce(e.fn, 0) AS fn,
           e."precision", e.recall, e.f1, e.iou, e.mean_confidence, fp.max_fp_confidence,
           ms.value AS mislabel_score
    FROM u LEFT JOIN eval_row_metrics e ON e.run_id = $run AND e.data_row_id = u.id
    LEFT JOIN (
        SELECT data_row_id, max(confidence) AS max_fp_confidence FROM eval_objects
        WHERE run_id = $run AND source = 'prediction' AND status = 'FP'
        GROUP BY data_row_id) fp ON fp.data_row_id = u.id
    LEFT JOIN row_scores ms
        ON ms.run_id = $run AND ms.name = '{MISLABEL}' AND ms.data_row_id = u.id
)"""

#: Per (data row, class) counts and scores, as :func:`errorscope.core.metrics.by_row_class`.
_PER_CLASS = """,
pc0 AS (
    SELECT o.data_row_id, c.name AS class_name,
        count(*) FILTER (WHERE o.source = 'label' AND o.status = 'TP') AS tp,
        count(*) FILTER (WHERE o.source = 'prediction' AND o.status = 'FP') AS fp,
        count(*) FILTER (WHERE o.source = 'label' AND o.status = 'FN') AS fn,
        coalesce(sum(coalesce(o.iou, 0)) FILTER (WHERE o.source = 'label' AND o.status = 'TP'),
                 0) AS iou_sum,
        avg(o.confidence) FILTER (WHERE o.source = 'prediction') AS mean_confidence,
        max(o.confidence) FILTER (WHERE o.source = 'prediction' AND o.status = 'FP')
            AS max_fp_confidence
    FROM eval_objects o JOIN classes c ON c.id = o.class_id
    WHERE o.run_id = $run AND (
        (o.source = 'label' AND o.status IN ('TP', 'FN'))
        OR (o.source = 'prediction' AND o.status IN ('TP', 'FP')))
    GROUP BY o.data_row_id, c.name
),
pc AS (
    SELECT data_row_id, class_name, tp, fp, fn, mean_confidence, max_fp_confidence,
        CASE WHEN tp + fp > 0 THEN tp / (tp + fp) END AS "precision",
        CASE WHEN tp + fn > 0 THEN tp / (tp + fn) END AS recall,
        CASE WHEN 2 * tp + fp + fn > 0 THEN 2 * tp / (2 * tp + fp + fn) END AS f1,
        iou_sum / greatest(tp + fp + fn, 1) AS iou
    FROM pc0
)"""


#: The confusion-matrix cells of a run's evaluated objects, one row per object pair:
#: a counted ground truth with the class of the prediction it matched (NULL if none), or
#: an unmatched kept prediction (gt NULL). Ignored objects are not in any cell.
_CONFUSION = """,
cm AS (
    SELECT o.data_row_id, gc.name AS gt_class, pc_.name AS pred_class
    FROM eval_objects o JOIN classes gc ON gc.id = o.class_id
    LEFT JOIN eval_objects p ON p.run_id = $run AND p.source = 'prediction'
        AND p.annotation_id = o.matched_id
    LEFT JOIN classes pc_ ON pc_.id = p.class_id
    WHERE o.run_id = $run AND o.source = 'label' AND o.status IN ('TP', 'FN')
    UNION ALL
    SELECT o.data_row_id, NULL AS gt_class, c.name AS pred_class
    FROM eval_objects o JOIN classes c ON c.id = o.class_id
    WHERE o.run_id = $run AND o.source = 'prediction' AND o.status = 'FP'
        AND o.matched_id IS NULL
)"""


#: Custom metrics per data row: the mean over the run's predictions that carry one.
_CUSTOM = """,
cu AS (
    SELECT data_row_id, "key" AS name, avg("value")::DOUBLE AS value FROM (
        SELECT data_row_id, unnest(map_entries(custom_metrics), recursive := true)
        FROM predictions WHERE run_id = $run AND custom_metrics IS NOT NULL)
    GROUP BY ALL
)"""


@dataclass(frozen=True)
class QueryResult:
    rows: list[tuple[int, str | None, Any]]  # (data row id, global key, sort value)
    total: int
    next_cursor: str | None


class FilterCompiler:
    """Collects named parameters while turning a filter into a SQL condition on ``m``.

    With ``db`` and ``run_id`` the conditions read the run's query index (``$run`` is
    bound); without, the base tables, and the caller binds ``$run``."""

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}
        self.per_class = False
        self.confusion = False
        self.custom = False

    def ctes(self) -> str:
        """The WITH clause the compiled conditions need (rows ``m`` always)."""
        return (
            "WITH "
            + _ROWS
            + (_PER_CLASS if self.per_class else "")
            + (_CONFUSION if self.confusion else "")
            + (_CUSTOM if self.custom else "")
        )

    def matched(self, cond: str, columns: str = "m.id") -> str:
        """``WITH ..., q AS (SELECT <columns> FROM m WHERE <cond>)``."""
        return f"{self.ctes()},\nq AS (SELECT {columns} FROM m WHERE coalesce({cond}, FALSE))"

    def bind(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def range(self, col: str, lo: Any, hi: Any, lo_inc: bool = True, hi_inc: bool = True) -> str:
        parts = [f"{col} IS NOT NULL"]
        if lo is not None:
            parts.append(f"{col} {'>=' if lo_inc else '>'} {self.bind(lo)}")
        if hi is not None:
            parts.append(f"{col} {'<=' if hi_inc else '<'} {self.bind(hi)}")
        return "(" + " AND ".join(parts) + ")"

    def compile(self, f: Filter) -> str:
        if isinstance(f, And | Or):
            if not f.filters:
                return "TRUE" if isinstance(f, And) else "FALSE"
            joiner = " AND " if isinstance(f, And) else " OR "
            return "(" + joiner.join(self.compile(x) for x in f.filters) + ")"
        if isinstance(f, Not):
            return f"(NOT coalesce({self.compile(f.filter)}, FALSE))"
        if isinstance(f, Split):
            return f"list_contains({self.bind(list(f.values))}::VARCHAR[], m.split)"
        if isinstance(f, Ids):
            return f"m.id IN (SELECT unnest({self.bind(list(f.ids))}::BIGINT[]))"
        if isinstance(f, TextContains):
            return f"coalesce(contains(lower(m.text), lower({self.bind(f.text)})), FALSE)"
        if isinstance(f, ClassPresent):
            return self._class_present(f)
        if isinstance(f, Dataset):
            return f"list_contains({self.bind(list(f.names))}::VARCHAR[], m.dataset)"
        if isinstance(f, CustomMetric):
            self.custom = True
            cond = self.range("cu.value", f.lo, f.hi)
            return (
                f"EXISTS (SELECT 1 FROM cu WHERE cu.data_row_id = m.id "
                f"AND cu.name = {self.bind(f.name)} AND {cond})"
            )
        if isinstance(f, ObjectMatch):
            return self._object(f)
        if isinstance(f, RowMetric):
            col = METRIC_COLUMNS[f.name]
            if f.class_name is None:
                return self.range(f"m.{col}", f.lo, f.hi, f.lo_inclusive, f.hi_inclusive)
            self.per_class = True
            cond = self.range(f"pc.{col}", f.lo, f.hi, f.lo_inclusive, f.hi_inclusive)
            return (
                f"EXISTS (SELECT 1 FROM pc WHERE pc.data_row_id = m.id "
                f"AND pc.class_name = {self.bind(f.class_name)} AND {cond})"
            )
        if isinstance(f, Metadata):
            return self._metadata(f)
        if isinstance(f, Confusion):
            self.confusion = True
            return (
                f"EXISTS (SELECT 1 FROM cm WHERE cm.data_row_id = m.id "
                f"AND cm.gt_class IS NOT DISTINCT FROM {self.bind(f.gt_class)}::VARCHAR "
                f"AND cm.pred_class IS NOT DISTINCT FROM {self.bind(f.pred_class)}::VARCHAR)"
            )
        raise InvalidQueryError(f"not a filter: {f!r}")

    def _object(self, f: ObjectMatch) -> str:
        parts = [
            "o.run_id = $run",
            "o.data_row_id = m.id",
            f"o.source = {self.bind(f.side)}",
        ]
        if f.class_name is not None:
            parts.append(
                f"o.class_id IN (SELECT id FROM classes WHERE name = {self.bind(f.class_name)})"
            )
        if f.status is not None:
            parts.append(f"o.status = {self.bind(f.status)}")
        if f.error_type is not None:
            parts.append(f"o.error_type = {self.bind(f.error_type)}")
        if f.min_confidence is not None or f.max_confidence is not None:
            parts.append(self.range("o.confidence", f.min_confidence, f.max_confidence))
        if f.min_iou is not None or f.max_iou is not None:
            parts.append(self.range("o.iou", f.min_iou, f.max_iou))
        return f"EXISTS (SELECT 1 FROM eval_objects o WHERE {' AND '.join(parts)})"

    def _class_present(self, f: ClassPresent) -> str:
        if f.side == "label":
            source, extra = "labels a", ""
        else:
            source, extra = "predictions a", " AND a.run_id = $run"
        if f.class_name is None:
            sub = f"SELECT 1 FROM {source} WHERE a.data_row_id = m.id{extra}"
        else:
            sub = (
                f"SELECT 1 FROM {source} JOIN classes c ON c.id = a.class_id "
                f"WHERE a.data_row_id = m.id{extra} AND c.name = {self.bind(f.class_name)}"
            )
        return f"({'' if f.present else 'NOT '}EXISTS ({sub}))"

    def _metadata(self, f: Metadata) -> str:
        if f.equals is not None:
            cond = f"md.str_value = {self.bind(f.equals)}"
        elif f.prefix is not None:
            cond = f"starts_with(md.str_value, {self.bind(f.prefix)})"
        elif f.any_of is not None:
            cond = f"list_contains({self.bind(list(f.any_of))}::VARCHAR[], md.str_value)"
        elif f.lo is not None or f.hi is not None:
            cond = self.range("md.num_value", f.lo, f.hi)
        else:
            cond = self.range("md.time_value", f.since, f.until)
        return (
            f"EXISTS (SELECT 1 FROM row_metadata md WHERE md.data_row_id = m.id "
            f"AND md.name = {self.bind(f.name)} AND {cond})"
        )


def encode_cursor(sort: Sort, value: Any, row_id: int) -> str:
    raw = json.dumps([sort.spec(), value, row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort) -> tuple[Any, int]:
    """``(sort value, row id)`` of a cursor made by :func:`encode_cursor` for ``sort``."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        spec, value, row_id = json.loads(raw)
    except (ValueError, TypeError):
        raise InvalidQueryError(f"invalid cursor {cursor[:40]!r}") from None
    if spec != sort.spec():
        raise InvalidQueryError(
            f"the cursor belongs to sort {spec!r}, not {sort.spec()!r}: start from the first page"
        )
    if isinstance(row_id, bool) or not isinstance(row_id, int):
        raise InvalidQueryError(f"invalid cursor {cursor[:40]!r}")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float | str)):
        raise InvalidQueryError(f"invalid cursor {cursor[:40]!r}")
    return value, row_id


def _sort_key(db: Database, comp: FilterCompiler, sort: Sort) -> tuple[str, str]:
    """The SQL of the sort value and the join it needs (every name bound, never inlined)."""
    if sort.metric is None:
        return "NULL", ""
    if sort.source == "metric" and sort.class_name is None:
        return f"m.{METRIC_COLUMNS[sort.metric]}", ""
    if sort.source == "metric":
        comp.per_class = True
        name = comp.bind(sort.class_name)
        join = f" LEFT JOIN pc s ON s.data_row_id = m.id AND s.class_name = {name}"
        return f"s.{METRIC_COLUMNS[sort.metric]}", join
    if sort.source == "custom":
        comp.custom = True
        name = comp.bind(sort.metric)
        return "s.value", f" LEFT JOIN cu s ON s.data_row_id = m.id AND s.name = {name}"
    kind = db.scalar("SELECT type FROM metadata_fields WHERE name = ?", [sort.metric])
    if kind is None:
        raise InvalidQueryError(f"cannot sort by meta({sort.metric}): no such metadata field")
    key = {"number": "s.num_value", "datetime": "epoch_us(s.time_value)"}.get(
        str(kind), "s.str_value"
    )
    name = comp.bind(sort.metric)
    return key, f" LEFT JOIN row_metadata s ON s.data_row_id = m.id AND s.name = {name}"


def keyset_page(
    db: Database,
    comp: FilterCompiler,
    cond: str,
    sort: Sort,
    *,
    limit: int,
    cursor: str | None = None,
) -> QueryResult:
    """One keyset page of the rows ``m`` of ``comp`` (its CTEs and bound parameters)
    where the compiled condition ``cond`` holds, in ``sort`` order (nulls last, ties by
    id) after ``cursor``, and their total: the paging of :func:`run_query` and of the
    catalog (:mod:`errorscope.store.catalogquery`)."""
    key, join = _sort_key(db, comp, sort)
    matched = (
        f"{comp.ctes()},\nq AS (SELECT m.id, m.global_key, {key} AS sort_value FROM m{join} "
        f"WHERE coalesce({cond}, FALSE))"
    )
    total = int(db.con.execute(f"{matched} SELECT count(*) FROM q", comp.params).fetchall()[0][0])
    after = "TRUE"
    page_params = dict(comp.params)
    if cursor is not None:
        value, last_id = decode_cursor(cursor, sort)
        page_params["last_id"] = last_id
        if value is None:
            after = "(q.sort_value IS NULL AND q.id > $last_id)"
        else:
            page_params["last_value"] = value
            cmp = "<" if sort.descending else ">"
            after = (
                f"(q.sort_value {cmp} $last_value OR (q.sort_value = $last_value "
                f"AND q.id > $last_id) OR q.sort_value IS NULL)"
            )
    direction = "DESC" if sort.descending else "ASC"
    page_params["limit"] = limit + 1  # one more tells whether there is a next page
    rows = db.con.execute(
        f"""{matched} SELECT q.id, q.global_key, q.sort_value FROM q WHERE {after}
            ORDER BY q.sort_value {direction} NULLS LAST, q.id ASC LIMIT $limit""",
        page_params,
    ).fetchall()
    out = [(int(i), k, v) for i, k, v in rows[:limit]]
    next_cursor = None
    if len(rows) > limit and out:
        last = out[-1]
        next_cursor = encode_cursor(sort, last[2], last[0])
    return QueryResult(out, total, next_cursor)


def run_query(
    db: Database,
    run_id: int,
    where: Filter | None,
    sort: Sort,
    *,
    limit: int,
    cursor: str | None = None,
) -> QueryResult:
    """One page of the run's rows matching ``where`` in ``sort`` order, and their total."""
    comp = FilterCompiler()
    comp.params["run"] = run_id
    cond = "TRUE" if where is None else comp.compile(where)
    return keyset_page(db, comp, cond, sort, limit=limit, cursor=cursor)


def filter_row_ids(db: Database, run_id: int, where: Filter | None) -> list[int]:
    """Ids (ascending) of the run's rows matching ``where`` (all its rows if None)."""
    comp = FilterCompiler()
    comp.params["run"] = run_id
    cond = "TRUE" if where is None else comp.compile(where)
    found = db.con.execute(f"{comp.matched(cond)} SELECT id FROM q ORDER BY id", comp.params)
    return [int(i) for (i,) in found.fetchall()]
