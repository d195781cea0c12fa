"""Build a run's :class:`~errorscope.core.rowindex.RowIndex` and answer what it lacks.

The index is read from the base tables in a handful of grouped queries (fetched as
numpy arrays, never row by row) the first time a run is queried, and kept on the
:class:`Database` while :attr:`Database.generation` is unchanged: every committed data
transaction bumps it, and only one process may open a workspace, so no write goes
unnoticed. Leaves the index does not hold (metadata, text, object-level conditions,
custom metrics) are compiled by :class:`errorscope.store.query.FilterCompiler` over the
base tables and answered with the ids of the rows that match; every value is a bound
parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.core.query import ROW_METRICS, Filter, Sort
from errorscope.core.rowindex import GROUP_STRIDE, ClassTable, RowIndex, select_page
from errorscope.errors import InvalidQueryError
from errorscope.store.database import Database
from errorscope.store.query import FilterCompiler, QueryResult, decode_cursor, encode_cursor
from errorscope.store.rowscores import MISLABEL

__all__ = ["SortKey", "index_mask", "index_query", "leaf_ids", "load_index", "sort_key"]

_SPLITS = ("train", "valid", "test", "unassigned")

_ROWS = f"""
WITH scope AS (
    SELECT DISTINCT x.dataset_id FROM data_rows x
    JOIN run_rows r ON r.data_row_id = x.id WHERE r.run_id = $run
),
fp AS (
    SELECT data_row_id, max(confidence) AS max_fp_confidence FROM eval_objects
    WHERE run_id = $run AND source = 'prediction' AND status = 'FP'
    GROUP BY data_row_id
)
SELECT d.id, d.global_key, d.dataset_id, coalesce(rr.split, 'unassigned') AS split,
    coalesce(e.tp, 0)::DOUBLE AS tp, coalesce(e.fp, 0)::DOUBLE AS fp,
    coalesce(e.fn, 0)::DOUBLE AS fn, e."precision", e.recall, e.f1, e.iou,
    e.mean_confidence, fp.max_fp_confidence, ms.value AS mislabel_score
FROM data_rows d
LEFT JOIN run_rows rr ON rr.data_row_id = d.id AND rr.run_id = $run
LEFT JOIN eval_row_metrics e ON e.run_id = $run AND e.data_row_id = d.id
LEFT JOIN fp ON fp.data_row_id = d.id
LEFT JOIN row_scores ms ON ms.run_id = $run AND ms.name = '{MISLABEL}' AND ms.data_row_id = d.id
WHERE d.dataset_id IN (SELECT dataset_id FROM scope)
ORDER BY d.id"""

_CLASSES = f"""
SELECT data_row_id, side * {GROUP_STRIDE} + class_id AS grp, n::DOUBLE AS n, kept::DOUBLE AS kept,
    (kept > 0)::DOUBLE AS has_kept
FROM (
    SELECT a.data_row_id, 0 AS side, a.class_id, count(*) AS n, count(*) AS kept
    FROM labels a GROUP BY a.data_row_id, a.class_id
    UNION ALL
    SELECT a.data_row_id, 1 AS side, a.class_id, count(*) AS n,
        count(*) FILTER (WHERE ig.annotation_id IS NULL) AS kept
    FROM predictions a
    LEFT JOIN (SELECT annotation_id FROM eval_objects WHERE run_id = $run
               AND source = 'prediction' AND status = 'ignored') ig
        ON ig.annotation_id = a.id
    WHERE a.run_id = $run GROUP BY a.data_row_id, a.class_id)
ORDER BY grp, data_row_id"""

#: Per (data row, class) counts and scores, as :func:`errorscope.core.metrics.by_row_class`.
_PER_CLASS = """
WITH o AS (
    SELECT data_row_id, class_id,
        count(*) FILTER (WHERE source = 'label' AND status = 'TP') AS tp,
        count(*) FILTER (WHERE source = 'prediction' AND status = 'FP') AS fp,
        count(*) FILTER (WHERE source = 'label' AND status = 'FN') AS fn,
        coalesce(sum(coalesce(iou, 0)) FILTER (WHERE source = 'label' AND status = 'TP'),
                 0) AS iou_sum,
        avg(confidence) FILTER (WHERE source = 'prediction') AS mean_confidence,
        max(confidence) FILTER (WHERE source = 'prediction' AND status = 'FP')
            AS max_fp_confidence
    FROM eval_objects
    WHERE run_id = $run AND (
        (source = 'label' AND status IN ('TP', 'FN'))
        OR (source = 'prediction' AND status IN ('TP', 'FP')))
    GROUP BY data_row_id, class_id
)
SELECT data_row_id, class_id AS grp, tp::DOUBLE AS tp, fp::DOUBLE AS fp, fn::DOUBLE AS fn,
    iou_sum::DOUBLE AS iou_sum, mean_confidence, max_fp_confidence,
    CASE WHEN tp + fp > 0 THEN tp / (tp + fp) END AS "precision",
    CASE WHEN tp + fn > 0 THEN tp / (tp + fn) END AS recall,
    CASE WHEN 2 * tp + fp + fn > 0 THEN 2 * tp / (2 * tp + fp + fn) END AS f1,
    iou_sum / greatest(tp + fp + fn, 1) AS iou
FROM o ORDER BY grp, data_row_id"""

#: Confusion-matrix cells per data row: a counted ground truth with the class of the
#: prediction it matched (none: 0), or an unmatched kept prediction (gt none: 0).
_CONFUSION = f"""
WITH cells AS (
    SELECT o.data_row_id, o.class_id + 1 AS gt, coalesce(p.class_id + 1, 0) AS pred
    FROM eval_objects o
    LEFT JOIN eval_objects p ON p.run_id = $run AND p.source = 'prediction'
        AND p.annotation_id = o.matched_id
    WHERE o.run_id = $run AND o.source = 'label' AND o.status IN ('TP', 'FN')
    UNION ALL
    SELECT data_row_id, 0 AS gt, class_id + 1 AS pred FROM eval_objects
    WHERE run_id = $run AND source = 'prediction' AND status = 'FP' AND matched_id IS NULL
)
SELECT data_row_id, gt * {GROUP_STRIDE} + pred AS grp, count(*)::DOUBLE AS n FROM cells
GROUP BY ALL ORDER BY grp, data_row_id"""


def _fetch(db: Database, sql: str, run: int) -> dict[str, npt.NDArray[Any]]:
    found = db.con.execute(sql, {"run": run}).fetchnumpy()
    out: dict[str, npt.NDArray[Any]] = {}
    for k, v in found.items():
        if isinstance(v, np.ma.MaskedArray):
            out[k] = np.ma.filled(v.astype(np.float64), np.nan)
        else:
            out[k] = np.asarray(v)
    return out


def _table(ids: npt.NDArray[np.int64], cols: dict[str, npt.NDArray[Any]]) -> ClassTable:
    """A per-(row, group) table restricted to the rows of ``ids`` (in the run's scope)."""
    row_ids = np.asarray(cols.pop("data_row_id"), np.int64)
    pos = np.searchsorted(ids, row_ids)
    ok = pos < len(ids)
    ok[ok] = ids[pos[ok]] == row_ids[ok]
    group = np.asarray(cols.pop("grp"), np.int64)[ok]
    values = {k: np.asarray(v, np.float64)[ok] for k, v in cols.items()}
    return ClassTable(pos[ok].astype(np.int32), group, values, len(ids))


def _build(db: Database, run: int) -> RowIndex:
    rows = db.con.sql(_ROWS, params={"run": run}).to_arrow_table()
    ids = np.asarray(rows.column("id").to_numpy(), np.int64)
    split_text = np.asarray(rows.column("split").to_numpy(zero_copy_only=False), dtype=object)
    split_names = tuple(sorted({*_SPLITS, *(str(s) for s in set(split_text.tolist()))}))
    lookup = {s: i for i, s in enumerate(split_names)}
    split = np.fromiter((lookup[s] for s in split_text), np.int8, len(split_text))
    datasets = dict(db.rows("SELECT id, name FROM datasets"))
    dataset_names = tuple(str(datasets.get(i, "")) for i in range(max(datasets, default=0) + 1))
    metrics = {
        m: np.asarray(rows.column(m).to_numpy(zero_copy_only=False), np.float64)
        for m in ROW_METRICS
    }
    return RowIndex(
        ids=ids,
        global_keys=rows.column("global_key").combine_chunks(),
        split=split,
        split_names=split_names,
        dataset=np.asarray(rows.column("dataset_id").to_numpy(), np.int16),
        dataset_names=dataset_names,
        metrics=metrics,
        class_ids={str(n): int(i) for i, n in db.rows("SELECT id, name FROM classes")},
        classes=_table(ids, _fetch(db, _CLASSES, run)),
        per_class=_table(ids, _fetch(db, _PER_CLASS, run)),
        confusion=_table(ids, _fetch(db, _CONFUSION, run)),
        evaluated=bool(db.scalar("SELECT count(*) FROM eval_runs WHERE run_id = ?", [run])),
    )


def load_index(db: Database, run_id: int) -> RowIndex:
    """The run's index, built now if missing or older than the data."""
    key = ("row-index", int(run_id))
    cached = db.derived.get(key)
    if cached is not None and cached[0] == db.generation:
        index: RowIndex = cached[1]
        return index
    index = _build(db, int(run_id))
    if not db.in_transaction:  # a rollback would make it stale
        db.derived[key] = (db.generation, index)
    return index


def leaf_ids(db: Database, run_id: int, f: Filter) -> npt.NDArray[np.int64]:
    """Ids of the run's rows matching one leaf filter, through the SQL compiler."""
    comp = FilterCompiler()
    comp.params["run"] = run_id
    cond = comp.compile(f)
    found = db.con.execute(
        f"{comp.ctes()} SELECT m.id FROM m WHERE coalesce({cond}, FALSE)", comp.params
    ).fetchnumpy()
    return np.asarray(found["id"], np.int64)


@dataclass(frozen=True)
class SortKey:
    """Per-row sort keys (NaN: no value). ``labels``: for text keys, the key is the rank
    in ``labels`` (sorted), and the value shown and kept in cursors is the label."""

    values: npt.NDArray[np.float64]
    labels: npt.NDArray[Any] | None = None
    integer: bool = False  # counts: shown as integers

    def shown(self, k: float) -> Any:
        if np.isnan(k):
            return None
        if self.labels is not None:
            return str(self.labels[int(k)])
        return int(k) if self.integer else float(k)

    def key_of(self, value: Any) -> float:
        """The key of a cursor's value (between ranks if the label is gone)."""
        if self.labels is None:
            if isinstance(value, str):
                raise InvalidQueryError("invalid cursor for this sort")
            return float(value)
        if not isinstance(value, str):
            raise InvalidQueryError("invalid cursor for this sort")
        i = int(np.searchsorted(self.labels, value))
        found = i < len(self.labels) and self.labels[i] == value
        return float(i) if found else i - 0.5


def sort_key(db: Database, index: RowIndex, run_id: int, sort: Sort) -> SortKey | None:
    """The key of every row of ``index`` under ``sort`` (None: by id alone)."""
    if sort.metric is None:
        return None
    if sort.source == "metric":
        counts = sort.metric in ("tp", "fp", "fn")
        if sort.class_name is None:
            return SortKey(index.metrics[sort.metric], integer=counts)
        return SortKey(index.class_metric(sort.metric, sort.class_name), integer=counts)
    out = np.full(index.n, np.nan)
    if sort.source == "custom":
        found = db.con.execute(
            """SELECT data_row_id, avg(value)::DOUBLE AS v FROM (
                   SELECT data_row_id, unnest(map_entries(custom_metrics), recursive := true)
                   FROM predictions WHERE run_id = $run AND custom_metrics IS NOT NULL)
               WHERE "key" = $name GROUP BY data_row_id""",
            {"run": run_id, "name": sort.metric},
        ).fetchnumpy()
        ids = np.asarray(found["data_row_id"], np.int64)
        sel = np.isin(ids, index.ids)
        out[index.positions(ids[sel])] = np.asarray(found["v"], np.float64)[sel]
        return SortKey(out)
    kind = db.scalar("SELECT type FROM metadata_fields WHERE name = ?", [sort.metric])
    if kind is None:
        raise InvalidQueryError(f"cannot sort by meta({sort.metric}): no such metadata field")
    column = {"number": "num_value", "datetime": "epoch_us(time_value)::DOUBLE"}.get(
        str(kind), "str_value"
    )
    found = db.con.execute(
        f"SELECT data_row_id, {column} AS v FROM row_metadata WHERE name = $name AND v IS NOT NULL",
        {"name": sort.metric},
    ).fetchnumpy()
    ids = np.asarray(found["data_row_id"], np.int64)
    values = np.asarray(found["v"])
    sel = np.isin(ids, index.ids)
    ids, values = ids[sel], values[sel]
    pos = index.positions(ids)
    if column != "str_value":
        out[pos] = values.astype(np.float64)
        return SortKey(out)
    labels, ranks = np.unique(values.astype(str), return_inverse=True)
    out[pos] = ranks.astype(np.float64)
    return SortKey(out, labels)


_MASKS_KEPT = 8


def index_mask(db: Database, run_id: int, where: Filter | None) -> tuple[RowIndex, Any]:
    """The run's index and the mask of its rows matching ``where``. The last few masks
    are kept (filters are hashable values), so the gallery, the counts, the confusion
    matrix and the histograms of one view compute theirs once."""
    index = load_index(db, run_id)
    key = ("row-masks", int(run_id))
    cached = db.derived.get(key)
    masks: dict[Filter | None, Any] = {}
    if cached is not None and cached[0] == db.generation and cached[1][0] is index:
        masks = cached[1][1]
    if where in masks:
        mask = masks.pop(where)
    else:
        mask = index.mask(where, lambda f: leaf_ids(db, run_id, f))
        mask.flags.writeable = False
    masks[where] = mask  # most recent last
    while len(masks) > _MASKS_KEPT:
        del masks[next(iter(masks))]
    if not db.in_transaction:
        db.derived[key] = (db.generation, (index, masks))
    return index, mask


def index_query(
    db: Database,
    run_id: int,
    where: Filter | None,
    sort: Sort,
    *,
    limit: int,
    cursor: str | None = None,
) -> QueryResult:
    """One page of the run's rows matching ``where`` in ``sort`` order, and their total
    (the same answer as :func:`errorscope.store.query.run_query`, from the index)."""
    index, mask = index_mask(db, run_id, where)
    key = sort_key(db, index, run_id, sort)
    after: tuple[float | None, int] | None = None
    if cursor is not None:
        value, last_id = decode_cursor(cursor, sort)
        after = (None if value is None or key is None else key.key_of(value), last_id)
    page = select_page(
        mask,
        None if key is None else key.values,
        descending=sort.descending,
        limit=limit + 1,
        after=after,
        ids=index.ids,
    )
    keys = index.global_keys.take(page[:limit]).to_pylist()
    out = [
        (int(index.ids[p]), k, None if key is None else key.shown(float(key.values[p])))
        for p, k in zip(page[:limit], keys, strict=True)
    ]
    next_cursor = None
    if len(page) > limit and out:
        last = out[-1]
        next_cursor = encode_cursor(sort, last[2], last[0])
    return QueryResult(out, int(mask.sum()), next_cursor)
