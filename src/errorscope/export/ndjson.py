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

import os
import uuid
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from errorscope.core.types import Kind

__all__ = ["ndjson_records", "stable_uuid", "write_ndjson"]

_NAMESPACE = uuid.UUID("6f0c1f52-9a55-4d7b-9f37-2b1d2d3c5e11")


def _col(table: pa.Table, name: str) -> list[Any]:
    if name not in table.column_names:
        return [None] * table.num_rows
    values: list[Any] = table.column(name).to_pylist()
    return values


def _xy(flat: list[float]) -> list[dict[str, float]]:
    return [{"x": flat[j], "y": flat[j + 1]} for j in range(0, len(flat) - 1, 2)]


def stable_uuid(scope: str, annotation_id: int) -> str:
    """The uuid given to an annotation stored without one."""
    return str(uuid.uuid5(_NAMESPACE, f"{scope}:{annotation_id}"))


def ndjson_records(annotations: pa.Table, *, scope: str = "labels") -> list[dict[str, Any]]:
    """One record per annotation (per part, for multi-part polygons).

    ``annotations`` as the store reads them: ``id``, ``uuid``, ``data_row_id``,
    ``row_key``, ``class_name``, ``kind``, the geometry columns and, for predictions,
    ``confidence`` and ``custom_metrics``. ``scope`` names the table the ids come from
    (``"labels"`` or ``"run:<name>"``) for the uuids of annotations stored without one.
    """
    cols = {
        c: _col(annotations, c)
        for c in (
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
    }
    scored = "confidence" in annotations.column_names
    out: list[dict[str, Any]] = []
    for i in range(annotations.num_rows):
        uid = cols["uuid"][i] or stable_uuid(scope, int(cols["id"][i]))
        key = cols["row_key"][i]
        rec: dict[str, Any] = {
            "uuid": uid,
            "dataRow": {"globalKey": key} if key is not None else {"id": cols["data_row_id"][i]},
            "name": cols["class_name"][i],
        }
        if scored:
            rec["confidence"] = cols["confidence"][i]
            metrics = cols["custom_metrics"][i]
            if metrics:
                rec["customMetrics"] = [{"name": k, "value": v} for k, v in metrics]
        kind = cols["kind"][i]
        if kind == Kind.POLYGON:
            parts = cols["coords"][i]
            for j, part in enumerate(parts):
                piece = dict(rec, polygon=_xy(part))
                if j:
                    piece["uuid"] = f"{uid}-{j}"
                out.append(piece)
            continue
        if kind == Kind.BBOX:
            x1, y1, x2, y2 = (cols[c][i] for c in ("x1", "y1", "x2", "y2"))
            rec["bbox"] = {"top": y1, "left": x1, "height": y2 - y1, "width": x2 - x1}
        elif kind == Kind.POINT:
            flat = cols["coords"][i][0]
            rec["point"] = {"x": flat[0], "y": flat[1]}
        elif kind == Kind.POLYLINE:
            rec["line"] = [p for part in cols["coords"][i] for p in _xy(part)]
        elif kind == Kind.MASK:
            size = [cols["rle_h"][i], cols["rle_w"][i]]
            rec["mask"] = {"rle": {"counts": cols["rle_counts"][i], "size": size}}
        elif kind == Kind.TEXT_SPAN:
            rec["location"] = {"start": cols["span_start"][i], "end": cols["span_end"][i] - 1}
        elif kind == Kind.RADIO:
            rec["answer"] = {"name": (cols["answers"][i] or [None])[0]}
        elif kind == Kind.CHECKLIST:
            rec["answer"] = [{"name": a} for a in cols["answers"][i] or []]
        out.append(rec)
    return out


def write_ndjson(out: Path, records: list[dict[str, Any]]) -> None:
    """Write one JSON object per line with orjson, atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as f:
            for rec in records:
                f.write(orjson.dumps(rec, option=orjson.OPT_APPEND_NEWLINE))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
