"""Labelbox-style NDJSON annotations: one JSON object per line.

A line names its data row, its class and one geometry::

    {"uuid": "...", "dataRow": {"id": 12} | {"globalKey": "a.jpg"}, "name": "car",
     <geometry>, "confidence": 0.9, "customMetrics": [{"name": "iou", "value": 0.5}]}

Geometries, and the kind they become:

* ``"bbox": {"top", "left", "height", "width"}`` → ``bbox`` (xyxy = left, top,
  left + width, top + height);
* ``"polygon": [{"x", "y"}, ...]`` (3+ points) → ``polygon``; ``"line": [...]`` (2+
  points) → ``polyline``; ``"point": {"x", "y"}`` → ``point``; each as one ``coords`` part;
* ``"mask": {"png": "<base64 PNG>"}`` (non-zero pixels are foreground; with
  ``"colorRGB": [r, g, b]`` only pixels of that colour) or ``"mask": {"rle": {"counts":
  str | [int, ...], "size": [h, w]}}`` (COCO RLE) → ``mask``;
* ``"location": {"start", "end"}`` → ``text_span``. Labelbox's ``end`` is INCLUSIVE
  (their TextEntity allows ``start == end`` for a one-character entity), errorscope's
  ``span_end`` is exclusive: ``span_end = end + 1``;
* ``"answer": {"name": "opt"}`` → ``radio``; ``"answer": [{"name": ...}, ...]`` →
  ``checklist``. A top-level ``answer`` is read only on a line with no other geometry.

``area`` is set for polygons (shoelace) and masks (pixel count) only.
``dataRow.id`` is errorscope's integer data row id; ``dataRow.globalKey`` a global key.
Blank lines are skipped; every table row keeps its true 1-based file line.

Speed: the file is read in chunks of whole lines. Each chunk goes through
``pyarrow.json`` with an explicit schema and its columns are built with numpy and
``pyarrow.compute``. Lines that path does not take (masks, classifications, anything
failing a check) are re-parsed one at a time with orjson by :class:`_Records`, the
reference parser; a chunk that pyarrow refuses outright (malformed JSON, a value of an
unexpected type, an over-long line) goes through it whole. That parser raises the
:class:`~errorscope.errors.InvalidInputError` naming file, line and field.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from errorscope.core.geometry import encode_mask, rle_area, rle_bbox, uncompressed_to_rle
from errorscope.core.perf import no_gc
from errorscope.core.types import ANNOTATION_SCHEMA, Kind
from errorscope.errors import InvalidInputError
from errorscope.ingest.common import Parsed, annotations_table
from errorscope.ingest.lines import (
    Chunk,
    arrays,
    bad_line,
    loads_line,
    number,
    read_json_chunks,
    valid,
)

__all__ = ["parse_ndjson"]

FLUSH_ROWS = 100_000

# -- the per-line (reference) parser -----------------------------------------------------

_GEOMETRIES = ("bbox", "polygon", "point", "line", "mask", "location")
_KNOWN = frozenset(
    {"uuid", "dataRow", "name", "schemaId", "featureId", "confidence", "customMetrics",
     "classifications", "page", "unit", "messageId", "answer", *_GEOMETRIES}
)  # fmt: skip
_COLUMNS = [f.name for f in ANNOTATION_SCHEMA if f.name not in ("iscrowd", "difficult")]
_Fail = Callable[[str | None, str], InvalidInputError]


class _Records:
    """Annotations parsed one line at a time into column lists."""

    def __init__(self, path: Path, scored: bool) -> None:
        self.path = path
        self.scored = scored
        self.cols: dict[str, list[Any]] = {c: [] for c in _COLUMNS}

    def __len__(self) -> int:
        return len(self.cols["line"])

    def table(self) -> pa.Table:
        schema = pa.schema([ANNOTATION_SCHEMA.field(c) for c in _COLUMNS])
        return annotations_table(pa.Table.from_pydict(self.cols, schema=schema))

    def add(self, text: bytes, line: int) -> None:
        obj = loads_line(text, self.path, line)
        rec: dict[str, Any] = {"line": line}

        def fail(field: str | None, message: str) -> InvalidInputError:
            return bad_line(self.path, line, field, message)

        row = obj.get("dataRow")
        if not isinstance(row, dict) or (row.get("id") is None and row.get("globalKey") is None):
            raise fail("dataRow", 'missing dataRow: give {"id": <int>} or {"globalKey": "..."}')
        row_id, key = row.get("id"), row.get("globalKey")
        if row_id is not None and (not isinstance(row_id, int) or isinstance(row_id, bool)):
            raise fail(
                "dataRow",
                f"dataRow.id must be an errorscope data row id (an integer), got {row_id!r}; "
                "name rows by globalKey instead",
            )
        if key is not None and not isinstance(key, str):
            raise fail("dataRow", f"dataRow.globalKey must be a string, got {key!r}")
        rec["row_id"], rec["row_key"] = row_id, key
        name = obj.get("name")
        if not isinstance(name, str):
            raise fail("name", "missing class name" if name is None else "name must be a string")
        rec["class_name"] = name
        uuid = obj.get("uuid")
        if uuid is not None and not isinstance(uuid, str):
            raise fail("uuid", f"uuid must be a string, got {uuid!r}")
        rec["uuid"] = uuid
        if self.scored and obj.get("confidence") is not None:
            conf = number(obj["confidence"])
            if conf is None:
                raise fail("confidence", f"confidence must be a number, got {obj['confidence']!r}")
            rec["confidence"] = conf
        rec["custom_metrics"] = self._metrics(obj.get("customMetrics"), fail)
        present = [g for g in _GEOMETRIES if obj.get(g) is not None]
        if len(present) > 1:
            raise fail(present[1], f"more than one geometry on a line: {', '.join(present)}")
        if present:
            getattr(self, "_" + present[0])(obj[present[0]], rec, fail)
        elif obj.get("answer") is not None:
            self._answer(obj["answer"], rec, fail)
        else:
            unknown = [k for k in obj if k not in _KNOWN]
            raise fail(
                unknown[0] if unknown else "geometry",
                (f"unknown geometry {unknown[0]!r}" if unknown else "no geometry")
                + "; expected one of bbox, polygon, point, line, mask, location, answer",
            )
        for col, values in self.cols.items():
            values.append(rec.get(col))

    @staticmethod
    def _metrics(value: Any, fail: _Fail) -> list[tuple[str, float]] | None:
        if value is None:
            return None
        out: dict[str, float] = {}
        if isinstance(value, list):
            for m in value:
                if not isinstance(m, dict) or not isinstance(m.get("name"), str):
                    break
                v = number(m.get("value"))
                if v is None or m["name"] in out:
                    break
                out[m["name"]] = v
            else:
                return list(out.items())
        raise fail(
            "customMetrics",
            'customMetrics must be a list of {"name": str, "value": number} with distinct names',
        )

    @staticmethod
    def _bbox(b: Any, rec: dict[str, Any], fail: _Fail) -> None:
        keys = ("top", "left", "height", "width")
        if not isinstance(b, dict) or any(k not in b for k in keys):
            raise fail("bbox", "bbox must be an object with top, left, height and width")
        top, left, h, w = (number(b[k]) for k in keys)
        if top is None or left is None or h is None or w is None:
            raise fail("bbox", f"bbox values must be numbers, got {b!r}")
        if w < 0 or h < 0:
            raise fail("bbox", f"bbox has negative size: width={w}, height={h}")
        rec.update(kind=str(Kind.BBOX), x1=left, y1=top, x2=left + w, y2=top + h)

    @staticmethod
    def _points(pts: Any, field: str, least: int, fail: _Fail) -> list[float]:
        flat: list[float] = []
        if isinstance(pts, list) and len(pts) >= least:
            for p in pts:
                x, y = (number(p.get(k)) for k in "xy") if isinstance(p, dict) else (None, None)
                if x is None or y is None:
                    break
                flat += (x, y)
            else:
                return flat
        raise fail(field, f'{field} must be a list of at least {least} {{"x", "y"}} points')

    def _spatial(self, kind: Kind, flat: list[float], rec: dict[str, Any]) -> None:
        xy = np.asarray(flat, dtype=np.float64).reshape(-1, 2)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        rec.update(kind=str(kind), coords=[flat], x1=lo[0], y1=lo[1], x2=hi[0], y2=hi[1])

    def _polygon(self, pts: Any, rec: dict[str, Any], fail: _Fail) -> None:
        flat = self._points(pts, "polygon", 3, fail)
        self._spatial(Kind.POLYGON, flat, rec)
        xy = np.asarray(flat, dtype=np.float64)
        rec["area"] = float(shoelace(xy[0::2], xy[1::2], np.zeros(1, dtype=np.int64))[0])

    def _line(self, pts: Any, rec: dict[str, Any], fail: _Fail) -> None:
        self._spatial(Kind.POLYLINE, self._points(pts, "line", 2, fail), rec)

    def _point(self, p: Any, rec: dict[str, Any], fail: _Fail) -> None:
        self._spatial(Kind.POINT, self._points([p], "point", 1, fail), rec)

    @staticmethod
    def _location(loc: Any, rec: dict[str, Any], fail: _Fail) -> None:
        start = loc.get("start") if isinstance(loc, dict) else None
        end = loc.get("end") if isinstance(loc, dict) else None
        if not (_is_int(start) and _is_int(end)):
            raise fail("location", 'location must be {"start": int, "end": int}')
        if start < 0 or end < start:
            raise fail(
                "location", f"location needs 0 <= start <= end (end inclusive), got {start}..{end}"
            )
        rec.update(kind=str(Kind.TEXT_SPAN), span_start=start, span_end=end + 1)

    @staticmethod
    def _answer(answer: Any, rec: dict[str, Any], fail: _Fail) -> None:
        if isinstance(answer, dict) and isinstance(answer.get("name"), str):
            rec.update(kind=str(Kind.RADIO), answers=[answer["name"]])
            return
        if (
            isinstance(answer, list)
            and answer
            and all(isinstance(a, dict) and isinstance(a.get("name"), str) for a in answer)
        ):
            rec.update(kind=str(Kind.CHECKLIST), answers=[a["name"] for a in answer])
            return
        raise fail(
            "answer",
            'answer must be {"name": str} (radio) or a non-empty list of them (checklist); '
            "free-text answers are not supported",
        )

    def _mask(self, mask: Any, rec: dict[str, Any], fail: _Fail) -> None:
        if isinstance(mask, dict) and isinstance(mask.get("png"), str):
            counts, h, w = _png_rle(mask["png"], mask.get("colorRGB"), fail)
        elif isinstance(mask, dict) and isinstance(mask.get("rle"), dict):
            counts, h, w = _rle(mask["rle"], fail)
        else:
            raise fail(
                "mask",
                'mask must be {"png": "<base64 PNG>"} or {"rle": {"counts", "size": [h, w]}}'
                " (mask URLs are not fetched)",
            )
        x1, y1, x2, y2 = rle_bbox(counts, h, w)
        rec.update(kind=str(Kind.MASK), rle_counts=counts, rle_h=h, rle_w=w)
        rec.update(x1=x1, y1=y1, x2=x2, y2=y2, area=rle_area(counts, h, w))


def shoelace(
    xs: npt.NDArray[np.float64], ys: npt.NDArray[np.float64], starts: npt.NDArray[Any]
) -> npt.NDArray[np.float64]:
    """Area of each polygon; polygon ``i`` is points ``starts[i]`` up to the next start."""
    nxt = np.arange(1, len(xs) + 1)
    nxt[np.append(starts[1:], len(xs)) - 1] = starts  # after a polygon's last point: its first
    out: npt.NDArray[np.float64] = 0.5 * np.abs(
        np.add.reduceat(xs * ys[nxt] - xs[nxt] * ys, starts)
    )
    return out


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _png_rle(data: str, color: Any, fail: _Fail) -> tuple[str, int, int]:
    from PIL import Image, UnidentifiedImageError

    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise fail("mask", "mask png is not valid base64") from None
    try:
        with Image.open(io.BytesIO(raw)) as img:
            if img.format != "PNG":
                raise fail("mask", f"mask png is a {img.format} image, not a PNG")
            img.load()
            if color is not None:
                if not (isinstance(color, list) and len(color) == 3):
                    raise fail("mask", "colorRGB must be [r, g, b]")
                rgb = np.asarray(img.convert("RGB"))
                fg = np.all(rgb == np.asarray(color, dtype=np.int64), axis=2)
            elif img.mode in ("RGBA", "LA", "PA"):
                arr = np.asarray(img.convert("RGBA"))
                fg = arr[..., :3].any(axis=2) & (arr[..., 3] != 0)
            elif img.mode == "RGB":
                fg = np.asarray(img).any(axis=2)
            else:
                fg = np.asarray(img) != 0
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise fail("mask", f"mask png is not a readable PNG image ({exc})") from None
    h, w = fg.shape
    return encode_mask(fg), int(h), int(w)


def _rle_total(counts: str) -> int | None:
    """Pixels covered by a compressed COCO RLE string (None if it is not one)."""
    values: list[int] = []
    total, p, data = 0, 0, counts.encode("ascii", "replace")
    while p < len(data):
        x, k, more = 0, 0, True
        while more:
            if p >= len(data) or not 48 <= data[p] < 112:
                return None
            c = data[p] - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(values) > 2:
            x += values[-2]
        if x < 0:
            return None
        values.append(x)
        total += x
    return total


def _rle(rle: dict[str, Any], fail: _Fail) -> tuple[str, int, int]:
    size = rle.get("size")
    counts = rle.get("counts")
    if not (isinstance(size, list) and len(size) == 2 and all(_is_int(v) and v > 0 for v in size)):
        raise fail("mask", "mask rle size must be [height, width], positive integers")
    h, w = size
    if isinstance(counts, list):
        if not all(_is_int(v) and v >= 0 for v in counts):
            raise fail("mask", "uncompressed rle counts must be non-negative integers")
        total: int | None = sum(counts)
    elif isinstance(counts, str):
        total = _rle_total(counts)
    else:
        raise fail("mask", "mask rle counts must be a string or a list of integers")
    if total != h * w:
        raise fail(
            "mask",
            "mask rle counts are not a valid COCO RLE"
            if total is None
            else f"mask rle covers {total} pixels but its size is {h}x{w}",
        )
    return (uncompressed_to_rle(counts, h, w) if isinstance(counts, list) else counts), h, w


def _parse_lines(path: Path, lines: Iterable[tuple[int, bytes]], scored: bool) -> list[pa.Table]:
    tables: list[pa.Table] = []
    records = _Records(path, scored)
    with no_gc():
        for line, text in lines:
            records.add(text, line)
            if len(records) >= FLUSH_ROWS:
                tables.append(records.table())
                records = _Records(path, scored)
    if len(records):
        tables.append(records.table())
    return tables


# -- the vectorised path -----------------------------------------------------------------

_F64 = pa.float64()
_XY = pa.struct([("x", _F64), ("y", _F64)])
_FAST_SCHEMA = pa.schema(
    [
        ("uuid", pa.string()),
        ("dataRow", pa.struct([("id", pa.int64()), ("globalKey", pa.string())])),
        ("name", pa.string()),
        ("bbox", pa.struct([(k, _F64) for k in ("top", "left", "height", "width")])),
        ("polygon", pa.list_(_XY)),
        ("line", pa.list_(_XY)),
        ("point", _XY),
        ("location", pa.struct([("start", pa.int64()), ("end", pa.int64())])),
        ("mask", pa.struct([("png", pa.string())])),  # only to see that a mask is there
        ("confidence", _F64),
        ("customMetrics", pa.list_(pa.struct([("name", pa.string()), ("value", _F64)]))),
    ]
)
_KIND_CODES = [Kind.BBOX, Kind.POLYGON, Kind.POINT, Kind.POLYLINE, Kind.TEXT_SPAN]


def _f64(arr: pa.Array) -> npt.NDArray[np.float64]:
    """Values as floats, NaN where null."""
    out: npt.NDArray[np.float64] = np.asarray(arr.to_numpy(zero_copy_only=False), dtype=np.float64)
    return out


def _field(arr: pa.Array, name: str) -> pa.Array:
    return pc.struct_field(arr, name)


def _points(lists: pa.Array) -> tuple[npt.NDArray[np.int64], pa.Array]:
    """Parent row and ``{x, y}`` struct of every item of a list column."""
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False).astype(np.int64)
    return parents, pc.list_flatten(lists)


def _slow_rows(t: dict[str, pa.Array], n: int) -> npt.NDArray[np.bool_]:
    """Rows the vectorised path does not build: masks, classifications, anything wrong."""
    has = {g: valid(t[g]) for g in _GEOMETRIES}
    slow = sum(has[g].astype(np.int8) for g in _GEOMETRIES) != 1
    slow |= has["mask"] | ~valid(t["name"])
    slow |= ~(valid(_field(t["dataRow"], "id")) | valid(_field(t["dataRow"], "globalKey")))
    top, left, h, w = (_f64(_field(t["bbox"], k)) for k in ("top", "left", "height", "width"))
    with np.errstate(invalid="ignore"):
        slow |= has["bbox"] & (np.isnan(top + left + h + w) | (h < 0) | (w < 0))
    slow |= has["point"] & np.isnan(_f64(_field(t["point"], "x")) + _f64(_field(t["point"], "y")))
    for col, least in (("polygon", 3), ("line", 2)):
        count = pc.fill_null(pc.list_value_length(t[col]), 0).to_numpy(zero_copy_only=False)
        slow |= has[col] & (count < least)
        parents, pts = _points(t[col])
        slow[parents[np.isnan(_f64(_field(pts, "x")) + _f64(_field(pts, "y")))]] = True
    start, end = _f64(_field(t["location"], "start")), _f64(_field(t["location"], "end"))
    with np.errstate(invalid="ignore"):
        slow |= has["location"] & (np.isnan(start + end) | (start < 0) | (end < start))
    metrics = t["customMetrics"]
    if metrics.null_count < n:
        parents, items = _points(metrics)
        names = _field(items, "name")
        slow[parents[~(valid(names) & valid(_field(items, "value")))]] = True
        codes = pc.dictionary_encode(pc.fill_null(names, "")).indices
        pair = parents * (len(items) + 1) + codes.to_numpy(zero_copy_only=False)
        ordered = np.sort(pair)
        twice = ordered[1:][ordered[1:] == ordered[:-1]]
        if len(twice):
            slow[parents[np.isin(pair, twice)]] = True  # a metric named twice on a row
    return slow


def _coords(t: dict[str, pa.Array], n: int, cols: dict[str, Any], poly: Any) -> None:
    """``coords``, bounding box and polygon area of the polygon, line and point rows."""
    parts = [_points(t["polygon"]), _points(t["line"])]
    at = np.flatnonzero(valid(t["point"]))
    parts.append((at, t["point"].take(pa.array(at))))
    rows = np.concatenate([p[0] for p in parts])
    if not len(rows):
        return
    order = np.argsort(rows, kind="stable")
    xs = np.concatenate([_f64(_field(p[1], "x")) for p in parts])[order]
    ys = np.concatenate([_f64(_field(p[1], "y")) for p in parts])[order]
    counts = np.bincount(rows, minlength=n)
    has = counts > 0
    flat = np.empty(2 * len(xs))
    flat[0::2], flat[1::2] = xs, ys
    inner_off = np.zeros(int(has.sum()) + 1, dtype=np.int32)
    np.cumsum(2 * counts[has], out=inner_off[1:])
    inner = pa.ListArray.from_arrays(pa.array(inner_off), pa.array(flat))
    outer_off = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(has, out=outer_off[1:])
    cols["coords"] = pa.ListArray.from_arrays(pa.array(outer_off), inner, mask=pa.array(~has))
    starts = inner_off[:-1] // 2
    idx = np.flatnonzero(has)
    cols["x1"][idx] = np.minimum.reduceat(xs, starts)
    cols["y1"][idx] = np.minimum.reduceat(ys, starts)
    cols["x2"][idx] = np.maximum.reduceat(xs, starts)
    cols["y2"][idx] = np.maximum.reduceat(ys, starts)
    area = shoelace(xs, ys, starts)
    keep = poly[idx]
    cols["area"][idx[keep]] = area[keep]


def _fast_table(t: dict[str, pa.Array], lines: npt.NDArray[np.int64], scored: bool) -> pa.Table:
    n = len(lines)
    geo = {g: valid(t[g]) for g in _GEOMETRIES}
    kind = np.zeros(n, dtype=np.int8)
    for code, col in enumerate(("bbox", "polygon", "point", "line", "location")):
        kind[geo[col]] = code
    nan = np.full(n, np.nan)
    cols: dict[str, Any] = {
        "line": lines,
        "row_id": _field(t["dataRow"], "id"),
        "row_key": _field(t["dataRow"], "globalKey"),
        "uuid": t["uuid"],
        "class_name": t["name"],
        "kind": pa.DictionaryArray.from_arrays(
            pa.array(kind), pa.array([str(k) for k in _KIND_CODES])
        ).cast(pa.string()),
        **{c: nan.copy() for c in ("x1", "y1", "x2", "y2", "area")},
    }
    top, left, h, w = (_f64(_field(t["bbox"], k)) for k in ("top", "left", "height", "width"))
    b = geo["bbox"]
    cols["x1"][b], cols["y1"][b] = left[b], top[b]
    cols["x2"][b], cols["y2"][b] = left[b] + w[b], top[b] + h[b]
    _coords(t, n, cols, geo["polygon"])
    if geo["location"].any():
        cols["span_start"] = _field(t["location"], "start")
        cols["span_end"] = pc.add(_field(t["location"], "end"), 1)  # Labelbox end is inclusive
    for c in ("x1", "y1", "x2", "y2", "area"):
        cols[c] = pa.array(cols[c], mask=np.isnan(cols[c]))
    if scored:
        cols["confidence"] = t["confidence"]
    metrics = t["customMetrics"]
    if metrics.null_count < n:
        items = metrics.values
        cols["custom_metrics"] = pa.MapArray.from_arrays(
            metrics.offsets,
            _field(items, "name"),
            _field(items, "value"),
            mask=metrics.is_null(),
        )
    return annotations_table(cols)


def _parse_chunk(path: Path, chunk: Chunk, raw: pa.Table | None, scored: bool) -> list[pa.Table]:
    lines = None if raw is None else chunk.row_lines(raw.num_rows)
    if raw is None or lines is None:
        return _parse_lines(path, chunk.lines(), scored)
    slow = _slow_rows(arrays(raw), raw.num_rows)
    if not slow.any():
        return [_fast_table(arrays(raw), lines, scored)]
    tables = _parse_lines(
        path, zip(lines[slow].tolist(), chunk.texts(lines[slow]), strict=True), scored
    )
    if not slow.all():
        tables.append(_fast_table(arrays(raw.filter(pa.array(~slow))), lines[~slow], scored))
    merged = pa.concat_tables(tables)
    return [merged.take(pc.sort_indices(merged, [("line", "ascending")]))]


def parse_ndjson(path: Path, *, scored: bool = False) -> Parsed:
    """Parse a Labelbox-style NDJSON annotation file (see the module doc).

    Ground truth (``scored=False``) drops any ``confidence``; classes are created from
    the annotations' names and kinds when they are written, so ``classes`` stays empty.
    """
    tables: list[pa.Table] = []
    for chunk, raw in read_json_chunks(path, _FAST_SCHEMA):
        tables.extend(_parse_chunk(path, chunk, raw, scored))
    table = pa.concat_tables(tables) if tables else annotations_table()
    return Parsed(str(path), table)
