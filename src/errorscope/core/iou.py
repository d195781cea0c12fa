"""Intersection over union for boxes (vectorised numpy) and COCO-exact box IoU.

* :func:`box_iou` — pairwise IoU of xyxy boxes, continuous (no ``+1``) or with the
  legacy pixel-inclusive ``+1`` convention (``plus_one=True``, as VOC devkit / old
  Detectron: width = ``x2 - x1 + 1``).
* :func:`coco_box_iou` — pycocotools' ``maskUtils.iou`` for xywh boxes, operation for
  operation (so thresholds compare bit-identically), with crowd ground truth: for a
  crowd box the union is the detection's own area.

Masks and polygons go through pycocotools' mask API (``pycocotools.mask.iou``).
"""

from __future__ import annotations

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["box_iou", "coco_box_iou"]


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
