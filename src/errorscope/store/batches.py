"""Labeling projects, batches of data rows, label imports and the label history.

A batch belongs to a labeling project; a data row is "in a project" when one of the
project's batches holds it. A label import replaces (or keeps) the labels of the rows it
completes in one transaction, moving every replaced label to ``label_history`` under the
import's id, so no label is ever lost.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from errorscope.errors import ConflictError, NotFoundError
from errorscope.store.bulk import insert_annotations
from errorscope.store.database import Database
from errorscope.store.schema import ANNOTATION_COLUMNS

__all__ = [
    "BatchInfo",
    "ProjectInfo",
    "add_batch",
    "add_project",
    "add_rows_to_run",
    "batch_rows",
    "first_outside_batch",
    "get_batch",
    "get_project",
    "history_table",
    "import_labels",
    "labeled_rows",
    "list_batches",
    "list_projects",
    "resolve_row_keys",
    "rows_in_project",
    "run_row_ids",
    "set_external_ids",
    "set_splits",
    "update_project_config",
]


@dataclass(frozen=True)
class ProjectInfo:
    name: str
    backend: str
    config: dict[str, Any]


@dataclass(frozen=True)
class BatchInfo:
    name: str
    project: str
    priority: int
    run: str | None
    origin: dict[str, Any]
    rows: int


def add_project(db: Database, name: str, backend: str, config: dict[str, Any]) -> None:
    if db.scalar("SELECT count(*) FROM labeling_projects WHERE name = ?", [name]):
        raise ConflictError(f"a labeling project named {name!r} already exists")
    db.con.execute(
        "INSERT INTO labeling_projects (name, backend, config) VALUES (?, ?, ?)",
        [name, backend, json.dumps(config)],
    )


def update_project_config(db: Database, name: str, config: dict[str, Any]) -> None:
    db.con.execute(
        "UPDATE labeling_projects SET config = ? WHERE name = ?", [json.dumps(config), name]
    )


def get_project(db: Database, name: str) -> ProjectInfo:
    rows = db.rows("SELECT name, backend, config FROM labeling_projects WHERE name = ?", [name])
    if not rows:
        raise NotFoundError(f"no labeling project named {name!r}")
    return ProjectInfo(rows[0][0], rows[0][1], json.loads(rows[0][2]))


def list_projects(db: Database) -> list[ProjectInfo]:
    return [
        ProjectInfo(n, b, json.loads(c))
        for n, b, c in db.rows("SELECT name, backend, config FROM labeling_projects ORDER BY 1")
    ]


def rows_in_project(db: Database, project: str, ids: list[int]) -> list[int]:
    """Which of ``ids`` a batch of ``project`` already holds."""
    with _registered(db, "_want", pa.table({"id": pa.array(ids, pa.int64())})):
        found = db.rows(
            """SELECT DISTINCT r.data_row_id FROM batch_rows r JOIN batches b ON b.name = r.batch
               WHERE b.project = ? AND r.data_row_id IN (SELECT id FROM _want) ORDER BY 1""",
            [project],
        )
    return [int(r[0]) for r in found]


def add_batch(
    db: Database,
    name: str,
    *,
    project: str,
    priority: int,
    run: str | None,
    origin: dict[str, Any],
    ids: list[int],
) -> None:
    if db.scalar("SELECT count(*) FROM batches WHERE name = ?", [name]):
        raise ConflictError(f"a batch named {name!r} already exists")
    with _registered(db, "_want", pa.table({"id": pa.array(ids, pa.int64())})):
        unknown = db.rows(
            "SELECT id FROM _want WHERE id NOT IN (SELECT id FROM data_rows) ORDER BY 1 LIMIT 1"
        )
        if unknown:
            raise NotFoundError(f"no data row with id {unknown[0][0]}")
        db.con.execute(
            "INSERT INTO batches (name, project, priority, run, origin) VALUES (?, ?, ?, ?, ?)",
            [name, project, priority, run, json.dumps(origin)],
        )
        db.con.execute(
            "INSERT INTO batch_rows (batch, data_row_id) SELECT DISTINCT ?, id FROM _want", [name]
        )


def _batch(row: tuple[Any, ...]) -> BatchInfo:
    name, project, priority, run, origin, n = row
    return BatchInfo(name, project, int(priority), run, json.loads(origin), int(n))


_BATCH_SQL = """SELECT b.name, b.project, b.priority, b.run, b.origin,
                       (SELECT count(*) FROM batch_rows r WHERE r.batch = b.name)
                FROM batches b"""


def get_batch(db: Database, name: str) -> BatchInfo:
    rows = db.rows(_BATCH_SQL + " WHERE b.name = ?", [name])
    if not rows:
        raise NotFoundError(f"no batch named {name!r}")
    return _batch(rows[0])


def list_batches(db: Database, project: str | None = None) -> list[BatchInfo]:
    if project is None:
        return [_batch(r) for r in db.rows(_BATCH_SQL + " ORDER BY b.priority, b.created_at")]
    return [
        _batch(r)
        for r in db.rows(
            _BATCH_SQL + " WHERE b.project = ? ORDER BY b.priority, b.created_at", [project]
        )
    ]


def batch_rows(db: Database, name: str) -> pa.Table:
    """The batch's data rows (``id``, ``global_key``, ``media_type``, ``uri``, ``width``,
    ``height``, ``text``, ``external_id``) by id."""
    return db.arrow(
        """SELECT d.id, d.global_key, d.media_type, d.uri, d.width, d.height, d.text,
                  r.external_id
           FROM batch_rows r JOIN data_rows d ON d.id = r.data_row_id
           WHERE r.batch = ? ORDER BY d.id""",
        [name],
    )


def set_external_ids(db: Database, name: str, ids: list[int], external: list[str]) -> None:
    table = pa.table({"id": pa.array(ids, pa.int64()), "ext": pa.array(external, pa.string())})
    with _registered(db, "_ext", table):
        db.con.execute(
            """UPDATE batch_rows SET external_id = e.ext FROM _ext e
               WHERE batch_rows.batch = ? AND batch_rows.data_row_id = e.id""",
            [name],
        )


def resolve_row_keys(
    db: Database, keys: list[str | None], ids: list[int | None]
) -> list[int | None]:
    """Data row ids of (global key or id) pairs, None where the row is unknown."""
    table = pa.table(
        {
            "pos": pa.array(np.arange(len(keys), dtype=np.int64)),
            "k": pa.array(keys, pa.string()),
            "i": pa.array(ids, pa.int64()),
        }
    )
    with _registered(db, "_keys", table):
        found = db.arrow(
            """SELECT k.pos, coalesce(a.id, b.id) AS id FROM _keys k
               LEFT JOIN data_rows a ON a.id = k.i
               LEFT JOIN data_rows b ON b.global_key = k.k ORDER BY k.pos"""
        )
    out: list[int | None] = found.column("id").to_pylist()
    return out


def import_labels(
    db: Database,
    annotations: pa.Table,
    completed: list[int],
    *,
    source: str,
    batch: str | None,
    strategy: str,
) -> dict[str, Any]:
    """Write the labels of the ``completed`` data rows (a validated annotation table with
    ``row_id`` set): with ``strategy="keep"`` a completed row that already has labels keeps
    them (the import's labels of that row are dropped and the row reported); with
    ``"override"`` its labels move to ``label_history`` and the import's replace them. A
    row whose imported labels equal its current ones is left alone. Returns the summary
    (also stored in ``label_imports``). The caller holds the transaction."""
    ann_rows = annotations.column("row_id").to_numpy(zero_copy_only=False)
    completed_set = set(completed)
    current = _current_labels(db, completed)
    new_by_row = _fingerprints(annotations, ann_rows)
    labeled = {r for r, fps in current.items() if fps}
    unchanged = sorted(r for r in completed_set if new_by_row.get(r, []) == current.get(r, []))
    kept = sorted(labeled - set(unchanged)) if strategy == "keep" else []
    write = sorted(completed_set - set(unchanged) - set(kept))
    import_id = int(db.scalar("SELECT coalesce(max(id), 0) + 1 FROM label_imports"))
    replaced = 0
    write_table = pa.table({"id": pa.array(write, pa.int64())})
    with _registered(db, "_write", write_table):
        cols = ", ".join(c for c, _ in ANNOTATION_COLUMNS)
        replaced = int(
            db.scalar("SELECT count(*) FROM labels WHERE data_row_id IN (SELECT id FROM _write)")
        )
        db.con.execute(
            f"""INSERT INTO label_history ({cols}, import_id)
                SELECT {cols}, ? FROM labels WHERE data_row_id IN (SELECT id FROM _write)""",
            [import_id],
        )
        db.con.execute("DELETE FROM labels WHERE data_row_id IN (SELECT id FROM _write)")
    mask = np.isin(ann_rows, np.array(write, dtype=np.int64))
    added = insert_annotations(
        db, annotations.filter(pa.array(mask)), source=source, run_id=None, create_classes=False
    )
    summary = {
        "import_id": import_id,
        "source": source,
        "batch": batch,
        "strategy": strategy,
        "rows_completed": len(completed_set),
        "rows_changed": write,
        "rows_unchanged": unchanged,
        "rows_kept_existing": kept,
        "labels_added": added,
        "labels_replaced": replaced,
    }
    db.con.execute(
        "INSERT INTO label_imports (id, batch, source, strategy, summary) VALUES (?, ?, ?, ?, ?)",
        [import_id, batch, source, strategy, json.dumps(summary)],
    )
    return summary


_FP_COLS = ("class_name", "kind", "x1", "y1", "x2", "y2", "coords", "rle_counts", "span_start",
            "span_end", "answers")  # fmt: skip


def _fingerprint(rec: dict[str, Any]) -> tuple[Any, ...]:
    def norm(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 4)
        if isinstance(v, list):
            return tuple(norm(x) for x in v)
        return v

    mask = rec.get("kind") == "mask"  # a mask is its pixels: sources disagree on its box
    return tuple(
        None if mask and c in ("x1", "y1", "x2", "y2") else norm(rec.get(c)) for c in _FP_COLS
    )


def _fingerprints(table: pa.Table, rows: Any) -> dict[int, list[tuple[Any, ...]]]:
    out: dict[int, list[tuple[Any, ...]]] = {}
    recs = table.select(list(_FP_COLS)).to_pylist()
    for r, rec in zip(rows.tolist(), recs, strict=True):
        out.setdefault(int(r), []).append(_fingerprint(rec))
    return {k: sorted(v, key=repr) for k, v in out.items()}


def _current_labels(db: Database, ids: list[int]) -> dict[int, list[tuple[Any, ...]]]:
    with _registered(db, "_cur", pa.table({"id": pa.array(ids, pa.int64())})):
        table = db.arrow(
            f"""SELECT l.data_row_id, c.name AS class_name,
                       {", ".join(f"l.{c}" for c in _FP_COLS if c != "class_name")}
                FROM labels l JOIN classes c ON c.id = l.class_id
                WHERE l.data_row_id IN (SELECT id FROM _cur)"""
        )
    return _fingerprints(table, table.column("data_row_id").to_numpy())


def history_table(db: Database, data_row_id: int | None = None) -> pa.Table:
    """Replaced labels with the import that replaced them (newest import first)."""
    cols = ", ".join(f"h.{c}" for c, _ in ANNOTATION_COLUMNS if c != "class_id")
    where = "" if data_row_id is None else f"WHERE h.data_row_id = {int(data_row_id)}"
    return db.arrow(
        f"""SELECT {cols}, c.name AS class_name, d.global_key AS row_key, h.import_id,
                   i.source AS import_source, i.imported_at
            FROM label_history h JOIN classes c ON c.id = h.class_id
            JOIN data_rows d ON d.id = h.data_row_id
            JOIN label_imports i ON i.id = h.import_id {where}
            ORDER BY h.import_id DESC, h.id"""
    )


class _registered:
    def __init__(self, db: Database, name: str, table: pa.Table) -> None:
        self.db, self.name, self.table = db, name, table

    def __enter__(self) -> str:
        self.db.con.register(self.name, self.table)
        return self.name

    def __exit__(self, *exc: object) -> None:
        self.db.con.unregister(self.name)


def first_outside_batch(db: Database, batch: str, row_ids: list[int | None]) -> int | None:
    """The position of the first of ``row_ids`` that is not a row of ``batch`` (None: all are)."""
    table = pa.table(
        {"id": pa.array(row_ids, pa.int64()), "pos": pa.array(range(len(row_ids)), pa.int64())}
    )
    with _registered(db, "_chk", table):
        bad = db.rows(
            """SELECT pos FROM _chk WHERE id IS NULL OR id NOT IN
               (SELECT data_row_id FROM batch_rows WHERE batch = ?) ORDER BY pos LIMIT 1""",
            [batch],
        )
    return int(bad[0][0]) if bad else None


def labeled_rows(db: Database, among: list[int] | None = None) -> list[int]:
    """Data rows that have ground truth (of ``among``, when given), by id."""
    if among is None:
        return [int(r[0]) for r in db.rows("SELECT DISTINCT data_row_id FROM labels ORDER BY 1")]
    with _registered(db, "_among", pa.table({"id": pa.array(among, pa.int64())})):
        found = db.rows(
            """SELECT DISTINCT data_row_id FROM labels
               WHERE data_row_id IN (SELECT id FROM _among) ORDER BY 1"""
        )
    return [int(r[0]) for r in found]


def run_row_ids(db: Database, run_id: int) -> list[int]:
    rows = db.rows("SELECT data_row_id FROM run_rows WHERE run_id = ? ORDER BY 1", [run_id])
    return [int(r[0]) for r in rows]


def add_rows_to_run(db: Database, run_id: int, ids: list[int], split: str | None = None) -> None:
    """Add rows to a run (``unassigned`` unless ``split``); rows it has keep theirs."""
    with _registered(db, "_add", pa.table({"id": pa.array(ids, pa.int64())})):
        db.con.execute(
            """INSERT INTO run_rows (run_id, data_row_id, split)
               SELECT DISTINCT ?, id, ? FROM _add
               WHERE id NOT IN (SELECT data_row_id FROM run_rows WHERE run_id = ?)""",
            [run_id, split or "unassigned", run_id],
        )


def set_splits(db: Database, run_id: int, ids: list[int], split: str) -> None:
    with _registered(db, "_set", pa.table({"id": pa.array(ids, pa.int64())})):
        db.con.execute(
            """UPDATE run_rows SET split = ?
               WHERE run_id = ? AND data_row_id IN (SELECT id FROM _set)""",
            [split, run_id],
        )
