"""COCO out: a full COCO document, or the results list that ``COCO.loadRes`` reads.

Pure writers: the SDK reads Arrow tables from the store and hands them here.

* ``images``: one per image data row, ``id`` = data row id, ``file_name`` = global key
  (the path or URL when a row has no key), ``width`` and ``height`` when known;
* ``categories``: the spatial classes, ``id`` = class id;
* ``annotations``: ``bbox`` ``[x, y, w, h]`` from the stored xyxy box, ``area`` (the
  stored one, else computed: shoelace for polygons, pixel count for masks, ``w * h`` for
  boxes), ``iscrowd``, and ``segmentation``: polygon parts as lists, masks as compressed
  RLE ``{"counts": str, "size": [h, w]}``; box annotations carry no segmentation;
  predictions add ``score``.

COCO has no text spans, classifications, free points or polylines (its keypoints belong
to a skeleton), so those annotations are skipped; the writers return how many they wrote.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pycocotools import mask as mask_utils

from errorscope.core.geometry import FloatArray, polygon_area, rle_from_polygons
from errorscope.core.perf import no_gc
from errorscope.core.types import SPATIAL_KINDS, Kind, MediaType

__all__ = ["COCO_KINDS", "annotation_ids", "coco_document", "coco_results", "write_json"]

#: The annotation kinds a COCO file can hold.
COCO_KINDS = (str(Kind.BBOX), str(Kind.POLYGON), str(Kind.MASK))

#: Box sizes are rounded to this many decimals so ``x2 - x1`` prints as the width it
#: was made from (``296.42``, not ``296.42000000000002``).
_DECIMALS = 10


def _coco_annotations(annotations: pa.Table) -> pa.Table:
    return annotations.filter(pc.is_in(annotations.column("kind"), pa.array(COCO_KINDS)))


def _col(table: pa.Table, name: str) -> list[Any]:
    values: list[Any] = table.column(name).to_pylist()
    return values


def _floats(table: pa.Table, name: str) -> FloatArray:
    out: FloatArray = table.column(name).to_numpy(zero_copy_only=False).astype(np.float64)
    return out


def _xywh(table: pa.Table) -> FloatArray:
    x1, y1, x2, y2 = (_floats(table, c) for c in ("x1", "y1", "x2", "y2"))
    w = np.round(x2 - x1, _DECIMALS)
    h = np.round(y2 - y1, _DECIMALS)
    return np.stack([x1, y1, w, h], axis=1)


def _rle(counts: str, h: int, w: int) -> dict[str, Any]:
    return {"counts": counts, "size": [h, w]}


def _areas(table: pa.Table, boxes: FloatArray) -> FloatArray:
    """The stored area, else the area of the geometry: ``w * h`` for boxes, shoelace for
    polygons, pixel count for masks (counted in batches)."""
    areas = _floats(table, "area")  # NaN where none is stored
    kinds = table.column("kind").to_numpy(zero_copy_only=False)
    missing = np.isnan(areas)
    boxes_missing = missing & (kinds == str(Kind.BBOX))
    areas[boxes_missing] = boxes[boxes_missing, 2] * boxes[boxes_missing, 3]
    polygons = np.flatnonzero(missing & (kinds == str(Kind.POLYGON)))
    if len(polygons):
        coords = table.column("coords").take(pa.array(polygons)).to_pylist()
        areas[polygons] = [polygon_area(parts) for parts in coords]
    masks = np.flatnonzero(missing & (kinds == str(Kind.MASK)))
    if len(masks):
        sub = table.select(["rle_counts", "rle_h", "rle_w"]).take(pa.array(masks))
        rles = [
            {"counts": c.encode("ascii"), "size": [h, w]}
            for c, h, w in zip(*(_col(sub, n) for n in sub.column_names), strict=True)
        ]
        # pycocotools 2.0.11 on numpy 2 overflows on lists of more than 255 RLEs
        areas[masks] = [
            a for k in range(0, len(rles), 255) for a in mask_utils.area(rles[k : k + 255])
        ]
    return areas


def annotation_ids(uuids: pa.Array | pa.ChunkedArray) -> list[int]:
    """COCO needs integer ids: a uuid that is a decimal integer (as COCO imports store
    them) keeps its value, the others get fresh numbers above the largest."""
    n = len(uuids)
    digits = pc.fill_null(pc.utf8_is_digit(uuids), False).to_numpy(zero_copy_only=False)
    ids = np.zeros(n, dtype=np.int64)
    if digits.any():
        text = pc.filter(uuids, pa.array(digits))
        if pc.max(pc.utf8_length(text)).as_py() > 18:  # may not fit in int64
            return list(range(1, n + 1))
        try:
            ids[digits] = pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False)
        except pa.ArrowInvalid:  # digits of another script
            return list(range(1, n + 1))
        if len(np.unique(ids[digits])) != int(digits.sum()):  # "7" and "007"
            return list(range(1, n + 1))
    top = int(ids[digits].max()) if digits.any() else 0
    ids[~digits] = np.arange(top + 1, top + 1 + int((~digits).sum()))
    out: list[int] = ids.tolist()
    return out


def _category_ids(table: pa.Table, classes: pa.Table) -> list[int]:
    index = pc.index_in(table.column("class_name"), value_set=classes.column("name"))
    out: list[int] = pc.take(classes.column("id"), index).to_pylist()
    return out


def _images(rows: pa.Table, keep: set[int] | None) -> list[dict[str, Any]]:
    images = []
    for rid, key, media, uri, w, h in zip(
        *(_col(rows, c) for c in ("id", "global_key", "media_type", "uri", "width", "height")),
        strict=True,
    ):
        if media != MediaType.IMAGE or (keep is not None and rid not in keep):
            continue
        image: dict[str, Any] = {"id": int(rid), "file_name": key if key is not None else uri}
        if w is not None:
            image["width"] = int(w)
        if h is not None:
            image["height"] = int(h)
        images.append(image)
    return images


def coco_document(
    annotations: pa.Table, rows: pa.Table, classes: pa.Table, *, scored: bool
) -> dict[str, Any]:
    """A full COCO document.

    ``annotations`` as read from the store (``data_row_id``, ``class_name``, geometry,
    ``area``, ``iscrowd``, ``uuid``, and ``confidence`` when ``scored``); ``rows`` the
    data rows (``id``, ``global_key``, ``media_type``, ``uri``, ``width``, ``height``);
    ``classes`` (``id``, ``name``, ``kind``). Ground truth (``scored`` false) lists every
    image row; predictions list the images that have one.
    """
    table = _coco_annotations(annotations)
    # every spatial class is a category, even one whose points COCO cannot hold
    spatial = classes.filter(
        pc.is_in(classes.column("kind"), pa.array(sorted(str(k) for k in SPATIAL_KINDS)))
    )
    categories = [
        {"id": int(i), "name": n}
        for i, n in zip(_col(spatial, "id"), _col(spatial, "name"), strict=True)
    ]
    boxes = _xywh(table)
    areas = _areas(table, boxes)
    with no_gc():
        row_ids = _col(table, "data_row_id")
        images = _images(rows, set(row_ids) if scored else None)
        columns = zip(
            annotation_ids(table.column("uuid")),
            row_ids,
            _category_ids(table, spatial),
            boxes.tolist(),
            areas.tolist(),
            _col(table, "iscrowd"),
            _col(table, "kind"),
            _col(table, "coords"),
            _col(table, "rle_counts"),
            _col(table, "rle_h"),
            _col(table, "rle_w"),
            _col(table, "confidence") if scored else [None] * table.num_rows,
            strict=True,
        )
        out = []
        polygon, mask = str(Kind.POLYGON), str(Kind.MASK)
        for ann_id, row_id, cat_id, box, area, crowd, kind, coords, counts, h, w, score in columns:
            ann: dict[str, Any] = {
                "id": ann_id,
                "image_id": row_id,
                "category_id": cat_id,
                "bbox": box,
                "area": area,
                "iscrowd": 1 if crowd else 0,
            }
            if kind == polygon:
                ann["segmentation"] = coords
            elif kind == mask:
                ann["segmentation"] = {"counts": counts, "size": [h, w]}
            if scored:
                ann["score"] = score
            out.append(ann)
    return {"images": images, "annotations": out, "categories": categories}


def coco_results(annotations: pa.Table, rows: pa.Table, classes: pa.Table) -> list[dict[str, Any]]:
    """The results list of ``COCO.loadRes``, with the ids :func:`coco_document` uses.

    ``loadRes`` decides from the first entry whether the list holds box or segmentation
    results, so every entry has the same keys:

    * a run made only of masks and polygons (and the size of every polygon's image is
      known) gives ``segmentation`` as compressed RLE (polygons rasterised as pycocotools
      does) and no ``bbox``: ``loadRes`` then takes the box and the area from the mask,
      as for COCO's own segmentation results;
    * otherwise every entry has ``bbox``, and masks and polygons add their
      ``segmentation``.
    """
    table = _coco_annotations(annotations)
    sizes = {
        int(r): (h, w)
        for r, h, w in zip(_col(rows, "id"), _col(rows, "height"), _col(rows, "width"), strict=True)
    }
    kinds, row_ids = _col(table, "kind"), _col(table, "data_row_id")
    segm_only = all(
        k == Kind.MASK or (k == Kind.POLYGON and None not in sizes.get(r, (None, None)))
        for k, r in zip(kinds, row_ids, strict=True)
    )
    with no_gc():
        columns = zip(
            row_ids,
            _category_ids(table, classes),
            _xywh(table).tolist(),
            kinds,
            _col(table, "coords"),
            _col(table, "rle_counts"),
            _col(table, "rle_h"),
            _col(table, "rle_w"),
            _col(table, "confidence"),
            strict=True,
        )
        out = []
        for row_id, cat_id, box, kind, coords, counts, h, w, score in columns:
            res: dict[str, Any] = {"image_id": row_id, "category_id": cat_id}
            if segm_only:
                if kind == Kind.MASK:
                    res["segmentation"] = _rle(counts, h, w)
                else:
                    ih, iw = sizes[row_id]
                    res["segmentation"] = _rle(rle_from_polygons(coords, ih, iw), ih, iw)
            else:
                res["bbox"] = box
                if kind == Kind.POLYGON:
                    res["segmentation"] = coords
                elif kind == Kind.MASK:
                    res["segmentation"] = _rle(counts, h, w)
            res["score"] = score
            out.append(res)
    return out


def write_json(out: Path, doc: Any) -> None:
    """Write ``doc`` with orjson, atomically (a temporary file renamed into place)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(orjson.dumps(doc))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
