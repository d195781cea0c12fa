"""The stored per-object results of two evaluated runs on the rows they share."""

from __future__ import annotations

import pyarrow as pa

from errorscope.core.types import Kind
from errorscope.store.database import Database

__all__ = ["compare_objects", "shared_rows"]


def shared_rows(db: Database, run_a: int, run_b: int, only: list[int] | None) -> list[int]:
    """Rows evaluated in both runs (and in ``only`` when given), by id."""
    sql = """SELECT data_row_id FROM eval_row_metrics WHERE run_id = ?
             INTERSECT SELECT data_row_id FROM eval_row_metrics WHERE run_id = ?"""
    if only is None:
        return sorted(int(r[0]) for r in db.rows(sql, [run_a, run_b]))
    db.con.register("_only", pa.table({"id": pa.array(only, pa.int64())}))
    try:
        found = db.rows(f"{sql} INTERSECT SELECT id FROM _only", [run_a, run_b])
    finally:
        db.con.unregister("_only")
    return sorted(int(r[0]) for r in found)


def compare_objects(db: Database, run_a: int, run_b: int, rows: list[int]) -> pa.Table:
    """Every evaluated object of both runs on ``rows``: ``run_id``, ``source``,
    ``annotation_id``, ``data_row_id``, ``global_key``, ``name`` (the class, or the answer
    of a radio class), ``status``, ``error_type``, ``iou``, ``confidence``."""
    db.con.register("_rows", pa.table({"id": pa.array(rows, pa.int64())}))
    try:
        return db.arrow(
            f"""SELECT o.run_id, o.source, o.annotation_id, o.data_row_id, d.global_key,
                       CASE WHEN c.kind = '{Kind.RADIO}'
                            THEN coalesce(l.answers[1], p.answers[1], c.name)
                            ELSE c.name END AS name,
                       o.status, o.error_type, o.iou, o.confidence
                FROM eval_objects o JOIN classes c ON c.id = o.class_id
                JOIN data_rows d ON d.id = o.data_row_id
                LEFT JOIN labels l ON o.source = 'label' AND l.id = o.annotation_id
                LEFT JOIN predictions p ON o.source = 'prediction' AND p.id = o.annotation_id
                WHERE o.run_id IN (?, ?) AND o.data_row_id IN (SELECT id FROM _rows)
                ORDER BY o.run_id, o.source, o.annotation_id""",
            [run_a, run_b],
        )
    finally:
        db.con.unregister("_rows")
