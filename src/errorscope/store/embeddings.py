"""Embedding spaces: the ``embedding_spaces`` table and the vector files beside it.

A space's vectors live in ``<workspace>/embeddings/<directory>/`` as ``vectors.npy``
(``count x dim``, float32 or float16) and ``ids.npy`` (the data row id of each vector,
int64, ascending), so a million 384-d vectors load by memory-mapping one file. The
table row is written last, in a transaction: a space is visible only once its files are
complete, and a failed write leaves neither row nor files. Indexes and projections are
cached in the same directory (:func:`space_dir`) and go with the space.

An object space (``level = 'object'``: one vector per annotation or prediction, for
crops) keeps the objects' ids in ``ids.npy`` (ascending), their data row ids in
``rows.npy`` (aligned) and which objects they are in ``objects.json``:
``{"run_id": null}`` for ground truth, the run's id for its predictions.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from errorscope.core.query import Filter
from errorscope.errors import ConflictError, NotFoundError
from errorscope.store.database import Database
from errorscope.store.query import _ROWS, FilterCompiler

__all__ = [
    "EMBEDDINGS_DIR",
    "SpaceRow",
    "datasets",
    "delete_space",
    "filter_row_ids",
    "get_space",
    "list_spaces",
    "load_rows",
    "load_space",
    "object_info",
    "object_run",
    "objects_to_embed",
    "resolve_objects",
    "resolve_rows",
    "row_keys",
    "row_media",
    "space_dir",
    "space_keys",
    "write_space",
]

EMBEDDINGS_DIR = "embeddings"
#: The run's scope in :data:`errorscope.store.query._ROWS`, replaced by the space's dataset.
_RUN_SCOPE = re.compile(
    r"WHERE d\.dataset_id IN \(\s*SELECT DISTINCT x\.dataset_id .*?\$run\)", re.S
)


@dataclass(frozen=True)
class SpaceRow:
    name: str
    dataset: str
    dataset_id: int
    dim: int
    source: str
    dtype: str
    count: int
    directory: str
    created_at: datetime
    level: str = "row"  # "row" or "object"


_SELECT = """SELECT s.name, d.name, s.dataset_id, s.dim, s.source, s.dtype, s.count,
    s.directory, s.created_at, coalesce(s.level, 'row')
    FROM embedding_spaces s JOIN datasets d ON d.id = s.dataset_id"""
_OBJECTS_FILE = "objects.json"


def _space(row: tuple[Any, ...]) -> SpaceRow:
    return SpaceRow(
        row[0],
        row[1],
        int(row[2]),
        int(row[3]),
        row[4],
        row[5],
        int(row[6]),
        row[7],
        row[8],
        row[9],
    )


def list_spaces(db: Database) -> list[SpaceRow]:
    return [_space(r) for r in db.rows(f"{_SELECT} ORDER BY s.name")]


def get_space(db: Database, name: str) -> SpaceRow:
    rows = db.rows(f"{_SELECT} WHERE s.name = ?", [name])
    if not rows:
        known = ", ".join(s.name for s in list_spaces(db)) or "none"
        raise NotFoundError(f"no embedding space named {name!r} (spaces: {known})")
    return _space(rows[0])


def space_dir(db: Database, space: SpaceRow) -> Path:
    return db.directory / EMBEDDINGS_DIR / space.directory


def load_space(
    db: Database, space: SpaceRow
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.floating[Any]]]:
    """``(ids, vectors)`` of a space, memory-mapped (read-only)."""
    where = space_dir(db, space)
    ids = np.load(where / "ids.npy", mmap_mode="r")
    vectors = np.load(where / "vectors.npy", mmap_mode="r")
    return ids, vectors


def load_rows(db: Database, space: SpaceRow) -> npt.NDArray[np.int64]:
    """The data row id of each vector: ``rows.npy`` of an object space, the ids of a row
    space."""
    where = space_dir(db, space)
    name = "rows.npy" if space.level == "object" else "ids.npy"
    rows: npt.NDArray[np.int64] = np.load(where / name, mmap_mode="r")
    return rows


def object_run(db: Database, space: SpaceRow) -> int | None:
    """The run whose predictions an object space holds (``None``: ground truth)."""
    meta = json.loads((space_dir(db, space) / _OBJECTS_FILE).read_text())
    run = meta.get("run_id")
    return None if run is None else int(run)


def write_space(
    db: Database,
    *,
    name: str,
    dataset_id: int,
    source: str,
    ids: npt.NDArray[np.int64],
    vectors: npt.NDArray[np.floating[Any]],
    replace: bool,
    rows: npt.NDArray[np.int64] | None = None,
    run_id: int | None = None,
) -> SpaceRow:
    """Store a space (``ids`` ascending and unique, ``vectors`` aligned with them). With
    ``rows`` (the data row of each vector) it is an object space: ``ids`` are object ids,
    of the ground truth or (``run_id``) of that run's predictions.

    An existing space of that name is a :class:`ConflictError` unless ``replace``; a
    replaced space's files are removed once the new one is committed.
    """
    root = db.directory / EMBEDDINGS_DIR
    directory = f"{uuid.uuid4().hex[:12]}"
    where = root / directory
    where.mkdir(parents=True)
    old: SpaceRow | None = None
    try:
        np.save(where / "ids.npy", np.ascontiguousarray(ids, dtype=np.int64))
        np.save(where / "vectors.npy", np.ascontiguousarray(vectors))
        level = "row" if rows is None else "object"
        if rows is not None:
            np.save(where / "rows.npy", np.ascontiguousarray(rows, dtype=np.int64))
            (where / _OBJECTS_FILE).write_text(json.dumps({"run_id": run_id}))
        with db.transaction():
            found = db.rows(f"{_SELECT} WHERE s.name = ?", [name])
            if found:
                if not replace:
                    raise ConflictError(
                        f"embedding space {name!r} exists; pass replace to overwrite it"
                    )
                old = _space(found[0])
                db.con.execute("DELETE FROM embedding_spaces WHERE name = ?", [name])
            db.con.execute(
                """INSERT INTO embedding_spaces
                   (name, dataset_id, dim, source, dtype, count, directory, level)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    name,
                    dataset_id,
                    int(vectors.shape[1]),
                    source,
                    str(vectors.dtype),
                    len(ids),
                    directory,
                    level,
                ],
            )
    except BaseException:
        shutil.rmtree(where, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(space_dir(db, old), ignore_errors=True)
    return get_space(db, name)


def delete_space(db: Database, name: str) -> None:
    space = get_space(db, name)
    with db.transaction():
        db.con.execute("DELETE FROM embedding_spaces WHERE name = ?", [name])
    with contextlib.suppress(OSError):
        shutil.rmtree(space_dir(db, space))


def resolve_rows(
    db: Database, ids: npt.NDArray[np.int64], keys: list[str | None]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(data row id, dataset id)`` of each input row, given by id (``ids >= 0``) or by
    global key (``keys[i]``, where ``ids[i] < 0``); -1 for both where there is no such
    row. One join, whatever the number of rows."""
    table = pa.table(
        {
            "pos": pa.array(np.arange(len(ids), dtype=np.int64)),
            "rid": pa.array(ids, mask=ids < 0),
            "gkey": pa.array(keys, pa.string()),
        }
    )
    db.con.register("_es_vec_keys", table)
    try:
        out = db.con.execute(
            """SELECT coalesce(a.id, b.id, -1) AS id,
                      coalesce(a.dataset_id, b.dataset_id, -1) AS dataset_id
               FROM _es_vec_keys k
               LEFT JOIN data_rows a ON a.id = k.rid
               LEFT JOIN data_rows b ON k.rid IS NULL AND b.global_key = k.gkey
               ORDER BY k.pos"""
        ).fetchnumpy()
    finally:
        db.con.unregister("_es_vec_keys")
    return np.asarray(out["id"], dtype=np.int64), np.asarray(out["dataset_id"], dtype=np.int64)


def _objects_table(run_id: int | None) -> tuple[str, str]:
    """The table of an object space's objects and the condition selecting them."""
    if run_id is None:
        return "labels", "TRUE"
    return "predictions", f"o.run_id = {int(run_id)}"


def resolve_objects(
    db: Database, ids: npt.NDArray[np.int64], uuids: list[str | None], run_id: int | None
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """``(object id, data row id, dataset id)`` of each input object, given by id
    (``ids >= 0``) or by uuid (``uuids[i]``, where ``ids[i] < 0``) among the ground truth
    (``run_id`` None) or that run's predictions; -1 where there is no such object."""
    table_name, cond = _objects_table(run_id)
    table = pa.table(
        {
            "pos": pa.array(np.arange(len(ids), dtype=np.int64)),
            "oid": pa.array(ids, mask=ids < 0),
            "ouuid": pa.array(uuids, pa.string()),
        }
    )
    db.con.register("_es_obj_keys", table)
    try:
        out = db.con.execute(
            f"""WITH o AS (SELECT o.id, o.uuid, o.data_row_id FROM {table_name} o WHERE {cond})
               SELECT coalesce(a.id, b.id, -1) AS id,
                      coalesce(a.data_row_id, b.data_row_id, -1) AS row_id,
                      coalesce(d.dataset_id, -1) AS dataset_id
               FROM _es_obj_keys k
               LEFT JOIN o a ON a.id = k.oid
               LEFT JOIN o b ON k.oid IS NULL AND b.uuid = k.ouuid
               LEFT JOIN data_rows d ON d.id = coalesce(a.data_row_id, b.data_row_id)
               ORDER BY k.pos"""
        ).fetchnumpy()
    finally:
        db.con.unregister("_es_obj_keys")
    return (
        np.asarray(out["id"], dtype=np.int64),
        np.asarray(out["row_id"], dtype=np.int64),
        np.asarray(out["dataset_id"], dtype=np.int64),
    )


def objects_to_embed(db: Database, dataset_id: int, run_id: int | None) -> pa.Table:
    """The dataset's image objects with a geometry (ground truth, or ``run_id``'s
    predictions), by data row then id: ``id, data_row_id, uri, kind, x1, y1, x2, y2,
    coords, rle_counts, rle_h, rle_w``."""
    table_name, cond = _objects_table(run_id)
    return db.arrow(
        f"""SELECT o.id, o.data_row_id, d.uri, o.kind, o.x1, o.y1, o.x2, o.y2, o.coords,
                   o.rle_counts, o.rle_h, o.rle_w
            FROM {table_name} o JOIN data_rows d ON d.id = o.data_row_id
            WHERE {cond} AND d.dataset_id = $1 AND d.media_type = 'image'
              AND (o.x1 IS NOT NULL OR o.coords IS NOT NULL OR o.rle_counts IS NOT NULL)
            ORDER BY o.data_row_id, o.id""",
        [dataset_id],
    )


def object_info(db: Database, run_id: int | None, ids: list[int]) -> dict[int, tuple[str, str]]:
    """``id -> (uuid, class name)`` of those of ``ids`` that still exist."""
    if not ids:
        return {}
    table_name, cond = _objects_table(run_id)
    rows = db.rows(
        f"""SELECT o.id, o.uuid, c.name FROM {table_name} o JOIN classes c ON c.id = o.class_id
            WHERE {cond} AND o.id IN (SELECT unnest(?::BIGINT[]))""",
        [ids],
    )
    return {int(i): (u, c) for i, u, c in rows}


def datasets(db: Database) -> dict[str, int]:
    """Dataset name -> id."""
    return {n: int(i) for i, n in db.rows("SELECT id, name FROM datasets ORDER BY id")}


def row_keys(db: Database, ids: list[int]) -> dict[int, str | None]:
    """Global key of each of ``ids`` that exists."""
    if not ids:
        return {}
    rows = db.rows(
        "SELECT id, global_key FROM data_rows WHERE id IN (SELECT unnest(?::BIGINT[]))", [ids]
    )
    return {int(i): k for i, k in rows}


def space_keys(db: Database, ids: npt.NDArray[np.int64]) -> pa.Array:
    """The global keys of the rows ``ids`` (ascending), aligned with them."""
    table = pa.table({"id": pa.array(np.asarray(ids, dtype=np.int64))})
    db.con.register("_es_space_ids", table)
    try:
        found: pa.Table = db.arrow(
            """SELECT d.global_key FROM _es_space_ids s LEFT JOIN data_rows d ON d.id = s.id
               ORDER BY s.id"""
        )
    finally:
        db.con.unregister("_es_space_ids")
    return found.column(0).combine_chunks()


def row_media(db: Database, dataset_id: int) -> pa.Table:
    """``id, media_type, uri, text`` of a dataset's rows, by id."""
    return db.arrow(
        "SELECT id, media_type, uri, text FROM data_rows WHERE dataset_id = $1 ORDER BY id",
        [dataset_id],
    )


def filter_row_ids(
    db: Database, dataset_id: int, run_id: int | None, where: Filter
) -> npt.NDArray[np.int64]:
    """Ids of the dataset's rows matching ``where`` (ascending). With a run, its splits,
    metrics and predictions are what the filter sees; without one, every row is
    ``unassigned`` and has no metrics or predictions."""
    comp = FilterCompiler()
    comp.params["run"] = run_id
    comp.params["dataset"] = dataset_id
    cond = comp.compile(where)
    full = comp.ctes()
    base = "WITH " + _ROWS
    scoped, n = _RUN_SCOPE.subn("WHERE d.dataset_id = $dataset", _ROWS)
    if n != 1 or not full.startswith(base):  # pragma: no cover - store.query changed shape
        raise RuntimeError("store.query's row CTE changed: update filter_row_ids")
    out = db.con.execute(
        f"WITH {scoped}{full[len(base) :]} SELECT m.id FROM m "
        f"WHERE coalesce({cond}, FALSE) ORDER BY m.id",
        comp.params,
    ).fetchnumpy()
    return np.asarray(out["id"], dtype=np.int64)
