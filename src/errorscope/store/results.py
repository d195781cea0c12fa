"""Evaluation inputs and results: read what a run is evaluated on, write what it scored.

An evaluation of a run covers every data row of the datasets its predictions touch (so
an image the model predicted nothing on still contributes its missed labels), with the
labels and the run's predictions of those rows. Results replace the run's previous
evaluation in one transaction.
"""

from __future__ import annotations

import json
from typing import Any

import pyarrow as pa

from errorscope.store.database import Database

__all__ = [
    "RESULT_TABLES",
    "evaluation_inputs",
    "evaluation_table",
    "load_evaluation",
    "pr_curves",
    "save_evaluation",
]

#: Table name per kind of result: ``objects``, ``rows`` and ``classes``.
RESULT_TABLES = {
    "objects": "eval_objects",
    "rows": "eval_row_metrics",
    "classes": "eval_class_metrics",
}

_COLUMNS = """a.id, a.data_row_id, a.class_id, c.name AS class_name, c.kind AS class_kind,
    a.kind, a.x1, a.y1, a.x2, a.y2, a.coords, a.rle_counts, a.rle_h, a.rle_w,
    a.span_start, a.span_end, a.answers, a.area, a.iscrowd, a.difficult, d.width, d.height"""


def _scope(run_id: int) -> str:
    return f"""SELECT d.id FROM data_rows d WHERE d.dataset_id IN (
        SELECT DISTINCT x.dataset_id FROM data_rows x JOIN run_rows r ON r.data_row_id = x.id
        WHERE r.run_id = {int(run_id)})"""


def evaluation_inputs(db: Database, run_id: int) -> tuple[pa.Table, pa.Table]:
    """(labels, predictions) of the run's scope, each with class name and kind and the
    data row's size, ordered by data row then annotation id."""
    labels = db.arrow(
        f"""SELECT {_COLUMNS} FROM labels a JOIN classes c ON c.id = a.class_id
            JOIN data_rows d ON d.id = a.data_row_id
            WHERE a.data_row_id IN ({_scope(run_id)}) ORDER BY a.data_row_id, a.id"""
    )
    predictions = db.arrow(
        f"""SELECT {_COLUMNS}, a.confidence FROM predictions a
            JOIN classes c ON c.id = a.class_id JOIN data_rows d ON d.id = a.data_row_id
            WHERE a.run_id = {int(run_id)} ORDER BY a.data_row_id, a.id"""
    )
    return labels, predictions


def save_evaluation(
    db: Database,
    run_id: int,
    *,
    params: dict[str, Any],
    summary: dict[str, Any],
    objects: pa.Table,
    rows: pa.Table,
    classes: pa.Table,
    curves: pa.Table | None = None,
) -> None:
    """Replace the run's evaluation. The tables carry the result tables' columns except
    ``run_id`` (see ``store/schema.py``); ``curves`` those of ``eval_pr_curves``."""
    with db.transaction():
        for table in ("eval_runs", "eval_pr_curves", *RESULT_TABLES.values()):
            db.con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
        db.con.execute(
            "INSERT INTO eval_runs (run_id, params, summary) VALUES (?, ?, ?)",
            [run_id, json.dumps(params), json.dumps(summary)],
        )
        tables = {**RESULT_TABLES, "curves": "eval_pr_curves"}
        for key, data in (
            ("objects", objects),
            ("rows", rows),
            ("classes", classes),
            ("curves", curves),
        ):
            if data is None or not data.num_rows:
                continue
            name = f"_eval_{key}"
            db.con.register(name, data)
            try:
                cols = ", ".join(f'"{c}"' for c in data.column_names)
                db.con.execute(
                    f"""INSERT INTO {tables[key]} (run_id, {cols})
                        SELECT {int(run_id)}, {cols} FROM {name}"""
                )
            finally:
                db.con.unregister(name)


def load_evaluation(db: Database, run_id: int) -> dict[str, Any] | None:
    """The stored summary of the run's evaluation, with its ``params``; None if never run."""
    found = db.rows("SELECT params, summary FROM eval_runs WHERE run_id = ?", [run_id])
    if not found:
        return None
    summary: dict[str, Any] = json.loads(found[0][1])
    summary["params"] = json.loads(found[0][0])
    return summary


def evaluation_table(db: Database, run_id: int, which: str) -> pa.Table:
    """One of the stored result tables (``objects``, ``rows``, ``classes``) of a run."""
    table = RESULT_TABLES[which]
    order = {"objects": "source, annotation_id", "rows": "data_row_id", "classes": "name"}
    return db.arrow(
        f"SELECT * EXCLUDE (run_id) FROM {table} WHERE run_id = ? ORDER BY {order[which]}",
        [run_id],
    )


def pr_curves(db: Database, run_id: int, curve: str) -> pa.Table:
    """The stored precision/recall points of one ``curve`` (``coco`` or ``voc``) of a run,
    with the class name, ordered by class name, IoU threshold and point."""
    return db.arrow(
        """SELECT c.name AS class_name, p.class_id, p.iou, p.point, p.recall,
                  p."precision", p.score
           FROM eval_pr_curves p JOIN classes c ON c.id = p.class_id
           WHERE p.run_id = ? AND p.curve = ? ORDER BY c.name, p.iou, p.point""",
        [run_id, curve],
    )
