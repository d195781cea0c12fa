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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from pycocotools import mask as mask_utils

from errorscope.core.geometry import polygon_area, rle_from_polygons
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


def _xywh(table: pa.Table) -> np.ndarray[Any, np.dtype[np.float64]]:
    x1, y1, x2, y2 = (
        table.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
        for c in ("x1", "y1", "x2", "y2")
    )
    w = np.round(x2 - x1, _DECIMALS)
    h = np.round(y2 - y1, _DECIMALS)
    return np.stack([x1, y1, w, h], axis=1)


def _rle(counts: str, h: int, w: int) -> dict[str, Any]:
    return {"counts": counts, "size": [h, w]}


def _areas(table: pa.Table, boxes: np.ndarray[Any, np.dtype[np.float64]]) -> list[float]:
    """The stored area, else the area of the geometry (masks counted in one batch)."""
    areas = _col(table, "area")
    kinds = _col(table, "kind")
    coords = _col(table, "coords")
    counts, hs, ws = _col(table, "rle_counts"), _col(table, "rle_h"), _col(table, "rle_w")
    missing_masks = [i for i, a in enumerate(areas) if a is None and kinds[i] == Kind.MASK]
    if missing_masks:
        rles = [
            {"counts": counts[i].encode("ascii"), "size": [hs[i], ws[i]]} for i in missing_masks
        ]
        # pycocotools 2.0.11 on numpy 2 overflows on lists of more than 255 RLEs
        found = [a for k in range(0, len(rles), 255) for a in mask_utils.area(rles[k : k + 255])]
        for i, a in zip(missing_masks, found, strict=True):
            areas[i] = float(a)
    for i, a in enumerate(areas):
        if a is not None:
            continue
        if kinds[i] == Kind.POLYGON:
            areas[i] = polygon_area(coords[i])
        else:
            areas[i] = float(boxes[i, 2] * boxes[i, 3])
    return [float(a) for a in areas]


def annotation_ids(uuids: Sequence[str | None]) -> list[int]:
    """COCO needs integer ids: a uuid that is an integer (as COCO imports store them)
    keeps its value, the others get fresh numbers above the largest."""
    ids: list[int | None] = []
    for u in uuids:
        try:
            ids.append(int(u) if u is not None and u.strip().isdigit() else None)
        except ValueError:
            ids.append(None)
    taken = [i for i in ids if i is not None]
    if len(set(taken)) != len(taken):  # "7" and "007": renumber everything
        return list(range(1, len(uuids) + 1))
    nxt = max(taken, default=0) + 1
    out: list[int] = []
    for i in ids:
        if i is None:
            i, nxt = nxt, nxt + 1
        out.append(i)
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
    cat_ids = dict(zip(_col(spatial, "name"), _col(spatial, "id"), strict=True))
    categories = [{"id": int(i), "name": n} for n, i in cat_ids.items()]
    row_ids = _col(table, "data_row_id")
    images = _images(rows, set(row_ids) if scored else None)

    boxes = _xywh(table)
    areas = _areas(table, boxes)
    ids = annotation_ids(_col(table, "uuid"))
    kinds, coords = _col(table, "kind"), _col(table, "coords")
    counts, hs, ws = _col(table, "rle_counts"), _col(table, "rle_h"), _col(table, "rle_w")
    names, crowd = _col(table, "class_name"), _col(table, "iscrowd")
    scores = _col(table, "confidence") if scored else None
    out = []
    for i, box in enumerate(boxes.tolist()):
        ann: dict[str, Any] = {
            "id": ids[i],
            "image_id": int(row_ids[i]),
            "category_id": int(cat_ids[names[i]]),
            "bbox": box,
            "area": areas[i],
            "iscrowd": int(bool(crowd[i])),
        }
        if kinds[i] == Kind.POLYGON:
            ann["segmentation"] = coords[i]
        elif kinds[i] == Kind.MASK:
            ann["segmentation"] = _rle(counts[i], hs[i], ws[i])
        if scores is not None:
            ann["score"] = float(scores[i])
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
    cat_ids = dict(zip(_col(classes, "name"), _col(classes, "id"), strict=True))
    sizes = {
        int(r): (h, w)
        for r, h, w in zip(_col(rows, "id"), _col(rows, "height"), _col(rows, "width"), strict=True)
    }
    kinds, coords = _col(table, "kind"), _col(table, "coords")
    counts, hs, ws = _col(table, "rle_counts"), _col(table, "rle_h"), _col(table, "rle_w")
    row_ids, names = _col(table, "data_row_id"), _col(table, "class_name")
    scores = _col(table, "confidence")
    segm_only = all(
        k == Kind.MASK or (k == Kind.POLYGON and None not in sizes.get(r, (None, None)))
        for k, r in zip(kinds, row_ids, strict=True)
    )
    boxes = _xywh(table).tolist()
    out = []
    for i in range(table.num_rows):
        res: dict[str, Any] = {"image_id": int(row_ids[i]), "category_id": int(cat_ids[names[i]])}
        if segm_only:
            if kinds[i] == Kind.MASK:
                res["segmentation"] = _rle(counts[i], hs[i], ws[i])
            else:
                h, w = sizes[int(row_ids[i])]
                res["segmentation"] = _rle(rle_from_polygons(coords[i], h, w), h, w)
        else:
            res["bbox"] = boxes[i]
            if kinds[i] == Kind.POLYGON:
                res["segmentation"] = coords[i]
            elif kinds[i] == Kind.MASK:
                res["segmentation"] = _rle(counts[i], hs[i], ws[i])
        res["score"] = float(scores[i])
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
