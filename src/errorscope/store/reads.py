"""Reads that return Arrow tables or small dicts; the SDK turns them into its answers."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from errorscope.store.catalog import split_counts
from errorscope.store.database import Database
from errorscope.store.schema import ANNOTATION_COLUMNS

__all__ = ["annotations_table", "counts", "data_rows_table", "metadata_table", "totals"]


def totals(db: Database) -> tuple[int, int]:
    """``(data rows, classes)`` in the workspace: what an import report diffs."""
    rows = db.rows("SELECT (SELECT count(*) FROM data_rows), (SELECT count(*) FROM classes)")
    return int(rows[0][0]), int(rows[0][1])


def counts(db: Database) -> dict[str, Any]:
    """Counts of everything, for ``errorscope info``."""
    out: dict[str, Any] = {
        "datasets": db.scalar("SELECT count(*) FROM datasets"),
        "data_rows": db.scalar("SELECT count(*) FROM data_rows"),
        "image_rows": db.scalar("SELECT count(*) FROM data_rows WHERE media_type = 'image'"),
        "text_rows": db.scalar("SELECT count(*) FROM data_rows WHERE media_type = 'text'"),
        "classes": db.scalar("SELECT count(*) FROM classes"),
        "labels": db.scalar("SELECT count(*) FROM labels"),
        "models": db.scalar("SELECT count(*) FROM models"),
    }
    runs = []
    for run_id, name, model, status in db.rows(
        """SELECT r.id, r.name, m.name, r.status FROM runs r JOIN models m ON m.id = r.model_id
           ORDER BY r.id"""
    ):
        splits = split_counts(db, run_id)
        runs.append(
            {
                "name": name,
                "model": model,
                "status": status,
                "predictions": db.scalar(
                    "SELECT count(*) FROM predictions WHERE run_id = ?", [run_id]
                ),
                "data_rows": sum(splits.values()),
                "splits": splits,
            }
        )
    out["runs"] = runs
    return out


def data_rows_table(db: Database, *, dataset_id: int | None = None) -> pa.Table:
    where = "" if dataset_id is None else f"WHERE d.dataset_id = {int(dataset_id)}"
    return db.arrow(
        f"""SELECT d.id, s.name AS dataset, d.global_key, d.media_type, d.uri, d.width,
                   d.height, d.text
            FROM data_rows d JOIN datasets s ON s.id = d.dataset_id {where} ORDER BY d.id"""
    )


def metadata_table(db: Database) -> pa.Table:
    return db.arrow(
        """SELECT m.data_row_id, m.name, f.type, m.str_value, m.num_value, m.time_value
           FROM row_metadata m JOIN metadata_fields f USING (name)
           ORDER BY m.data_row_id, m.name"""
    )


def annotations_table(db: Database, *, run_id: int | None = None) -> pa.Table:
    """Labels (``run_id`` None) or one run's predictions, with row key and class name."""
    cols = ", ".join(f"a.{c}" for c, _ in ANNOTATION_COLUMNS if c not in ("class_id",))
    if run_id is None:
        src, extra, where = "labels", "", ""
    else:
        src = "predictions"
        extra = ", a.confidence, a.custom_metrics"
        where = f"WHERE a.run_id = {int(run_id)}"
    return db.arrow(
        f"""SELECT {cols}, c.name AS class_name, d.global_key AS row_key{extra}
            FROM {src} a JOIN classes c ON c.id = a.class_id
            JOIN data_rows d ON d.id = a.data_row_id {where} ORDER BY a.id"""
    )
