"""The vocabulary of the data model and the columnar contract between layers.

Internally there is one representation per annotation kind:

* boxes, and the bounding box of every spatial annotation: absolute-pixel ``x1, y1,
  x2, y2`` floats (xyxy, origin top-left, no ``+1``);
* polygons and polylines: ``coords``, a list of parts, each a flat ``[x0, y0, x1, y1,
  ...]`` list in absolute pixels; a point is one part with one ``x, y`` pair;
* masks: COCO run-length encoding, compressed string ``rle_counts`` plus ``rle_h``,
  ``rle_w`` (the mask size, which must equal the image size);
* text spans: ``[span_start, span_end)`` character offsets into the row's text;
* radio and checklist classifications: ``answers``, a list of option names.

``ANNOTATION_SCHEMA`` is the Arrow schema that every importer produces and the store
consumes: importers never talk SQL, the store never parses files.
"""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa

__all__ = [
    "ANNOTATION_SCHEMA",
    "DATA_ROW_SCHEMA",
    "METADATA_SCHEMA",
    "SPATIAL_KINDS",
    "Kind",
    "MediaType",
    "MetadataType",
    "RunStatus",
    "Split",
    "kind_family",
]


class Kind(StrEnum):
    """The kind of an ontology class (its annotation tool)."""

    BBOX = "bbox"
    POLYGON = "polygon"
    MASK = "mask"
    POINT = "point"
    POLYLINE = "polyline"
    TEXT_SPAN = "text_span"
    RADIO = "radio"
    CHECKLIST = "checklist"


SPATIAL_KINDS = frozenset({Kind.BBOX, Kind.POLYGON, Kind.MASK, Kind.POINT, Kind.POLYLINE})


def kind_family(kind: str) -> str:
    """``"spatial"``, ``"text"`` or ``"classification"``: kinds of one family may share a class.

    A COCO class, for example, has boxes and polygons and masks; it may not also have
    text spans.
    """
    if kind in SPATIAL_KINDS:
        return "spatial"
    if kind == Kind.TEXT_SPAN:
        return "text"
    return "classification"


class MediaType(StrEnum):
    IMAGE = "image"
    TEXT = "text"


class MetadataType(StrEnum):
    STRING = "string"
    NUMBER = "number"
    DATETIME = "datetime"
    ENUM = "enum"


class Split(StrEnum):
    TRAIN = "train"
    VALID = "valid"
    TEST = "test"
    UNASSIGNED = "unassigned"


class RunStatus(StrEnum):
    CREATED = "created"
    RUNNING = "running"
    COMPLETE = "complete"
    FAILED = "failed"


#: One annotation per row. ``line`` is where the annotation came from in its source
#: file (1-based; used only for error messages, never stored). A data row is named by
#: ``row_id`` (errorscope's integer id) or ``row_key`` (its global key): exactly one.
ANNOTATION_SCHEMA = pa.schema(
    [
        pa.field("line", pa.int64()),
        pa.field("row_id", pa.int64()),
        pa.field("row_key", pa.string()),
        pa.field("uuid", pa.string()),
        pa.field("class_name", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("x1", pa.float64()),
        pa.field("y1", pa.float64()),
        pa.field("x2", pa.float64()),
        pa.field("y2", pa.float64()),
        pa.field("coords", pa.list_(pa.list_(pa.float64()))),
        pa.field("rle_counts", pa.string()),
        pa.field("rle_h", pa.int32()),
        pa.field("rle_w", pa.int32()),
        pa.field("span_start", pa.int32()),
        pa.field("span_end", pa.int32()),
        pa.field("answers", pa.list_(pa.string())),
        pa.field("area", pa.float64()),
        pa.field("iscrowd", pa.bool_()),
        pa.field("difficult", pa.bool_()),
        pa.field("confidence", pa.float64()),
        pa.field("custom_metrics", pa.map_(pa.string(), pa.float64())),
    ]
)

#: One data row per row. ``global_key`` is optional but unique within the workspace.
DATA_ROW_SCHEMA = pa.schema(
    [
        pa.field("line", pa.int64()),
        pa.field("global_key", pa.string()),
        pa.field("media_type", pa.string()),
        pa.field("uri", pa.string()),
        pa.field("width", pa.int32()),
        pa.field("height", pa.int32()),
        pa.field("text", pa.string()),
    ]
)

#: Typed metadata, one value per row: ``row_index`` points into the data-row table it
#: travels with. Exactly one of the value columns is set, chosen by ``type``.
METADATA_SCHEMA = pa.schema(
    [
        pa.field("line", pa.int64()),
        pa.field("row_index", pa.int64()),
        pa.field("name", pa.string()),
        pa.field("type", pa.string()),
        pa.field("str_value", pa.string()),
        pa.field("num_value", pa.float64()),
        pa.field("time_value", pa.timestamp("us")),
    ]
)
