"""Data rows from NDJSON/JSONL, Labelbox-like, with typed metadata.

One data row per line::

    {"row_data": "images/a.jpg" | "https://..." | "the text", "global_key": "a.jpg",
     "media_type": "IMAGE" | "TEXT", "text": "...", "width": 640, "height": 480,
     "metadata_fields": [{"name": "city", "value": "Paris"},
                         {"name": "captured", "value": "2024-05-01T10:00:00Z"},
                         {"name": "weather", "value": "sunny", "type": "enum"},
                         {"name": "score", "value": 0.3}]}

* ``media_type`` is case-insensitive; without it a row is TEXT when it has a ``text``
  key and IMAGE otherwise.
* An image row's ``row_data`` is its file path or URL; a relative path is resolved
  against ``media_root`` when one is given. Missing ``width``/``height`` are read from
  the image file's header with Pillow when the file is on this machine, else left null.
* A text row's text is ``text``, or else ``row_data`` itself; with ``text`` given,
  ``row_data`` (if any) is kept as the row's uri.
* Metadata types: a JSON number is ``number``; a string is ``datetime`` when it is an
  ISO-8601 date or date-time (``YYYY-MM-DD...``, read with ``datetime.fromisoformat``;
  stored as naive UTC), else ``string``. An optional ``"type"`` (``"enum"``,
  ``"string"``, ``"number"``, ``"datetime"``) states the type instead; ``enum`` values
  are stored as strings of type ``enum``.

Speed: as for annotations (:mod:`errorscope.ingest.lines`), chunks go through
``pyarrow.json``. A metadata ``value`` may be a string on one line and a number on the
next, which pyarrow cannot type, so string values are renamed to a key of their own in
the bytes pyarrow reads (``"value":"`` → ``"__es_str_value":"``; safe because ``value"``
cannot occur unescaped inside a JSON string). A chunk with anything the vectorised path
does not accept is parsed line by line, and that parser raises the error naming file,
line and field.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from errorscope.core.perf import no_gc
from errorscope.core.types import METADATA_SCHEMA, MediaType, MetadataType
from errorscope.errors import InvalidInputError
from errorscope.ingest.common import Parsed, annotations_table, rows_table
from errorscope.ingest.lines import (
    Chunk,
    arrays,
    bad_line,
    loads_line,
    number,
    read_json_chunks,
    valid,
)

__all__ = ["parse_data_rows"]

_STR_KEY = "__es_str_value"
_ROW_SCHEMA = pa.schema(
    [
        ("row_data", pa.string()),
        ("global_key", pa.string()),
        ("media_type", pa.string()),
        ("text", pa.string()),
        ("width", pa.int64()),
        ("height", pa.int64()),
        (
            "metadata_fields",
            pa.list_(
                pa.struct(
                    [
                        ("name", pa.string()),
                        ("value", pa.float64()),
                        (_STR_KEY, pa.string()),
                        ("type", pa.string()),
                    ]
                )
            ),
        ),
    ]
)
_ROW_COLUMNS = ["line", "global_key", "media_type", "uri", "width", "height", "text"]
_META_COLUMNS = ["line", "name", "type", "str_value", "num_value", "time_value"]
_TYPES = [str(t) for t in MetadataType]  # codes: string, number, datetime, enum
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}")
_PLAIN = _ISO.pattern + r"(?:[T ](?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,6})?)?)?"
_ZONE = r"(?:Z|[+-](?:[01]\d|2[0-3]):?[0-5]\d)$"
_ABSOLUTE = r"^(/|[A-Za-z][A-Za-z0-9+.-]*:)"  # a path from the root, or a URL / drive


def as_datetime(value: str) -> datetime | None:
    """``value`` as a naive UTC datetime if it is an ISO-8601 date or date-time."""
    if not _ISO.match(value):
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None
    return dt.astimezone(UTC).replace(tzinfo=None) if dt.tzinfo is not None else dt


def _datetimes(
    values: pa.Array,
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.int64]]:
    """Which strings are datetimes (as :func:`as_datetime` decides) and their UTC
    microseconds. The plain ISO forms are parsed by Arrow, the rest by Python."""
    ok = np.zeros(len(values), dtype=bool)
    micros = np.zeros(len(values), dtype=np.int64)
    for pattern, tz in ((_PLAIN + "$", None), (_PLAIN + _ZONE, "UTC")):
        hit = pc.fill_null(pc.match_substring_regex(values, pattern), False)
        at = np.flatnonzero(hit.to_numpy(zero_copy_only=False))
        if not len(at):
            continue
        try:
            stamps = values.take(pa.array(at)).cast(pa.timestamp("us", tz))
        except pa.ArrowInvalid:
            continue  # e.g. a day that does not exist: Python decides below
        ok[at] = True
        micros[at] = stamps.cast(pa.int64()).to_numpy(zero_copy_only=False)
    rest = np.flatnonzero(~ok)
    parsed = [as_datetime(v) for v in values.take(pa.array(rest)).to_pylist()]
    ok[rest] = [d is not None for d in parsed]
    micros[rest] = pa.array(parsed, pa.timestamp("us")).cast(pa.int64()).fill_null(0)
    return ok, micros


def _string_values(data: bytes) -> bytes:
    if b'"value"' not in data:
        return data
    new = f'"{_STR_KEY}":"'.encode()
    return data.replace(b'"value":"', new).replace(b'"value": "', new.replace(b":", b": "))


# -- the per-line (reference) parser -----------------------------------------------------


class _Rows:
    def __init__(self, path: Path, media_root: Path | None) -> None:
        self.path = path
        self.root = None if media_root is None else str(media_root)
        self.rows: dict[str, list[Any]] = {c: [] for c in _ROW_COLUMNS}
        self.meta: dict[str, list[Any]] = {c: [] for c in _META_COLUMNS}

    def tables(self) -> tuple[pa.Table, pa.Table]:
        meta_schema = pa.schema([METADATA_SCHEMA.field(c) for c in _META_COLUMNS])
        return (
            rows_table(self.rows),
            pa.Table.from_pydict(self.meta, schema=meta_schema),
        )

    def add(self, text: bytes, line: int) -> None:
        obj = loads_line(text, self.path, line)

        def fail(field: str, message: str) -> InvalidInputError:
            return bad_line(self.path, line, field, message)

        def string(key: str) -> str | None:
            value = obj.get(key)
            if value is not None and not isinstance(value, str):
                raise fail(key, f"{key} must be a string, got {value!r}")
            return value

        row_data, key, media, body = (
            string(k) for k in ("row_data", "global_key", "media_type", "text")
        )
        if media is None:
            media = str(MediaType.TEXT if body is not None else MediaType.IMAGE)
        media = media.lower()
        uri = row_data
        if media == MediaType.TEXT and body is None:
            body, uri = row_data, None
        elif media != MediaType.TEXT and uri and self.root and not re.match(_ABSOLUTE, uri):
            uri = f"{self.root}/{uri}"
        size = []
        for k in ("width", "height"):
            v = obj.get(k)
            if v is not None and (number(v) is None or not float(v).is_integer()):
                raise fail(k, f"{k} must be a whole number of pixels, got {v!r}")
            size.append(None if v is None else int(v))
        for col, value in zip(_ROW_COLUMNS, (line, key, media, uri, *size, body), strict=True):
            self.rows[col].append(value)
        fields = obj.get("metadata_fields")
        if fields is None:
            return
        if not isinstance(fields, list):
            raise fail("metadata_fields", "metadata_fields must be a list")
        seen: set[str] = set()
        for m in fields:
            name = m.get("name") if isinstance(m, dict) else None
            if not isinstance(name, str):
                raise fail(
                    "metadata_fields",
                    'each metadata field must be {"name": str, "value": str | number}',
                )
            if name in seen:
                raise fail(f"metadata_fields.{name}", f"metadata field {name!r} is given twice")
            seen.add(name)
            typed = _typed(m, f"metadata_fields.{name}", fail)
            for col, value in zip(_META_COLUMNS, (line, name, *typed), strict=True):
                self.meta[col].append(value)


def _typed(
    m: dict[str, Any], field: str, fail: Callable[[str, str], InvalidInputError]
) -> tuple[str, str | None, float | None, Any]:
    """``(type, str_value, num_value, time_value)`` of one metadata field."""
    declared = m.get("type")
    if declared is not None:
        if not isinstance(declared, str) or declared.lower() not in _TYPES:
            raise fail(field, f"unknown metadata type {declared!r} (known: {', '.join(_TYPES)})")
        declared = declared.lower()
    value = m.get("value")
    num = number(value)
    if num is not None:
        if declared not in (None, MetadataType.NUMBER):
            raise fail(field, f"a {declared} metadata field needs a string value, got {value!r}")
        return str(MetadataType.NUMBER), None, num, None
    if not isinstance(value, str):
        raise fail(field, f"metadata value must be a string or a number, got {value!r}")
    if declared == MetadataType.NUMBER:
        raise fail(field, f"a number metadata field needs a number value, got {value!r}")
    if declared in (MetadataType.ENUM, MetadataType.STRING):
        return declared, value, None, None
    dt = as_datetime(value)
    if dt is None:
        if declared == MetadataType.DATETIME:
            raise fail(field, f"not an ISO-8601 date or date-time: {value!r}")
        return str(MetadataType.STRING), value, None, None
    return str(MetadataType.DATETIME), None, None, dt


def _parse_lines(path: Path, chunk: Chunk, media_root: Path | None) -> tuple[pa.Table, pa.Table]:
    rows = _Rows(path, media_root)
    with no_gc():
        for line, text in chunk.lines():
            rows.add(text, line)
    return rows.tables()


# -- the vectorised path -----------------------------------------------------------------


def _fast_rows(
    t: dict[str, pa.Array], lines: npt.NDArray[np.int64], media_root: Path | None
) -> pa.Table:
    has_text = pc.is_valid(t["text"])
    media = pc.if_else(
        pc.is_null(t["media_type"]),
        pc.if_else(has_text, str(MediaType.TEXT), str(MediaType.IMAGE)),
        pc.utf8_lower(t["media_type"]),
    )
    is_text = pc.fill_null(pc.equal(media, str(MediaType.TEXT)), False)
    row_data = t["row_data"]
    uri = row_data
    if media_root is not None:
        relative = pc.invert(pc.match_substring_regex(row_data, _ABSOLUTE))
        joined = pc.binary_join_element_wise(str(media_root), row_data, "/")
        uri = pc.if_else(pc.and_(relative, pc.invert(is_text)), joined, row_data)
    text_only = pc.and_(is_text, pc.invert(has_text))
    null = pa.scalar(None, pa.string())
    return rows_table(
        {
            "line": lines,
            "global_key": t["global_key"],
            "media_type": media,
            "uri": pc.if_else(text_only, null, uri),
            "width": t["width"],
            "height": t["height"],
            "text": pc.if_else(text_only, row_data, t["text"]),
        }
    )


def _fast_metadata(t: dict[str, pa.Array], lines: npt.NDArray[np.int64]) -> pa.Table | None:
    """The metadata of a chunk, or None if a field needs the per-line parser."""
    fields = t["metadata_fields"]
    parents = pc.list_parent_indices(fields).to_numpy(zero_copy_only=False).astype(np.int64)
    items = pc.list_flatten(fields)
    name, num, sval = (pc.struct_field(items, k) for k in ("name", "value", _STR_KEY))
    declared = pc.utf8_lower(pc.struct_field(items, "type"))
    has_num, has_str, has_type = valid(num), valid(sval), valid(declared)
    found = pc.fill_null(pc.index_in(declared, value_set=pa.array(_TYPES)), -2)  # -2: unknown
    codes = np.where(has_type, found.to_numpy(zero_copy_only=False), -1)  # -1: not stated
    number_code, datetime_code = _TYPES.index("number"), _TYPES.index("datetime")
    if (
        not valid(name).all()
        or (has_num == has_str).any()
        or (codes == -2).any()
        or (has_num & (codes >= 0) & (codes != number_code)).any()
        or (has_str & (codes == number_code)).any()
    ):
        return None
    names = pc.dictionary_encode(name).indices.to_numpy(zero_copy_only=False).astype(np.int64)
    pair = np.sort(parents * (len(items) + 1) + names)
    if (pair[1:] == pair[:-1]).any():
        return None  # a field named twice on one row
    # strings without a stated type are datetimes when they read as one
    auto = has_str & ((codes == -1) | (codes == datetime_code))
    micros = np.zeros(len(items), dtype=np.int64)
    is_dt = np.zeros(len(items), dtype=bool)
    # only strings that start like a date are handed to datetime.fromisoformat
    auto &= pc.fill_null(pc.match_substring_regex(sval, _ISO.pattern), False).to_numpy(
        zero_copy_only=False
    )
    if auto.any():
        enc = pc.dictionary_encode(pc.filter(sval, pa.array(auto)))
        ok, us = _datetimes(enc.dictionary)
        idx = enc.indices.to_numpy(zero_copy_only=False)
        where = np.flatnonzero(auto)
        is_dt[where], micros[where] = ok[idx], us[idx]
    if ((codes == datetime_code) & ~is_dt).any():
        return None  # a stated datetime that is not one
    kind = np.where(has_num, number_code, np.where(codes >= 0, codes, 0))
    kind[is_dt] = datetime_code
    as_string = has_str & ~is_dt
    return pa.table(
        {
            "line": lines[parents],
            "name": name,
            "type": pa.DictionaryArray.from_arrays(pa.array(kind), pa.array(_TYPES)).cast(
                pa.string()
            ),
            "str_value": pc.if_else(pa.array(as_string), sval, pa.scalar(None, pa.string())),
            "num_value": num,
            "time_value": pa.array(micros, pa.int64(), mask=~is_dt).cast(pa.timestamp("us")),
        }
    )


def _parse_chunk(
    path: Path, chunk: Chunk, raw: pa.Table | None, media_root: Path | None
) -> tuple[pa.Table, pa.Table]:
    lines = None if raw is None else chunk.row_lines(raw.num_rows)
    if raw is None or lines is None:
        return _parse_lines(path, chunk, media_root)
    t = arrays(raw)
    meta = _fast_metadata(t, lines)
    if meta is None:
        return _parse_lines(path, chunk, media_root)
    return _fast_rows(t, lines, media_root), meta


def _fill_sizes(rows: pa.Table, source: Path) -> pa.Table:
    """Width and height of local image files where the file did not give them."""
    w = rows.column("width").to_numpy(zero_copy_only=False).astype(np.float64)
    h = rows.column("height").to_numpy(zero_copy_only=False).astype(np.float64)
    image = pc.equal(rows.column("media_type"), str(MediaType.IMAGE)).to_numpy()
    need = np.flatnonzero(np.asarray(image, dtype=bool) & (np.isnan(w) | np.isnan(h)))
    if not len(need):
        return rows
    from PIL import Image, UnidentifiedImageError

    uris = rows.column("uri").take(pa.array(need)).to_pylist()
    lines = rows.column("line").take(pa.array(need)).to_pylist()
    for i, uri, line in zip(need, uris, lines, strict=True):
        if uri is None or (re.match(_ABSOLUTE, uri) and not uri.startswith("/")):
            continue  # a URL: not read
        file = Path(uri)
        if not file.is_file():
            continue
        try:
            with Image.open(file) as img:
                width, height = img.size
        except (OSError, UnidentifiedImageError) as exc:
            raise InvalidInputError(
                f"{uri} is not a readable image ({exc})", path=source, line=line, field="row_data"
            ) from None
        w[i] = width if np.isnan(w[i]) else w[i]
        h[i] = height if np.isnan(h[i]) else h[i]
    for col, values in (("width", w), ("height", h)):
        arr = pa.array(values, mask=np.isnan(values)).cast(pa.int32())
        rows = rows.set_column(rows.schema.get_field_index(col), col, arr)
    return rows


def parse_data_rows(path: Path, *, media_root: Path | None = None) -> Parsed:
    """Parse an NDJSON/JSONL file of data rows (see the module doc)."""
    row_tables: list[pa.Table] = []
    metas: list[pa.Table] = []
    for chunk, raw in read_json_chunks(path, _ROW_SCHEMA, prepare=_string_values):
        rows, meta = _parse_chunk(path, chunk, raw, media_root)
        row_tables.append(rows)
        metas.append(meta)
    rows = pa.concat_tables(row_tables) if row_tables else rows_table({"line": []})
    rows = _fill_sizes(rows, path)
    meta_schema = pa.schema([METADATA_SCHEMA.field(c) for c in _META_COLUMNS])
    meta = pa.concat_tables([meta_schema.empty_table(), *(m.cast(meta_schema) for m in metas)])
    row_lines = rows.column("line").to_numpy()
    index = np.searchsorted(row_lines, meta.column("line").to_numpy())
    meta = meta.add_column(1, "row_index", pa.array(index.astype(np.int64)))
    return Parsed(str(path), annotations_table(), rows=rows, metadata=meta)
