"""Bulk writes: data rows and annotations arrive as Arrow tables and go in set-wise.

No row-at-a-time SQL: each function registers its Arrow input with DuckDB, checks it
against what the workspace holds with a few joins, and inserts with one statement.
Callers wrap the calls of one import in :meth:`Database.transaction`.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from errorscope.core.types import SPATIAL_KINDS, Kind, MediaType
from errorscope.errors import InvalidInputError
from errorscope.store.catalog import ensure_classes
from errorscope.store.database import Database
from errorscope.store.schema import ANNOTATION_COLUMNS

__all__ = ["insert_annotations", "insert_data_rows"]


def _with_pos(table: pa.Table) -> pa.Table:
    return table.append_column("pos", pa.array(np.arange(table.num_rows, dtype=np.int64)))


class _Registered:
    """Register an Arrow table under a name for the duration of a ``with`` block."""

    def __init__(self, db: Database, name: str, table: pa.Table) -> None:
        self.db, self.name, self.table = db, name, table

    def __enter__(self) -> str:
        self.db.con.register(self.name, self.table)
        return self.name

    def __exit__(self, *exc: object) -> None:
        self.db.con.unregister(self.name)


def _first(db: Database, sql: str, params: list[Any] | None = None) -> tuple[Any, ...] | None:
    rows = db.rows(sql + " LIMIT 1", params)
    return rows[0] if rows else None


def insert_data_rows(
    db: Database,
    rows: pa.Table,
    *,
    dataset_id: int,
    source: str,
    existing: Literal["reuse", "error"] = "reuse",
    metadata: pa.Table | None = None,
) -> npt.NDArray[np.int64]:
    """Insert data rows (a validated ``DATA_ROW_SCHEMA`` table); return their ids in order.

    A row whose global key is already in the workspace is reused (``existing="reuse"``:
    its id is returned, nothing is written) or is an error (``existing="error"``). A
    reused row must agree with the stored one: same image size, and for a text row the
    same text (a prediction file of other sentences under the same keys is refused).
    """
    with _Registered(db, "_in_rows", _with_pos(rows)):
        clash = _first(
            db,
            """SELECT i.line, i.global_key, d.width, d.height, i.width, i.height
               FROM _in_rows i JOIN data_rows d ON d.global_key = i.global_key
               ORDER BY i.line""",
        )
        if clash is not None and existing == "error":
            raise InvalidInputError(
                f"a data row with global key {clash[1]!r} already exists",
                path=source,
                line=clash[0],
                field="global_key",
            )
        size_clash = _first(
            db,
            """SELECT i.line, i.global_key, d.width, d.height, i.width, i.height
               FROM _in_rows i JOIN data_rows d ON d.global_key = i.global_key
               WHERE (i.width IS NOT NULL AND d.width IS NOT NULL AND i.width <> d.width)
                  OR (i.height IS NOT NULL AND d.height IS NOT NULL AND i.height <> d.height)
               ORDER BY i.line""",
        )
        if size_clash is not None:
            raise InvalidInputError(
                f"image {size_clash[1]!r} is {size_clash[4]}x{size_clash[5]} here but "
                f"{size_clash[2]}x{size_clash[3]} in the workspace",
                path=source,
                line=size_clash[0],
                field="width",
            )
        text_clash = _first(
            db,
            f"""SELECT i.line, i.global_key, i.text, d.text
               FROM _in_rows i JOIN data_rows d ON d.global_key = i.global_key
               WHERE d.media_type = '{MediaType.TEXT}' AND i.text IS DISTINCT FROM d.text
               ORDER BY i.line""",
        )
        if text_clash is not None:
            raise InvalidInputError(
                f"the text of data row {text_clash[1]!r} differs from the stored text "
                f"({_text_difference(text_clash[2], text_clash[3])})",
                path=source,
                line=text_clash[0],
                field="text",
            )
        base = int(db.scalar("SELECT coalesce(max(id), 0) FROM data_rows"))
        db.con.execute(
            """CREATE OR REPLACE TEMP TABLE _row_ids AS
               SELECT i.pos, coalesce(d.id, ? + row_number() OVER (
                          PARTITION BY d.id IS NULL ORDER BY i.pos)) AS id,
                      d.id IS NULL AS is_new
               FROM _in_rows i LEFT JOIN data_rows d ON d.global_key = i.global_key""",
            [base],
        )
        db.con.execute(
            """INSERT INTO data_rows (id, dataset_id, global_key, media_type, uri, width,
                                      height, text)
               SELECT r.id, ?, i.global_key, i.media_type, i.uri, i.width, i.height, i.text
               FROM _in_rows i JOIN _row_ids r USING (pos) WHERE r.is_new ORDER BY r.id""",
            [dataset_id],
        )
        ids: npt.NDArray[np.int64] = (
            db.con.execute("SELECT id FROM _row_ids ORDER BY pos")
            .fetchnumpy()["id"]
            .astype(np.int64)
        )
        db.con.execute("DROP TABLE _row_ids")
    if metadata is not None and metadata.num_rows:
        _insert_metadata(db, metadata, ids, source)
    return ids


def _text_difference(new: str | None, old: str | None) -> str:
    """Where two texts first differ, briefly: for an error message."""
    if new is None:
        return "this row has no text"
    old = old or ""
    at = next(
        (i for i, (a, b) in enumerate(zip(new, old, strict=False)) if a != b),
        min(len(new), len(old)),
    )
    return f"from character {at}: {new[at : at + 20]!r} here, {old[at : at + 20]!r} stored"


def _insert_metadata(
    db: Database, metadata: pa.Table, ids: npt.NDArray[np.int64], source: str
) -> None:
    index = metadata.column("row_index").to_numpy()
    table = metadata.append_column("data_row_id", pa.array(ids[index]))
    fields = dict(db.rows("SELECT name, type FROM metadata_fields"))
    new_fields: dict[str, str] = {}
    names = table.column("name").to_pylist()
    types = table.column("type").to_pylist()
    lines = table.column("line").to_pylist()
    for name, type_, line in zip(names, types, lines, strict=True):
        known = fields.get(name) or new_fields.get(name)
        if known is None:
            new_fields[name] = type_
        elif known != type_:
            raise InvalidInputError(
                f"metadata field {name!r} is of type {known}, got a {type_} value",
                path=source,
                line=line,
                field=f"metadata_fields.{name}",
            )
    for name, type_ in new_fields.items():
        db.con.execute("INSERT INTO metadata_fields (name, type) VALUES (?, ?)", [name, type_])
    with _Registered(db, "_in_meta", table):
        db.con.execute(
            """DELETE FROM row_metadata WHERE (data_row_id, name) IN
               (SELECT (data_row_id, name) FROM _in_meta)"""
        )
        db.con.execute(
            """INSERT INTO row_metadata
               SELECT data_row_id, name, str_value, num_value, time_value FROM _in_meta"""
        )


def insert_annotations(
    db: Database,
    table: pa.Table,
    *,
    source: str,
    run_id: int | None = None,
    create_classes: bool = True,
) -> int:
    """Insert validated annotations as labels (``run_id`` None) or a run's predictions.

    Checks against the workspace, each naming the line: unknown data row, unknown class
    (when ``create_classes`` is false), class kind clash, mask size different from the
    image size, a span outside the row's text, a spatial annotation on a text row or a
    span on an image row, and an annotation ``uuid`` that is already stored.
    """
    if table.num_rows == 0:
        return 0
    target = "labels" if run_id is None else "predictions"
    with _Registered(db, "_resolved", _resolve_rows(db, _with_pos(table))):
        _check_resolved(db, source, target, run_id)
        wanted = db.rows(
            "SELECT class_name, first(kind ORDER BY line), min(line) FROM _resolved GROUP BY 1"
        )
        class_ids = ensure_classes(
            db,
            [(n, k, int(line)) for n, k, line in wanted],
            create=create_classes,
            source=source,
        )
        cmap = pa.table({"class_name": list(class_ids), "class_id": list(class_ids.values())})
        with _Registered(db, "_class_map", cmap):
            base = int(db.scalar(f"SELECT coalesce(max(id), 0) FROM {target}"))
            cols = [c for c, _ in ANNOTATION_COLUMNS]
            select = {c: f"r.{c}" for c in cols}
            select["id"] = f"{base + 1} + r.pos"  # ids follow the input order
            select["data_row_id"] = "r.rid"
            select["class_id"] = "m.class_id"
            select["iscrowd"] = "coalesce(r.iscrowd, false)"
            select["difficult"] = "coalesce(r.difficult, false)"
            if run_id is not None:
                cols += ["run_id", "confidence", "custom_metrics"]
                select["run_id"] = str(int(run_id))
                select["confidence"] = "coalesce(r.confidence, 1.0)"
                select["custom_metrics"] = "r.custom_metrics"
            db.con.execute(
                f"""INSERT INTO {target} ({", ".join(cols)})
                    SELECT {", ".join(select[c] for c in cols)}
                    FROM _resolved r JOIN _class_map m USING (class_name)"""
            )
        if run_id is not None:
            db.con.execute(
                """INSERT INTO run_rows (run_id, data_row_id)
                   SELECT DISTINCT ?, rid FROM _resolved
                   WHERE rid NOT IN (SELECT data_row_id FROM run_rows WHERE run_id = ?)""",
                [run_id, run_id],
            )
    return int(table.num_rows)


def _resolve_rows(db: Database, table: pa.Table) -> pa.Table:
    """Append the referenced data row's ``rid``, ``media_type``, ``img_w``, ``img_h`` and
    ``text_len`` (all null where the row is unknown).

    Only the rows the annotations name are read from the store; the lookup itself is a
    hash probe in Arrow, so the annotations are never copied into the database twice.
    """
    keys = pc.unique(table.column("row_key")).drop_null()
    ids = pc.unique(table.column("row_id")).drop_null()
    sql = """SELECT id, global_key, media_type, width AS img_w, height AS img_h,
                    length(text) AS text_len FROM data_rows WHERE {col} IN (SELECT v FROM {name})"""
    with _Registered(db, "_want_keys", pa.table({"v": keys})):
        by_key = db.arrow(sql.format(col="global_key", name="_want_keys"))
    with _Registered(db, "_want_ids", pa.table({"v": ids})):
        by_id = db.arrow(sql.format(col="id", name="_want_ids"))
    found = pa.concat_tables([by_id, by_key])
    at = pc.coalesce(
        pc.index_in(table.column("row_id"), value_set=found.column("id")),
        pc.index_in(table.column("row_key"), value_set=found.column("global_key")),
    )
    for out, col in [
        ("rid", "id"),
        ("media_type", "media_type"),
        ("img_w", "img_w"),
        ("img_h", "img_h"),
        ("text_len", "text_len"),
    ]:
        table = table.append_column(out, pc.take(found.column(col), at))
    return table


def _check_resolved(db: Database, source: str, target: str, run_id: int | None) -> None:
    def fail(sql: str, field: str, render: Any) -> None:
        row = _first(db, f"SELECT line, * EXCLUDE (line) FROM _resolved WHERE {sql} ORDER BY line")
        if row is None:
            return
        names = [d[0] for d in db.con.description or []]
        rec = dict(zip(names, row, strict=True))
        raise InvalidInputError(render(rec), path=source, line=rec["line"], field=field)

    fail(
        "rid IS NULL",
        "dataRow",
        lambda r: (
            "unknown data row "
            + (
                f"with global key {r['row_key']!r}"
                if r["row_key"] is not None
                else f"id {r['row_id']}"
            )
        ),
    )
    spatial = ", ".join(f"'{k}'" for k in sorted(SPATIAL_KINDS))
    fail(
        f"kind IN ({spatial}) AND media_type = '{MediaType.TEXT}'",
        "kind",
        lambda r: f"a {r['kind']} annotation cannot go on a text data row",
    )
    fail(
        f"kind = '{Kind.TEXT_SPAN}' AND media_type <> '{MediaType.TEXT}'",
        "location",
        lambda r: "a text span cannot go on an image data row",
    )
    fail(
        f"kind = '{Kind.TEXT_SPAN}' AND span_end > text_len",
        "location",
        lambda r: (
            f"span [{r['span_start']}, {r['span_end']}) runs past the end of the "
            f"row's text ({r['text_len']} characters)"
        ),
    )
    fail(
        f"kind = '{Kind.MASK}' AND img_w IS NOT NULL AND (rle_h <> img_h OR rle_w <> img_w)",
        "mask",
        lambda r: f"mask is {r['rle_w']}x{r['rle_h']} but the image is {r['img_w']}x{r['img_h']}",
    )
    dup = _first(
        db,
        """SELECT uuid, min(line), max(line) FROM _resolved WHERE uuid IS NOT NULL
           GROUP BY uuid HAVING count(*) > 1 ORDER BY 2""",
    )
    if dup is not None:
        raise InvalidInputError(
            f"duplicate uuid {dup[0]!r} (also on line {dup[2]})",
            path=source,
            line=dup[1],
            field="uuid",
        )
    scope = "" if run_id is None else f"AND t.run_id = {int(run_id)}"
    fail(
        f"uuid IS NOT NULL AND uuid IN (SELECT t.uuid FROM {target} t WHERE t.uuid IS NOT NULL "
        f"{scope})",
        "uuid",
        lambda r: f"an annotation with uuid {r['uuid']!r} is already stored",
    )
