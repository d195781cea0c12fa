"""Reads for failure analysis (patterns, label issues, intervals): a run's evaluated
objects with their geometry and answers, its rows with split and media fields, their
metadata, the predictions' class probabilities, and the ids of rows matching a filter.

Everything is one query per table (never per row); filters compile with the query
engine's whitelisted compiler (:class:`errorscope.store.query.FilterCompiler`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from errorscope.core.query import Filter
from errorscope.store.database import Database
from errorscope.store.query import FilterCompiler

__all__ = [
    "evaluated_objects",
    "filter_row_ids",
    "prediction_probabilities",
    "row_metadata",
    "scope_rows",
]

_SCOPE = """SELECT d.id FROM data_rows d WHERE d.dataset_id IN (
    SELECT DISTINCT x.dataset_id FROM data_rows x JOIN run_rows r ON r.data_row_id = x.id
    WHERE r.run_id = $run)"""


def evaluated_objects(db: Database, run_id: int) -> pa.Table:
    """One row per object of the run's stored evaluation: ``source`` (label or
    prediction), ``annotation_id``, ``data_row_id``, ``class_name``, ``class_kind``,
    ``answer`` (first answer of a classification, else null), ``status``, ``matched_id``,
    ``iou``, ``error_type``, ``confidence`` and the annotation's box (``x1..y2``) and
    ``area``; ordered by source then annotation id."""
    return db.con.sql(
        """SELECT o.source, o.annotation_id, o.data_row_id, c.name AS class_name,
                  c.kind AS class_kind,
                  coalesce(l.answers, p.answers)[1] AS answer,
                  o.status, o.matched_id, o.iou, o.error_type, o.confidence,
                  coalesce(l.x1, p.x1) AS x1, coalesce(l.y1, p.y1) AS y1,
                  coalesce(l.x2, p.x2) AS x2, coalesce(l.y2, p.y2) AS y2,
                  coalesce(l.area, p.area) AS area
           FROM eval_objects o JOIN classes c ON c.id = o.class_id
           LEFT JOIN labels l ON o.source = 'label' AND l.id = o.annotation_id
           LEFT JOIN predictions p ON o.source = 'prediction' AND p.id = o.annotation_id
                AND p.run_id = o.run_id
           WHERE o.run_id = $run ORDER BY o.source, o.annotation_id""",
        params={"run": run_id},
    ).to_arrow_table()


def scope_rows(db: Database, run_id: int) -> pa.Table:
    """The rows of the run's evaluation scope: ``id``, ``global_key``, ``media_type``,
    ``uri``, ``width``, ``height``, ``text`` and ``split`` (``unassigned`` if none),
    ordered by id."""
    return db.con.sql(
        f"""SELECT d.id, d.global_key, d.media_type, d.uri, d.width, d.height, d.text,
                   coalesce(rr.split, 'unassigned') AS split
            FROM data_rows d
            LEFT JOIN run_rows rr ON rr.data_row_id = d.id AND rr.run_id = $run
            WHERE d.id IN ({_SCOPE}) ORDER BY d.id""",
        params={"run": run_id},
    ).to_arrow_table()


def row_metadata(db: Database, run_id: int) -> pa.Table:
    """Metadata of the run's scope rows: ``data_row_id``, ``name``, ``type``,
    ``str_value``, ``num_value`` (datetimes are left out)."""
    return db.con.sql(
        f"""SELECT m.data_row_id, m.name, f.type, m.str_value, m.num_value
            FROM row_metadata m JOIN metadata_fields f USING (name)
            WHERE m.data_row_id IN ({_SCOPE}) AND f.type <> 'datetime'
            ORDER BY m.data_row_id, m.name""",
        params={"run": run_id},
    ).to_arrow_table()


def prediction_probabilities(db: Database, run_id: int) -> pa.Table:
    """Classification predictions of the run with class probabilities (custom metrics
    named ``p(<answer>)``): ``data_row_id``, ``annotation_id``, ``class_name``,
    ``answer``, ``keys``, ``values``."""
    return db.con.sql(
        """SELECT a.data_row_id, a.id AS annotation_id, c.name AS class_name,
                  a.answers[1] AS answer, map_keys(a.custom_metrics) AS keys,
                  map_values(a.custom_metrics) AS "values"
           FROM predictions a JOIN classes c ON c.id = a.class_id
           WHERE a.run_id = $run AND c.kind IN ('radio', 'checklist')
             AND a.custom_metrics IS NOT NULL AND cardinality(a.custom_metrics) > 0
           ORDER BY a.data_row_id, a.id""",
        params={"run": run_id},
    ).to_arrow_table()


def filter_row_ids(db: Database, run_id: int, where: Filter | None) -> npt.NDArray[np.int64]:
    """Ids (ascending) of the run's rows matching ``where`` (all its rows if None)."""
    comp = FilterCompiler()
    comp.params["run"] = run_id
    cond = "TRUE" if where is None else comp.compile(where)
    found = db.con.execute(
        f"{comp.ctes()} SELECT m.id FROM m WHERE coalesce({cond}, FALSE) ORDER BY m.id",
        comp.params,
    ).fetchnumpy()
    return np.asarray(found["id"], np.int64)
