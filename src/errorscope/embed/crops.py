"""Object crops for the image embedder (per-object embedding spaces).

Each object's box (a box, or the bounding box of a polygon, polyline, point set or mask)
is grown to a square around its centre with a context margin (``margin`` of its longer
side on every side), clipped to the image, resized so its longer side is 224 pixels and
centred on a 224 x 224 canvas of the normalisation's zero (mid grey), so crops keep
their aspect ratio. Each image is decoded once for all of its objects and the crops go
through the model in batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from errorscope.core.geometry import rle_bbox
from errorscope.core.progress import report

__all__ = ["DEFAULT_MARGIN", "MIN_SIDE", "crop_inputs", "embed_crops", "object_boxes"]

#: Context around an object, as a share of its longer side, on each side.
DEFAULT_MARGIN = 0.1
#: The smallest crop side in pixels (points and slivers get some context).
MIN_SIDE = 16.0
_SIZE = 224
_MEAN, _STD = 127.0, 128.0


def object_boxes(table: pa.Table) -> npt.NDArray[np.float64]:
    """``n x 4`` xyxy boxes of the objects of ``table`` (columns ``x1, y1, x2, y2,
    coords, rle_counts, rle_h, rle_w``): the stored box where there is one, else the
    bounds of the coordinates or of the mask; NaN where there is none."""
    n = table.num_rows
    out = np.full((n, 4), np.nan, dtype=np.float64)
    for j, name in enumerate(("x1", "y1", "x2", "y2")):
        col = table.column(name).to_numpy(zero_copy_only=False)
        out[:, j] = np.asarray(col, dtype=np.float64)
    missing = np.flatnonzero(np.isnan(out).any(axis=1))
    if not len(missing):
        return out
    coords = table.column("coords").to_pylist()
    counts = table.column("rle_counts").to_pylist()
    heights = table.column("rle_h").to_pylist()
    widths = table.column("rle_w").to_pylist()
    for i in missing.tolist():
        parts = coords[i]
        if parts:
            flat = np.concatenate([np.asarray(p, dtype=np.float64) for p in parts if p])
            if len(flat) >= 2:
                xs, ys = flat[0::2], flat[1::2]
                out[i] = (xs.min(), ys.min(), xs.max(), ys.max())
                continue
        if counts[i] is not None and heights[i] and widths[i]:
            box = rle_bbox(counts[i], int(heights[i]), int(widths[i]))
            if box[2] > box[0] and box[3] > box[1]:
                out[i] = box
    return out


def _square(box: npt.NDArray[np.float64], margin: float, w: int, h: int) -> tuple[int, ...]:
    """The pixel region ``(left, top, right, bottom)`` of one object's crop."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1, 0.0) * (1.0 + 2.0 * margin)
    side = max(side, MIN_SIDE)
    cx, cy = (x1 + x2) / 2.0, (y1 + y2) / 2.0
    left = int(np.clip(np.floor(cx - side / 2.0), 0, w - 1))
    top = int(np.clip(np.floor(cy - side / 2.0), 0, h - 1))
    right = int(np.clip(np.ceil(cx + side / 2.0), left + 1, w))
    bottom = int(np.clip(np.ceil(cy + side / 2.0), top + 1, h))
    return left, top, right, bottom


def crop_inputs(
    image: Any, boxes: npt.NDArray[np.float64], margin: float = DEFAULT_MARGIN
) -> npt.NDArray[np.float32]:
    """``n x 3 x 224 x 224`` model inputs of the crops of ``boxes`` from one RGB PIL
    image (the embedder's normalisation: ``(v - 127) / 128``)."""
    from PIL import Image

    w, h = image.size
    out = np.zeros((len(boxes), 3, _SIZE, _SIZE), dtype=np.float32)
    for i, box in enumerate(boxes):
        region = _square(box, margin, w, h)
        cw, ch = region[2] - region[0], region[3] - region[1]
        scale = _SIZE / max(cw, ch)
        nw, nh = max(1, min(_SIZE, round(cw * scale))), max(1, min(_SIZE, round(ch * scale)))
        crop = image.crop(region).resize((nw, nh), Image.Resampling.BILINEAR)
        arr = (np.asarray(crop, dtype=np.float32) - _MEAN) / _STD
        top, left = (_SIZE - nh) // 2, (_SIZE - nw) // 2
        out[i, :, top : top + nh, left : left + nw] = arr.transpose(2, 0, 1)
    return out


def embed_crops(
    embed_arrays: Any,
    dim: int,
    paths: Sequence[Path],
    starts: npt.NDArray[np.int64],
    boxes: npt.NDArray[np.float64],
    *,
    margin: float = DEFAULT_MARGIN,
    batch_size: int = 16,
) -> npt.NDArray[np.float32]:
    """Vectors of every object's crop: the objects of image ``paths[j]`` are rows
    ``starts[j]:starts[j + 1]`` of ``boxes``; ``embed_arrays`` maps a batch of inputs to
    ``batch x dim`` vectors. OSError if an image cannot be read."""
    from PIL import Image

    total = len(boxes)
    out = np.empty((total, dim), dtype=np.float32)
    pending: list[npt.NDArray[np.float32]] = []
    pending_n = 0
    done = 0

    def flush(final: bool) -> None:
        nonlocal pending, pending_n, done
        if not pending_n:
            return
        batch = np.concatenate(pending)
        full = len(batch) if final else len(batch) - len(batch) % batch_size
        for start in range(0, full, batch_size):
            part = batch[start : min(start + batch_size, full)]
            out[done : done + len(part)] = embed_arrays(part)
            done += len(part)
        rest = batch[full:]
        pending, pending_n = ([rest] if len(rest) else []), len(rest)
        report("embedding objects", done, total)

    for j, path in enumerate(paths):
        lo, hi = int(starts[j]), int(starts[j + 1])
        if hi <= lo:
            continue
        with Image.open(path) as img:
            rgb = img.convert("RGB")
        pending.append(crop_inputs(rgb, boxes[lo:hi], margin))
        pending_n += hi - lo
        if pending_n >= batch_size:
            flush(False)
    flush(True)
    return out
