"""Everything stored about one data row: the row, its metadata, labels, one run's
predictions and, if the run was evaluated, its per-object and per-row results."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from errorscope.errors import NotFoundError
from errorscope.store.database import Database
from errorscope.store.schema import ANNOTATION_COLUMNS

__all__ = ["row_detail"]

_ANN = ", ".join(f"a.{c}" for c, _ in ANNOTATION_COLUMNS if c not in ("data_row_id",))


def row_detail(db: Database, row_id: int, run_id: int | None) -> dict[str, Any]:
    """``row`` (dict), ``metadata`` and ``labels`` (tables); with a run also ``split``,
    ``predictions``, ``objects`` (eval_objects of the row, empty if not evaluated) and
    ``row_metrics`` (dict or None)."""
    found = db.arrow(
        """SELECT d.id, s.name AS dataset, d.global_key, d.media_type, d.uri, d.width,
                  d.height, d.text
           FROM data_rows d JOIN datasets s ON s.id = d.dataset_id WHERE d.id = ?""",
        [row_id],
    ).to_pylist()
    if not found:
        raise NotFoundError(f"no data row with id {row_id}")
    out: dict[str, Any] = {
        "row": found[0],
        "metadata": db.arrow(
            """SELECT m.name, f.type, m.str_value, m.num_value, m.time_value
               FROM row_metadata m JOIN metadata_fields f USING (name)
               WHERE m.data_row_id = ? ORDER BY m.name""",
            [row_id],
        ),
        "labels": _annotations(db, row_id, None),
    }
    if run_id is None:
        return out
    split = db.rows(
        "SELECT split FROM run_rows WHERE run_id = ? AND data_row_id = ?", [run_id, row_id]
    )
    out["split"] = split[0][0] if split else None
    out["predictions"] = _annotations(db, row_id, run_id)
    out["objects"] = db.arrow(
        """SELECT source, annotation_id, status, matched_id, iou, error_type
           FROM eval_objects WHERE run_id = ? AND data_row_id = ?
           ORDER BY source, annotation_id""",
        [run_id, row_id],
    )
    metrics = db.arrow(
        """SELECT * EXCLUDE (run_id, data_row_id) FROM eval_row_metrics
           WHERE run_id = ? AND data_row_id = ?""",
        [run_id, row_id],
    ).to_pylist()
    out["row_metrics"] = metrics[0] if metrics else None
    return out


def _annotations(db: Database, row_id: int, run_id: int | None) -> pa.Table:
    if run_id is None:
        return db.arrow(
            f"""SELECT {_ANN}, c.name AS class_name FROM labels a
                JOIN classes c ON c.id = a.class_id WHERE a.data_row_id = ? ORDER BY a.id""",
            [row_id],
        )
    return db.arrow(
        f"""SELECT {_ANN}, c.name AS class_name, a.confidence, a.custom_metrics
            FROM predictions a JOIN classes c ON c.id = a.class_id
            WHERE a.data_row_id = ? AND a.run_id = ? ORDER BY a.id""",
        [row_id, run_id],
    )
