"""Labelbox-style NDJSON out: one annotation per line, the inverse of ``ingest.ndjson``.

Each line is ``{"uuid", "dataRow": {"globalKey": key} | {"id": row_id}, "name": class,
<geometry>}`` with one geometry key by kind:

============  ============================================================
bbox          ``"bbox": {"top", "left", "height", "width"}``
polygon       ``"polygon": [{"x", "y"}, ...]`` (one line per part of a
              multi-part polygon, each with its own uuid: ``uuid``, ``uuid-1``, ...)
point         ``"point": {"x", "y"}``
polyline      ``"line": [{"x", "y"}, ...]``
mask          ``"mask": {"rle": {"counts": str, "size": [h, w]}}``
text_span     ``"location": {"start", "end"}`` (Labelbox's ``end`` is inclusive)
radio         ``"answer": {"name"}``
checklist     ``"answer": [{"name"}, ...]``
============  ============================================================

Predictions add ``"confidence"`` and, when present, ``"customMetrics": [{"name",
"value"}]``. An annotation stored without a uuid gets a stable one (a UUID5 of the
annotation's id in its table), so exporting twice writes the same file.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from errorscope.core.types import Kind

__all__ = ["ndjson_records", "stable_uuid", "write_ndjson"]

_NAMESPACE = uuid.UUID("6f0c1f52-9a55-4d7b-9f37-2b1d2d3c5e11")
_NS_BYTES = _NAMESPACE.bytes


def _col(table: pa.Table, name: str) -> list[Any]:
    if name not in table.column_names:
        return [None] * table.num_rows
    values: list[Any] = table.column(name).to_pylist()
    return values


def _xy(flat: list[float]) -> list[dict[str, float]]:
    return [{"x": flat[j], "y": flat[j + 1]} for j in range(0, len(flat) - 1, 2)]


def stable_uuid(scope: str, annotation_id: int) -> str:
    """The uuid given to an annotation stored without one: ``uuid5`` of
    ``"<scope>:<id>"`` in a fixed namespace (computed inline: 4x faster than ``uuid``)."""
    digest = bytearray(hashlib.sha1(_NS_BYTES + f"{scope}:{annotation_id}".encode()).digest())
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


_FIELDS = (
    "id",
    "uuid",
    "data_row_id",
    "row_key",
    "class_name",
    "kind",
    "x1",
    "y1",
    "x2",
    "y2",
    "coords",
    "rle_counts",
    "rle_h",
    "rle_w",
    "span_start",
    "span_end",
    "answers",
    "confidence",
    "custom_metrics",
)


def ndjson_records(annotations: pa.Table, *, scope: str = "labels") -> Iterator[dict[str, Any]]:
    """One record per annotation (per part, for multi-part polygons), lazily: written as
    they come, they never all sit in memory at once.

    ``annotations`` as the store reads them: ``id``, ``uuid``, ``data_row_id``,
    ``row_key``, ``class_name``, ``kind``, the geometry columns and, for predictions,
    ``confidence`` and ``custom_metrics``. ``scope`` names the table the ids come from
    (``"labels"`` or ``"run:<name>"``) for the uuids of annotations stored without one.
    """
    scored = "confidence" in annotations.column_names
    for (
        ann_id,
        uid,
        row_id,
        key,
        name,
        kind,
        x1,
        y1,
        x2,
        y2,
        coords,
        counts,
        rle_h,
        rle_w,
        start,
        end,
        answers,
        conf,
        metrics,
    ) in zip(*(_col(annotations, c) for c in _FIELDS), strict=True):
        rec: dict[str, Any] = {
            "uuid": uid or stable_uuid(scope, ann_id),
            "dataRow": {"globalKey": key} if key is not None else {"id": row_id},
            "name": name,
        }
        if scored:
            rec["confidence"] = conf
            if metrics:
                rec["customMetrics"] = [{"name": k, "value": v} for k, v in metrics]
        if kind == Kind.BBOX:
            rec["bbox"] = {"top": y1, "left": x1, "height": y2 - y1, "width": x2 - x1}
        elif kind == Kind.POLYGON:
            first = rec["uuid"]
            for j, part in enumerate(coords):
                piece = dict(rec, polygon=_xy(part))
                if j:
                    piece["uuid"] = f"{first}-{j}"
                yield piece
            continue
        elif kind == Kind.POINT:
            rec["point"] = {"x": coords[0][0], "y": coords[0][1]}
        elif kind == Kind.POLYLINE:
            rec["line"] = [p for part in coords for p in _xy(part)]
        elif kind == Kind.MASK:
            rec["mask"] = {"rle": {"counts": counts, "size": [rle_h, rle_w]}}
        elif kind == Kind.TEXT_SPAN:
            rec["location"] = {"start": start, "end": end - 1}
        elif kind == Kind.RADIO:
            rec["answer"] = {"name": (answers or [None])[0]}
        elif kind == Kind.CHECKLIST:
            rec["answer"] = [{"name": a} for a in answers or []]
        yield rec


def write_ndjson(out: Path, records: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line with orjson, atomically; returns the line count."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    n = 0
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    try:
        with tmp.open("wb", buffering=1 << 20) as f:
            for rec in records:
                f.write(dumps(rec, option=option))
                n += 1
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return n
