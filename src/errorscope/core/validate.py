"""Checks on incoming Arrow tables that need no database: vectorised, first failure wins.

Each check finds the first offending row with a mask over whole columns and raises
:class:`~errorscope.errors.InvalidInputError` naming the source, its ``line`` and the
field, so an import stops before it writes anything.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from errorscope.core.types import ANNOTATION_SCHEMA, DATA_ROW_SCHEMA, SPATIAL_KINDS, Kind, MediaType
from errorscope.errors import InvalidInputError

__all__ = ["conform", "validate_annotations", "validate_data_rows"]


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Reorder and cast ``table`` to ``schema``, adding missing columns as nulls."""
    n = table.num_rows
    cols = []
    for field in schema:
        if field.name in table.column_names:
            cols.append(table.column(field.name).cast(field.type))
        else:
            cols.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(cols, schema=schema)


def _fail_first(
    table: pa.Table, bad: npt.NDArray[np.bool_], source: str, field: str, message: str
) -> None:
    if not bad.any():
        return
    i = int(np.flatnonzero(bad)[0])
    line = table.column("line")[i].as_py()
    raise InvalidInputError(
        message.format(row=table.slice(i, 1).to_pylist()[0]), path=source, line=line, field=field
    )


def _mask(arr: pa.ChunkedArray | pa.Array) -> npt.NDArray[np.bool_]:
    out: npt.NDArray[np.bool_] = np.asarray(
        pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool
    )
    return out


def _floats(table: pa.Table, name: str) -> npt.NDArray[np.float64]:
    out: npt.NDArray[np.float64] = (
        table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
    )
    return out


def validate_annotations(table: pa.Table, source: str) -> None:
    """Type-level checks of an :data:`ANNOTATION_SCHEMA` table (no database needed)."""
    assert table.schema.equals(ANNOTATION_SCHEMA), "conform() the table first"
    kind = table.column("kind")
    _fail_first(
        table,
        _mask(pc.is_null(table.column("class_name"))),
        source,
        "class",
        "annotation has no class name",
    )
    known = pa.array([str(k) for k in Kind])
    _fail_first(
        table,
        ~_mask(pc.is_in(kind, value_set=known)),
        source,
        "kind",
        "unknown annotation kind {row[kind]!r}",
    )
    no_row = _mask(pc.and_(pc.is_null(table.column("row_id")), pc.is_null(table.column("row_key"))))
    _fail_first(table, no_row, source, "dataRow", "annotation names no data row")

    conf = _floats(table, "confidence")
    _fail_first(
        table,
        ~np.isfinite(conf) & ~_mask(pc.is_null(table.column("confidence"))),
        source,
        "confidence",
        "confidence must be a finite number, got {row[confidence]}",
    )
    _fail_first(
        table,
        (conf < 0) | (conf > 1),
        source,
        "confidence",
        "confidence must be in [0, 1], got {row[confidence]}",
    )

    spatial = _mask(pc.is_in(kind, value_set=pa.array([str(k) for k in SPATIAL_KINDS])))
    x1, y1, x2, y2 = (_floats(table, c) for c in ("x1", "y1", "x2", "y2"))
    finite = np.isfinite(x1) & np.isfinite(y1) & np.isfinite(x2) & np.isfinite(y2)
    _fail_first(
        table,
        spatial & ~finite,
        source,
        "bbox",
        "coordinates must be finite numbers, got ({row[x1]}, {row[y1]}, {row[x2]}, {row[y2]})",
    )
    with np.errstate(invalid="ignore"):
        negative = spatial & finite & ((x2 < x1) | (y2 < y1))
    _fail_first(
        table,
        negative,
        source,
        "bbox",
        "box has negative size: x1={row[x1]}, y1={row[y1]}, x2={row[x2]}, y2={row[y2]}",
    )

    is_span = _mask(pc.equal(kind, str(Kind.TEXT_SPAN)))
    start = _floats(table, "span_start")
    end = _floats(table, "span_end")
    with np.errstate(invalid="ignore"):
        bad_span = is_span & (~np.isfinite(start) | ~np.isfinite(end) | (start < 0) | (end < start))
    _fail_first(
        table,
        bad_span,
        source,
        "location",
        "span must have 0 <= start <= end, got [{row[span_start]}, {row[span_end]})",
    )

    is_mask = _mask(pc.equal(kind, str(Kind.MASK)))
    _fail_first(
        table,
        is_mask & _mask(pc.is_null(table.column("rle_counts"))),
        source,
        "mask",
        "mask annotation has no mask data",
    )
    # uuids repeated within the input are found by the store, together with uuids that
    # are already stored: one parallel hash aggregate there beats a hash table here.


def _fail_duplicates(table: pa.Table, column: str, source: str) -> None:
    values = table.column(column)
    counts = pc.value_counts(pc.drop_null(values))
    dupes = counts.filter(pc.greater(counts.field("counts"), 1)).field("values")
    if len(dupes):
        bad = _mask(pc.is_in(values, value_set=dupes))
        first = np.flatnonzero(bad)[0]
        value = values[int(first)].as_py()
        lines = pc.filter(table.column("line"), pc.equal(values, value)).to_pylist()
        raise InvalidInputError(
            f"duplicate {column} {value!r} (also on line {lines[1]})",
            path=source,
            line=lines[0],
            field=column,
        )


def validate_data_rows(table: pa.Table, source: str) -> None:
    """Type-level checks of a :data:`DATA_ROW_SCHEMA` table."""
    assert table.schema.equals(DATA_ROW_SCHEMA), "conform() the table first"
    media = table.column("media_type")
    _fail_first(
        table,
        ~_mask(pc.is_in(media, value_set=pa.array([str(m) for m in MediaType]))),
        source,
        "media_type",
        "media type must be 'image' or 'text', got {row[media_type]!r}",
    )
    is_text = _mask(pc.equal(media, str(MediaType.TEXT)))
    _fail_first(
        table,
        is_text & _mask(pc.is_null(table.column("text"))),
        source,
        "row_data",
        "text data row has no text",
    )
    is_image = ~is_text
    _fail_first(
        table,
        is_image & _mask(pc.is_null(table.column("uri"))),
        source,
        "row_data",
        "image data row has no file path or URL",
    )
    w = _floats(table, "width")
    h = _floats(table, "height")
    with np.errstate(invalid="ignore"):
        bad_size = (np.isfinite(w) & (w <= 0)) | (np.isfinite(h) & (h <= 0))
    _fail_first(
        table,
        bad_size,
        source,
        "width",
        "image size must be positive, got {row[width]}x{row[height]}",
    )
    _fail_duplicates(table, "global_key", source)
