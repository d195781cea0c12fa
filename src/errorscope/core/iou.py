"""Intersection over union for boxes (vectorised numpy) and COCO-exact box IoU.

* :func:`box_iou` — pairwise IoU of xyxy boxes, continuous (no ``+1``) or with the
  legacy pixel-inclusive ``+1`` convention (``plus_one=True``, as VOC devkit / old
  Detectron: width = ``x2 - x1 + 1``).
* :func:`coco_box_iou` — pycocotools' ``maskUtils.iou`` for xywh boxes, operation for
  operation (so thresholds compare bit-identically), with crowd ground truth: for a
  crowd box the union is the detection's own area.

* :func:`disc_iou`, :func:`vector_iou`, :func:`vector_iou_pairs` — points and polylines
  as Labelbox compares them: buffered (70 px) into areas compared by IoU; exact for two
  points, on a fine grid otherwise (see :func:`vector_iou_pairs`).

Masks and polygons go through pycocotools' mask API (``pycocotools.mask.iou``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CELLS_PER_RADIUS",
    "DEFAULT_BUFFER",
    "box_iou",
    "coco_box_iou",
    "disc_iou",
    "vector_iou",
    "vector_iou_pairs",
    "vector_segments",
]


def box_iou(a_xyxy: ArrayLike, b_xyxy: ArrayLike, *, plus_one: bool = False) -> NDArray[np.float64]:
    """IoU of every box in ``a`` (n, 4) with every box in ``b`` (m, 4): an (n, m) array.

    Boxes are absolute ``x1, y1, x2, y2``. Degenerate boxes (zero area) have IoU 0 with
    everything, including themselves. ``plus_one`` counts pixels inclusively.
    """
    a = np.asarray(a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b_xyxy, dtype=np.float64).reshape(-1, 4)
    one = 1.0 if plus_one else 0.0
    aw = np.maximum(a[:, 2] - a[:, 0] + one, 0.0)
    ah = np.maximum(a[:, 3] - a[:, 1] + one, 0.0)
    bw = np.maximum(b[:, 2] - b[:, 0] + one, 0.0)
    bh = np.maximum(b[:, 3] - b[:, 1] + one, 0.0)
    iw = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]) + one
    ih = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]) + one
    inter = np.clip(iw, 0.0, None) * np.clip(ih, 0.0, None)
    union = (aw * ah)[:, None] + (bw * bh)[None, :] - inter
    out = np.zeros(inter.shape, dtype=np.float64)
    np.divide(inter, union, out=out, where=union > 0)
    return out


@numba.njit(cache=True)
def _coco_box_iou_into(
    dt: NDArray[np.float64],
    gt: NDArray[np.float64],
    iscrowd: NDArray[np.bool_],
    out: NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    # Mirrors bbIou in pycocotools' maskApi.c exactly (same operations, same order).
    for g in range(gt.shape[0]):
        gx, gy, gw, gh = gt[g, 0], gt[g, 1], gt[g, 2], gt[g, 3]
        ga = gw * gh
        crowd = iscrowd[g]
        for d in range(dt.shape[0]):
            dx, dy, dw, dh = dt[d, 0], dt[d, 1], dt[d, 2], dt[d, 3]
            da = dw * dh
            out[d, g] = 0.0
            w = min(dw + dx, gw + gx) - max(dx, gx)
            if w <= 0:
                continue
            h = min(dh + dy, gh + gy) - max(dy, gy)
            if h <= 0:
                continue
            i = w * h
            u = da if crowd else da + ga - i
            out[d, g] = i / u


def coco_box_iou(
    dt_xywh: ArrayLike, gt_xywh: ArrayLike, iscrowd: ArrayLike | None = None
) -> NDArray[np.float64]:
    """pycocotools' box IoU: (n_dt, n_gt) for COCO ``x, y, w, h`` boxes.

    For a crowd ground truth the union is the detection's area (the fraction of the
    detection inside the crowd region).
    """
    dt = np.ascontiguousarray(np.asarray(dt_xywh, dtype=np.float64).reshape(-1, 4))
    gt = np.ascontiguousarray(np.asarray(gt_xywh, dtype=np.float64).reshape(-1, 4))
    crowd = (
        np.zeros(len(gt), dtype=np.bool_)
        if iscrowd is None
        else np.ascontiguousarray(np.asarray(iscrowd, dtype=np.bool_).reshape(-1))
    )
    out = np.empty((len(dt), len(gt)), dtype=np.float64)
    _coco_box_iou_into(dt, gt, crowd, out)
    return out


# -- points and polylines: buffered geometries (Labelbox's vector IoU) -----------------------
#: Labelbox buffers points and polylines by this many pixels before comparing them
#: (labelbox-python ``vector_miou(..., buffer=70.)``).
DEFAULT_BUFFER = 70.0
#: Raster resolution of :func:`vector_iou`: grid cells per buffer radius.
CELLS_PER_RADIUS = 16


def disc_iou(
    a_xy: ArrayLike, b_xy: ArrayLike, radius: float = DEFAULT_BUFFER
) -> NDArray[np.float64]:
    """Exact IoU of discs of ``radius`` around points ``a`` (n, 2) and ``b`` (m, 2): (n, m).

    Two discs at distance ``d < 2r`` overlap in a lens of area
    ``2 r^2 acos(d / 2r) - (d / 2) sqrt(4 r^2 - d^2)``; the union is ``2 pi r^2`` minus it.
    """
    a = np.asarray(a_xy, dtype=np.float64).reshape(-1, 2)
    b = np.asarray(b_xy, dtype=np.float64).reshape(-1, 2)
    r = float(radius)
    if r <= 0:
        raise ValueError(f"the buffer radius must be positive, not {radius}")
    d = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    d = np.minimum(d, 2.0 * r)
    lens = 2.0 * r * r * np.arccos(d / (2.0 * r)) - 0.5 * d * np.sqrt(4.0 * r * r - d * d)
    lens = np.maximum(lens, 0.0)
    out: NDArray[np.float64] = np.clip(lens / (2.0 * np.pi * r * r - lens), 0.0, 1.0)
    return out


def vector_segments(parts: Sequence[Sequence[float]], kind: str) -> NDArray[np.float64]:
    """The segments (k, 4: x0, y0, x1, y1) whose buffer is the buffered geometry: every
    point of a ``"point"`` (a degenerate segment), every consecutive pair of a polyline
    part (a one-vertex part is a point)."""
    out: list[list[float]] = []
    for part in parts:
        xy = np.asarray(part, dtype=np.float64).reshape(-1, 2)
        if kind == "point" or len(xy) == 1:
            out.extend([x, y, x, y] for x, y in xy.tolist())
        else:
            out.extend(np.concatenate([xy[:-1], xy[1:]], axis=1).tolist())
    return np.asarray(out, dtype=np.float64).reshape(-1, 4)


@numba.njit(cache=True)
def _near(segs: NDArray[np.float64], s0: int, s1: int, x: float, y: float, r2: float) -> bool:
    for k in range(s0, s1):
        ax, ay, bx, by = segs[k, 0], segs[k, 1], segs[k, 2], segs[k, 3]
        dx, dy = bx - ax, by - ay
        ll = dx * dx + dy * dy
        t = 0.0 if ll <= 0.0 else min(max(((x - ax) * dx + (y - ay) * dy) / ll, 0.0), 1.0)
        ex, ey = ax + t * dx - x, ay + t * dy - y
        if ex * ex + ey * ey <= r2:
            return True
    return False


@numba.njit(cache=True)
def _is_point(segs: NDArray[np.float64], k: int) -> bool:
    return bool(segs[k, 0] == segs[k, 2] and segs[k, 1] == segs[k, 3])


@numba.njit(cache=True)
def _lens_iou(d: float, r: float) -> float:
    d = min(d, 2.0 * r)
    lens = max(2.0 * r * r * np.arccos(d / (2.0 * r)) - 0.5 * d * np.sqrt(4.0 * r * r - d * d), 0.0)
    return float(min(lens / (2.0 * np.pi * r * r - lens), 1.0))


@numba.njit(cache=True)
def _vector_iou_pairs(
    segs: NDArray[np.float64],
    start: NDArray[np.int64],
    end: NDArray[np.int64],
    pa_: NDArray[np.int64],
    pb: NDArray[np.int64],
    r: float,
    cells: int,
    out: NDArray[np.float64],
) -> None:  # pragma: no cover - compiled
    h = r / cells
    r2 = r * r
    for p in range(len(pa_)):
        i, j = pa_[p], pb[p]
        out[p] = 0.0
        if start[i] == end[i] or start[j] == end[j]:
            continue
        # both geometries a single point: the exact lens formula
        single = end[i] - start[i] == 1 and end[j] - start[j] == 1
        if single and _is_point(segs, start[i]) and _is_point(segs, start[j]):
            si, sj = start[i], start[j]
            d = np.hypot(segs[si, 0] - segs[sj, 0], segs[si, 1] - segs[sj, 1])
            out[p] = _lens_iou(d, r)
            continue
        lo = np.empty(4)  # bounding box of each buffered geometry: ax0, ay0, ax1, ay1
        hi = np.empty(4)
        for side in range(2):
            g = i if side == 0 else j
            x0, y0, x1, y1 = np.inf, np.inf, -np.inf, -np.inf
            for k in range(start[g], end[g]):
                x0 = min(x0, segs[k, 0], segs[k, 2])
                y0 = min(y0, segs[k, 1], segs[k, 3])
                x1 = max(x1, segs[k, 0], segs[k, 2])
                y1 = max(y1, segs[k, 1], segs[k, 3])
            box = lo if side == 0 else hi
            box[0], box[1], box[2], box[3] = x0 - r, y0 - r, x1 + r, y1 + r
        if lo[2] <= hi[0] or hi[2] <= lo[0] or lo[3] <= hi[1] or hi[3] <= lo[1]:
            continue
        gx0, gy0 = min(lo[0], hi[0]), min(lo[1], hi[1])
        nx = int(np.ceil((max(lo[2], hi[2]) - gx0) / h))
        ny = int(np.ceil((max(lo[3], hi[3]) - gy0) / h))
        inter = 0
        union = 0
        for u in range(nx):
            x = gx0 + (u + 0.5) * h
            for v in range(ny):
                y = gy0 + (v + 0.5) * h
                ina = _near(segs, start[i], end[i], x, y, r2)
                inb = _near(segs, start[j], end[j], x, y, r2)
                if ina and inb:
                    inter += 1
                if ina or inb:
                    union += 1
        if union > 0:
            out[p] = inter / union


def vector_iou_pairs(
    geometries: Sequence[NDArray[np.float64]],
    a: ArrayLike,
    b: ArrayLike,
    *,
    buffer: float = DEFAULT_BUFFER,
    cells_per_radius: int = CELLS_PER_RADIUS,
) -> NDArray[np.float64]:
    """IoU of the buffered geometries ``geometries[a[p]]`` and ``geometries[b[p]]`` for
    every pair ``p``; each geometry is its :func:`vector_segments`.

    As Labelbox compares points and polylines, each geometry is replaced by the set of
    points within ``buffer`` pixels of it (shapely's ``buffer``) and the two areas are
    compared by IoU. Two single points use the exact lens formula (:func:`disc_iou`).
    Anything else is an *approximation*: the IoU is counted on a grid of square cells of
    side ``buffer / cells_per_radius`` (4.375 px for the defaults) spanning both
    buffered geometries, a cell counting as inside a geometry when its centre is within
    ``buffer`` of one of its segments. Identical geometries get exactly 1, geometries
    more than ``2 * buffer`` apart exactly 0, and the result is symmetric; against the
    closed forms (discs, stadiums) the error is below 0.01 at the default resolution
    (measured: at most 0.0075 for discs, 0.0005 for stadiums; 0.002 at 32 cells).
    """
    if buffer <= 0:
        raise ValueError(f"the buffer radius must be positive, not {buffer}")
    if cells_per_radius < 1:
        raise ValueError("cells_per_radius must be at least 1")
    ia = np.ascontiguousarray(np.asarray(a, dtype=np.int64).reshape(-1))
    ib = np.ascontiguousarray(np.asarray(b, dtype=np.int64).reshape(-1))
    sizes = np.array([len(g) for g in geometries], dtype=np.int64)
    end = np.cumsum(sizes).astype(np.int64)
    start = (end - sizes).astype(np.int64)
    segs = (
        np.ascontiguousarray(np.concatenate(list(geometries)), dtype=np.float64).reshape(-1, 4)
        if len(geometries)
        else np.zeros((0, 4))
    )
    out = np.empty(len(ia), dtype=np.float64)
    _vector_iou_pairs(segs, start, end, ia, ib, float(buffer), int(cells_per_radius), out)
    return out


def vector_iou(
    a: Sequence[NDArray[np.float64]],
    b: Sequence[NDArray[np.float64]],
    *,
    buffer: float = DEFAULT_BUFFER,
    cells_per_radius: int = CELLS_PER_RADIUS,
) -> NDArray[np.float64]:
    """(n, m) IoU of buffered geometries (each a :func:`vector_segments` array); see
    :func:`vector_iou_pairs`."""
    ia, ib = np.meshgrid(np.arange(len(a)), np.arange(len(b)), indexing="ij")
    vals = vector_iou_pairs(
        [*a, *b], ia.ravel(), ib.ravel() + len(a), buffer=buffer, cells_per_radius=cells_per_radius
    )
    return vals.reshape(len(a), len(b))
