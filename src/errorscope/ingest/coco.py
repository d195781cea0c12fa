"""COCO: ground truth, full COCO files with scores, and the results-list form.

* ground truth: ``images`` become data rows (global key = ``file_name``), ``categories``
  become classes, ``annotations`` become labels (bbox, polygon or RLE ``segmentation``,
  ``area``, ``iscrowd``);
* predictions, full form: a COCO file whose annotations carry ``score``; rows are matched
  by image ``file_name`` and classes by category ``name``;
* predictions, results-list form: ``[{"image_id", "category_id", "bbox"|"segmentation",
  "score"}, ...]`` with the ids of a COCO ground-truth file (``gt``).

JSON positions are reported as paths (``annotations[12].bbox``); the ``line`` column of
the annotation table holds the 1-based position in the annotation array.

Files of any size are read through :mod:`errorscope.ingest.jsonscan` in bounded memory;
batches of plain boxes take a vectorised path, others (polygons, masks) a per-item one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from errorscope.core.geometry import polygon_bbox, rle_bbox, uncompressed_to_rle, xywh_to_xyxy
from errorscope.core.progress import report
from errorscope.core.types import Kind, MediaType
from errorscope.errors import InvalidInputError
from errorscope.ingest.common import Parsed, annotations_table, rows_table
from errorscope.ingest.jsonscan import Batch, Scan, iter_batches, load_value, scan

__all__ = ["parse_coco", "parse_coco_results"]


def _need(obj: Any, key: str, where: str, path: Path) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InvalidInputError("missing", path=path, location=where, field=key)
    return obj[key]


def _images(items: Any, path: Path) -> dict[Any, dict[str, Any]]:
    if not isinstance(items, list):
        raise InvalidInputError("missing or not a list", path=path, location="$", field="images")
    images: dict[Any, dict[str, Any]] = {}
    for i, img in enumerate(items):
        where = f"images[{i}]"
        image_id = _need(img, "id", where, path)
        _need(img, "file_name", where, path)
        if image_id in images:
            raise InvalidInputError(
                f"duplicate image id {image_id!r}", path=path, location=where, field="id"
            )
        images[image_id] = img
    return images


def _categories(items: Any, path: Path) -> dict[Any, str]:
    if not isinstance(items, list):
        raise InvalidInputError(
            "missing or not a list", path=path, location="$", field="categories"
        )
    cats: dict[Any, str] = {}
    for i, cat in enumerate(items):
        where = f"categories[{i}]"
        cid = _need(cat, "id", where, path)
        if cid in cats:
            raise InvalidInputError(
                f"duplicate category id {cid!r}", path=path, location=where, field="id"
            )
        cats[cid] = str(_need(cat, "name", where, path))
    return cats


def _annotation_columns(
    anns: list[Any],
    images: dict[Any, dict[str, Any]],
    cats: dict[Any, str],
    path: Path,
    *,
    array: str,
    scored: bool,
    offset: int = 0,
) -> dict[str, Any]:
    n = len(anns)
    cols: dict[str, list[Any]] = {
        k: [None] * n
        for k in (
            "uuid",
            "row_key",
            "class_name",
            "kind",
            "coords",
            "rle_counts",
            "rle_h",
            "rle_w",
            "area",
            "iscrowd",
            "confidence",
        )
    }
    boxes = np.full((n, 4), np.nan)
    for i, ann in enumerate(anns):
        where = f"{array}[{offset + i}]"
        if not isinstance(ann, dict):
            raise InvalidInputError("annotation is not an object", path=path, location=where)
        image_id = _need(ann, "image_id", where, path)
        img = images.get(image_id)
        if img is None:
            raise InvalidInputError(
                f"unknown image_id {image_id!r}", path=path, location=where, field="image_id"
            )
        cat = cats.get(_need(ann, "category_id", where, path))
        if cat is None:
            raise InvalidInputError(
                f"unknown category_id {ann['category_id']!r}",
                path=path,
                location=where,
                field="category_id",
            )
        cols["row_key"][i] = img["file_name"]
        cols["class_name"][i] = cat
        if "id" in ann:
            cols["uuid"][i] = str(ann["id"])
        cols["iscrowd"][i] = bool(ann.get("iscrowd", 0))
        cols["area"][i] = ann.get("area")
        if scored:
            cols["confidence"][i] = _need(ann, "score", where, path)
        seg = ann.get("segmentation")
        kind = Kind.BBOX
        if isinstance(seg, list) and seg:
            kind = Kind.POLYGON
            try:
                parts = [[float(v) for v in part] for part in seg]
            except (TypeError, ValueError):
                raise InvalidInputError(
                    "polygon must be lists of numbers",
                    path=path,
                    location=where,
                    field="segmentation",
                ) from None
            if any(len(p) < 6 or len(p) % 2 for p in parts):
                raise InvalidInputError(
                    "each polygon needs at least 3 x, y pairs",
                    path=path,
                    location=where,
                    field="segmentation",
                )
            cols["coords"][i] = parts
            if "bbox" not in ann:
                x1, y1, x2, y2 = polygon_bbox(parts)
                boxes[i] = (x1, y1, x2 - x1, y2 - y1)
        elif isinstance(seg, dict):
            kind = Kind.MASK
            size = _need(seg, "size", where + ".segmentation", path)
            counts = _need(seg, "counts", where + ".segmentation", path)
            h, w = int(size[0]), int(size[1])
            cols["rle_h"][i], cols["rle_w"][i] = h, w
            cols["rle_counts"][i] = (
                uncompressed_to_rle(counts, h, w) if isinstance(counts, list) else str(counts)
            )
        cols["kind"][i] = str(kind)
        bbox = ann.get("bbox")
        if bbox is not None:
            if not isinstance(bbox, list) or len(bbox) != 4:
                raise InvalidInputError(
                    "bbox must be [x, y, width, height]", path=path, location=where, field="bbox"
                )
            try:
                boxes[i] = [float(v) for v in bbox]
            except (TypeError, ValueError):
                raise InvalidInputError(
                    "bbox must hold numbers", path=path, location=where, field="bbox"
                ) from None
            if boxes[i, 2] < 0 or boxes[i, 3] < 0:
                raise InvalidInputError(
                    f"negative box size {bbox}", path=path, location=where, field="bbox"
                )
        elif kind == Kind.BBOX:
            raise InvalidInputError(
                "annotation has neither bbox nor segmentation",
                path=path,
                location=where,
                field="bbox",
            )
    if n and "mask" in cols["kind"]:
        _fill_mask_boxes(boxes, cols)
    xyxy = xywh_to_xyxy(boxes)
    return {
        **cols,
        "line": np.arange(offset + 1, offset + n + 1, dtype=np.int64),
        "x1": xyxy[:, 0],
        "y1": xyxy[:, 1],
        "x2": xyxy[:, 2],
        "y2": xyxy[:, 3],
    }


def _fill_mask_boxes(boxes: np.ndarray[Any, Any], cols: dict[str, list[Any]]) -> None:
    for i in np.flatnonzero(np.isnan(boxes[:, 0])):
        if cols["rle_counts"][i] is not None:
            x1, y1, x2, y2 = rle_bbox(cols["rle_counts"][i], cols["rle_h"][i], cols["rle_w"][i])
            boxes[i] = (x1, y1, x2 - x1, y2 - y1)


class _Lookup:
    """Vectorised id → position maps for images and categories.

    Integer ids that are dense enough (the usual COCO numbering) are looked up through a
    numpy table, O(1) per annotation; other ids through Arrow's hash-based ``index_in``.
    """

    def __init__(self, images: dict[Any, dict[str, Any]], cats: dict[Any, str]) -> None:
        self.image_ids = pa.array(list(images))
        self.image_keys = pa.array([str(im["file_name"]) for im in images.values()])
        self.cat_ids = pa.array(list(cats))
        self.cat_names = pa.array(list(cats.values()))
        self.images, self.cats = images, cats
        self._tables = {
            id(self.image_ids): _dense_table(self.image_ids),
            id(self.cat_ids): _dense_table(self.cat_ids),
        }

    def schema(self, id_type: pa.DataType) -> pa.Schema:
        """The full Arrow schema of a plain-box annotation, ``id`` typed ``id_type``."""
        return pa.schema(
            [
                ("id", id_type),
                ("image_id", self.image_ids.type),
                ("category_id", self.cat_ids.type),
                *_BOX_FIELDS,
            ]
        )

    def index(self, values: pa.ChunkedArray, value_set: pa.Array) -> pa.Array:
        """Position of each value in ``value_set`` (null where absent)."""
        table = self._tables[id(value_set)]
        if table is not None and pa.types.is_integer(values.type):
            v = values.to_numpy()
            hit = (v >= 0) & (v < len(table))
            pos = np.where(hit, table[np.where(hit, v, 0)], -1)
            return pa.array(pos, mask=pos < 0)
        return pc.index_in(values, value_set=value_set)


def _dense_table(ids: pa.Array) -> npt.NDArray[np.int64] | None:
    if not pa.types.is_integer(ids.type) or len(ids) == 0:
        return None
    v = ids.to_numpy()
    if v.min() < 0 or v.max() > 4 * len(v) + 1024:
        return None
    table = np.full(int(v.max()) + 1, -1, dtype=np.int64)
    table[v] = np.arange(len(v))
    return table


_BOX_FIELDS = [
    ("bbox", pa.list_(pa.float64())),
    ("area", pa.float64()),
    ("iscrowd", pa.int64()),
    ("score", pa.float64()),
]
_SEGMENTATION = re.compile(rb'"segmentation"\s*:\s*(\[\s*[^\]\s]|\{)')


def _fast_boxes(batch: Batch, look: _Lookup, *, scored: bool) -> dict[str, Any] | None:
    """Columns for a batch of plain-box annotations parsed by Arrow's C++ JSON reader, or
    None when the batch needs the per-item path (segmentations, missing keys, odd types:
    that path reports the errors precisely)."""
    if _SEGMENTATION.search(batch.raw):
        return None
    data = batch.as_ndjson()
    t = None
    # every field typed and the rest ignored is ~30% faster than inferring; the id
    # fields' types come from the images and categories, ``id`` may be a string
    for schema, extra in (
        (look.schema(pa.int64()), "ignore"),
        (look.schema(pa.string()), "ignore"),
        (pa.schema(_BOX_FIELDS), "infer"),
    ):
        try:
            t = pa_json.read_json(
                pa.BufferReader(pa.py_buffer(data)),
                read_options=pa_json.ReadOptions(block_size=1 << 24),
                parse_options=pa_json.ParseOptions(
                    explicit_schema=schema, unexpected_field_behavior=extra
                ),
            )
            break
        except pa.ArrowException:
            continue
    if t is None:
        return None
    n = len(batch)
    need = ["bbox", "image_id", "category_id"] + (["score"] if scored else [])
    if t.num_rows != n or any(c not in t.column_names or t.column(c).null_count for c in need):
        return None
    bbox = t.column("bbox").combine_chunks()
    if (
        pc.min(pc.list_value_length(bbox)).as_py() != 4
        or pc.max(pc.list_value_length(bbox)).as_py() != 4
    ):
        return None
    boxes = bbox.flatten().to_numpy().reshape(n, 4)
    if not np.isfinite(boxes).all() or (boxes[:, 2:] < 0).any():
        return None
    try:
        img_idx = look.index(t.column("image_id"), look.image_ids)
        cat_idx = look.index(t.column("category_id"), look.cat_ids)
    except pa.ArrowException:
        return None
    if img_idx.null_count or cat_idx.null_count:
        return None
    xyxy = xywh_to_xyxy(boxes)
    first = batch.first
    cols: dict[str, Any] = {
        "line": np.arange(first + 1, first + n + 1, dtype=np.int64),
        "row_key": pc.take(look.image_keys, img_idx),
        "class_name": pc.take(look.cat_names, cat_idx),
        "kind": pa.repeat(pa.scalar(str(Kind.BBOX)), n),
        "x1": xyxy[:, 0],
        "y1": xyxy[:, 1],
        "x2": xyxy[:, 2],
        "y2": xyxy[:, 3],
        "area": t.column("area") if "area" in t.column_names else pa.nulls(n, pa.float64()),
        "iscrowd": pc.not_equal(pc.fill_null(t.column("iscrowd"), 0), 0),
    }
    if "id" in t.column_names:
        cols["uuid"] = pc.cast(t.column("id"), pa.string())
    if scored:
        cols["confidence"] = t.column("score")
    return cols


def _annotations(
    sc: Scan, key: str | None, look: _Lookup, path: Path, *, scored: bool
) -> tuple[pa.Table, dict[str, set[str]]]:
    """All annotations of the array ``key`` as one table, plus the kinds of each class."""
    tables: list[pa.Table] = []
    kinds: dict[str, set[str]] = {name: set() for name in look.cats.values()}
    array = key or "$"
    for batch, offset in iter_batches(sc, key):
        report(f"parsing {path.name}", offset, sc.size)
        cols = _fast_boxes(batch, look, scored=scored)
        if cols is None:
            cols = _annotation_columns(
                batch.items(path, offset),
                look.images,
                look.cats,
                path,
                array=array,
                scored=scored,
                offset=batch.first,
            )
        table = annotations_table(cols)
        pairs = table.group_by(["class_name", "kind"]).aggregate([])
        for name, kind in zip(
            pairs.column("class_name").to_pylist(), pairs.column("kind").to_pylist(), strict=True
        ):
            kinds[name].add(kind)
        tables.append(table)
    report(f"parsing {path.name}", sc.size, sc.size)
    return (pa.concat_tables(tables) if tables else annotations_table()), kinds


def _class_kinds(kinds: dict[str, set[str]]) -> list[tuple[str, str]]:
    out = []
    for name, ks in kinds.items():
        kind = Kind.POLYGON if Kind.POLYGON in ks else Kind.MASK if Kind.MASK in ks else Kind.BBOX
        out.append((name, str(kind)))
    return out


def _scan_coco(path: Path) -> tuple[Scan, _Lookup]:
    sc = scan(path)
    if sc.root != "object":
        raise InvalidInputError(
            "a COCO file is a JSON object with images, annotations and categories (a list "
            "is the results form: pass the ground truth file as gt)",
            path=path,
        )
    look = _Lookup(
        _images(load_value(sc, "images"), path), _categories(load_value(sc, "categories"), path)
    )
    return sc, look


def parse_coco(path: Path, *, images_dir: Path | None = None, scored: bool = False) -> Parsed:
    """Parse a full COCO file: ground truth, or (``scored=True``) predictions with scores."""
    sc, look = _scan_coco(path)
    table, kinds = _annotations(sc, "annotations", look, path, scored=scored)
    if scored:
        return Parsed(str(path), table, json_array="annotations")
    imgs = list(look.images.values())
    # data rows are created in image-id order, so that ordering rows by errorscope id
    # orders them as pycocotools orders image ids (its tie-breaks between equal scores
    # depend on it); ``line`` keeps each image's position in the file for errors
    order = np.arange(len(imgs))
    if pa.types.is_integer(look.image_ids.type):
        order = np.argsort(look.image_ids.to_numpy(), kind="stable")
    imgs = [imgs[i] for i in order]
    rows = rows_table(
        {
            "line": order.astype(np.int64) + 1,
            "global_key": look.image_keys.take(pa.array(order)),
            "media_type": [str(MediaType.IMAGE)] * len(imgs),
            "uri": [
                str(images_dir / im["file_name"]) if images_dir else str(im["file_name"])
                for im in imgs
            ],
            "width": [im.get("width") for im in imgs],
            "height": [im.get("height") for im in imgs],
        }
    )
    return Parsed(
        str(path),
        table,
        rows=rows,
        classes=_class_kinds(kinds),
        json_array="annotations",
        rows_array="images",
    )


def parse_coco_results(path: Path, *, gt: Path) -> Parsed:
    """Parse a COCO results list (``loadRes`` form) against its ground-truth file ``gt``."""
    sc = scan(path)
    if sc.root == "object":
        return parse_coco(path, scored=True)
    _, look = _scan_coco(gt)
    table, _ = _annotations(sc, None, look, path, scored=True)
    return Parsed(str(path), table, json_array="$")
