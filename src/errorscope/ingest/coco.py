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
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson

from errorscope.core.geometry import polygon_bbox, uncompressed_to_rle, xywh_to_xyxy
from errorscope.core.types import Kind, MediaType
from errorscope.errors import InvalidInputError
from errorscope.ingest.common import Parsed, annotations_table, rows_table

__all__ = ["load_json", "parse_coco", "parse_coco_results"]


def load_json(path: Path) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError("file not found", path=path) from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(f"malformed JSON: {exc}", path=path, line=exc.lineno) from None


def _need(obj: Any, key: str, where: str, path: Path) -> Any:
    if not isinstance(obj, dict) or key not in obj:
        raise InvalidInputError("missing", path=path, location=where, field=key)
    return obj[key]


def _images(doc: dict[str, Any], path: Path) -> dict[Any, dict[str, Any]]:
    images: dict[Any, dict[str, Any]] = {}
    for i, img in enumerate(_need(doc, "images", "$", path)):
        where = f"images[{i}]"
        image_id = _need(img, "id", where, path)
        _need(img, "file_name", where, path)
        if image_id in images:
            raise InvalidInputError(
                f"duplicate image id {image_id!r}", path=path, location=where, field="id"
            )
        images[image_id] = img
    return images


def _categories(doc: dict[str, Any], path: Path) -> dict[Any, str]:
    cats: dict[Any, str] = {}
    for i, cat in enumerate(_need(doc, "categories", "$", path)):
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
        where = f"{array}[{i}]"
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
        "line": np.arange(1, n + 1, dtype=np.int64),
        "x1": xyxy[:, 0],
        "y1": xyxy[:, 1],
        "x2": xyxy[:, 2],
        "y2": xyxy[:, 3],
    }


def _fill_mask_boxes(boxes: np.ndarray[Any, Any], cols: dict[str, list[Any]]) -> None:
    from errorscope.core.geometry import rle_bbox

    for i in np.flatnonzero(np.isnan(boxes[:, 0])):
        if cols["rle_counts"][i] is not None:
            x1, y1, x2, y2 = rle_bbox(cols["rle_counts"][i], cols["rle_h"][i], cols["rle_w"][i])
            boxes[i] = (x1, y1, x2 - x1, y2 - y1)


def _class_kinds(cats: dict[Any, str], kinds: list[Any], names: list[Any]) -> list[tuple[str, str]]:
    seen: dict[str, set[str]] = {name: set() for name in cats.values()}
    for name, kind in zip(names, kinds, strict=True):
        seen[name].add(kind)
    out = []
    for name, ks in seen.items():
        kind = Kind.POLYGON if Kind.POLYGON in ks else Kind.MASK if Kind.MASK in ks else Kind.BBOX
        out.append((name, str(kind)))
    return out


def parse_coco(path: Path, *, images_dir: Path | None = None, scored: bool = False) -> Parsed:
    """Parse a full COCO file: ground truth, or (``scored=True``) predictions with scores."""
    doc = load_json(path)
    if not isinstance(doc, dict):
        raise InvalidInputError(
            "a COCO file is a JSON object with images, annotations and "
            "categories (a list is the results form: pass the ground "
            "truth file as gt)",
            path=path,
        )
    images = _images(doc, path)
    cats = _categories(doc, path)
    anns = doc.get("annotations", [])
    cols = _annotation_columns(anns, images, cats, path, array="annotations", scored=scored)
    table = annotations_table(cols)
    if scored:
        return Parsed(str(path), table, json_array="annotations")
    imgs = list(images.values())
    rows = rows_table(
        {
            "line": np.arange(1, len(imgs) + 1, dtype=np.int64),
            "global_key": [str(im["file_name"]) for im in imgs],
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
        classes=_class_kinds(cats, cols["kind"], cols["class_name"]),
        json_array="annotations",
        rows_array="images",
    )


def parse_coco_results(path: Path, *, gt: Path) -> Parsed:
    """Parse a COCO results list (``loadRes`` form) against its ground-truth file ``gt``."""
    doc = load_json(path)
    if isinstance(doc, dict):
        return parse_coco(path, scored=True)
    if not isinstance(doc, list):
        raise InvalidInputError("a COCO results file is a JSON list", path=path)
    gt_doc = load_json(gt)
    images = _images(gt_doc, gt)
    cats = _categories(gt_doc, gt)
    cols = _annotation_columns(doc, images, cats, path, array="$", scored=True)
    return Parsed(str(path), annotations_table(cols), json_array="$")
