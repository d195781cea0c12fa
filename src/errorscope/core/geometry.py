"""Box, polygon and mask geometry on numpy arrays (no per-row Python on large inputs)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

__all__ = [
    "FloatArray",
    "cxcywh_to_xyxy",
    "decode_rle",
    "encode_mask",
    "polygon_area",
    "polygon_bbox",
    "rle_area",
    "rle_bbox",
    "rle_from_polygons",
    "uncompressed_to_rle",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
]

FloatArray = npt.NDArray[np.float64]


def xywh_to_xyxy(boxes: npt.ArrayLike) -> FloatArray:
    """``(N, 4)`` ``[x, y, w, h]`` (top-left corner) to ``(N, 4)`` ``[x1, y1, x2, y2]``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = b.copy()
    out[:, 2] = b[:, 0] + b[:, 2]
    out[:, 3] = b[:, 1] + b[:, 3]
    return out


def xyxy_to_xywh(boxes: npt.ArrayLike) -> FloatArray:
    """``(N, 4)`` ``[x1, y1, x2, y2]`` to ``(N, 4)`` ``[x, y, w, h]``."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    out = b.copy()
    out[:, 2] = b[:, 2] - b[:, 0]
    out[:, 3] = b[:, 3] - b[:, 1]
    return out


def cxcywh_to_xyxy(boxes: npt.ArrayLike, width: npt.ArrayLike, height: npt.ArrayLike) -> FloatArray:
    """YOLO boxes ``(N, 4)`` ``[cx, cy, w, h]`` normalised to ``[0, 1]`` → absolute xyxy.

    ``width`` and ``height`` are the image sizes, scalars or ``(N,)`` arrays.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    w = np.asarray(width, dtype=np.float64)
    h = np.asarray(height, dtype=np.float64)
    cx, cy, bw, bh = b[:, 0] * w, b[:, 1] * h, b[:, 2] * w, b[:, 3] * h
    return np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)


def polygon_bbox(parts: Sequence[Sequence[float]]) -> tuple[float, float, float, float]:
    """Bounding box ``(x1, y1, x2, y2)`` of a polygon given as flat ``[x0, y0, ...]`` parts."""
    xy = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts]).reshape(-1, 2)
    lo = xy.min(axis=0)
    hi = xy.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def polygon_area(parts: Sequence[Sequence[float]]) -> float:
    """Sum of the shoelace areas of the parts (each a flat ``[x0, y0, ...]`` list)."""
    total = 0.0
    for p in parts:
        xy = np.asarray(p, dtype=np.float64).reshape(-1, 2)
        x, y = xy[:, 0], xy[:, 1]
        total += 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
    return total


def rle_from_polygons(parts: Sequence[Sequence[float]], height: int, width: int) -> str:
    """Rasterise polygon parts as pycocotools does and return the compressed RLE counts."""
    rles = mask_utils.frPyObjects([list(map(float, p)) for p in parts], height, width)
    merged = mask_utils.merge(rles)
    counts: bytes = merged["counts"]
    return counts.decode("ascii")


def uncompressed_to_rle(counts: Sequence[int], height: int, width: int) -> str:
    """COCO's uncompressed RLE (``{"counts": [..], "size": [h, w]}``) → compressed string."""
    rle = mask_utils.frPyObjects({"counts": list(counts), "size": [height, width]}, height, width)
    out: bytes = rle["counts"]
    return out.decode("ascii")


def encode_mask(mask: npt.NDArray[np.bool_] | npt.NDArray[np.uint8]) -> str:
    """Binary ``(H, W)`` mask → compressed COCO RLE counts string."""
    arr = np.asfortranarray(np.asarray(mask, dtype=np.uint8))
    rle = mask_utils.encode(arr)
    out: bytes = rle["counts"]
    return out.decode("ascii")


def _rle(counts: str, height: int, width: int) -> dict[str, object]:
    return {"counts": counts.encode("ascii"), "size": [height, width]}


def decode_rle(counts: str, height: int, width: int) -> npt.NDArray[np.uint8]:
    """Compressed RLE → ``(H, W)`` uint8 mask."""
    with warnings.catch_warnings():
        # pycocotools 2.0.11's decode trips numpy 2's __array__(copy=) deprecation
        warnings.filterwarnings("ignore", "__array__ implementation", DeprecationWarning)
        out: npt.NDArray[np.uint8] = mask_utils.decode(_rle(counts, height, width))
    return out


def rle_area(counts: str, height: int, width: int) -> float:
    """Number of foreground pixels of a compressed RLE."""
    return float(mask_utils.area(_rle(counts, height, width)))


def rle_bbox(counts: str, height: int, width: int) -> tuple[float, float, float, float]:
    """Bounding box ``(x1, y1, x2, y2)`` of a compressed RLE."""
    x, y, w, h = (float(v) for v in mask_utils.toBbox(_rle(counts, height, width)))
    return x, y, x + w, y + h
