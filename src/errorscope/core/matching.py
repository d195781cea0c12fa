"""Matching predictions to ground truth, Labelbox style, with TIDE error types.

Labelbox matching, per data row and class (or across classes with ``cross_class``):

1. predictions whose confidence is below the confidence threshold are *ignored*
   (status ``"ignored"``; a missing confidence is 1.0, which the store fills in);
2. every ground-truth/prediction pair of a data row gets an IoU (boxes, or masks and
   polygons through pycocotools' mask API; points and polylines as Labelbox does, buffered
   by ``buffer`` = 70 px into areas, see :func:`errorscope.core.iou.vector_iou_pairs`;
   a point or polyline and any other kind have IoU 0);
3. pairs are taken greedily by highest IoU, one-to-one, while ``IoU > threshold``.
   Equal IoUs are ordered by content (prediction score, then the boxes), never by input
   position, so results do not depend on the order of the inputs.

A matched pair of the same class is a true positive; a ground truth left over is a false
negative, a kept prediction left over a false positive. With ``cross_class`` a pair may
join two classes: both sides then count as errors (FN and FP, error ``classification``)
but keep the matched id, which is what a confusion matrix needs.

Error types (TIDE, Bolya et al. 2020) for each false-positive prediction, with the
foreground threshold ``t_f`` = the matching IoU threshold and background ``t_b`` = 0.1,
tested in TIDE's order against the ground truth of its data row:

* ``localisation``: best IoU with a ground truth of its class in ``[t_b, t_f]``;
* ``classification``: best IoU with a ground truth of another class ``> t_f``;
* ``duplicate``: best IoU with a ground truth of its class ``> t_f`` (taken by a better
  prediction);
* ``background``: IoU with every ground truth ``< t_b``;
* ``both``: otherwise (best IoU with another class in ``[t_b, t_f]``).

Per-class thresholds (``class_iou`` / a per-prediction ``confidence`` array, see
:func:`class_thresholds`): a pair is matched when its IoU exceeds the threshold of the
ground truth's class, and the TIDE foreground of a prediction is its own class's threshold.

A false-negative ground truth is ``missed`` unless a localisation, classification or
both error of some prediction points at it (TIDE counts such a box once, as that error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numba
import numpy as np
import numpy.typing as npt
from pycocotools import mask as mask_utils

from errorscope.core.iou import DEFAULT_BUFFER, vector_iou_pairs, vector_segments

__all__ = [
    "ERROR_TYPES",
    "Matching",
    "Objects",
    "box_iou",
    "class_thresholds",
    "iou_pairs",
    "mask_iou",
    "match",
    "tide_errors",
    "vector_geometries",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Obj = npt.NDArray[np.object_]

#: Every error type a detection or a ground truth may get ("" = none).
ERROR_TYPES = (
    "",
    "classification",
    "localisation",
    "both",
    "duplicate",
    "background",
    "missed",
)
TIDE_BACKGROUND = 0.1


@dataclass(frozen=True)
class Objects:
    """Spatial objects, one per index; all arrays of length ``n``.

    ``boxes`` are xyxy in absolute pixels. ``rles`` (pycocotools RLE dicts, ``{"size":
    [h, w], "counts": bytes}``) are needed only for ``iou_type="segm"``. ``score`` is the
    confidence of predictions (None for ground truth). ``vectors`` (see
    :func:`vector_geometries`) holds the segments of points and polylines, ``None`` for
    every other object; without it every object is compared by ``boxes``/``rles``.
    """

    row: I64
    cls: I64
    boxes: F64
    score: F64 | None = None
    rles: Sequence[dict[str, Any]] | None = None
    vectors: Sequence[F64 | None] | None = None

    def __len__(self) -> int:
        return len(self.row)

    def take(self, index: I64) -> Objects:
        return Objects(
            row=self.row[index],
            cls=self.cls[index],
            boxes=self.boxes[index],
            score=None if self.score is None else self.score[index],
            rles=None if self.rles is None else [self.rles[int(i)] for i in index],
            vectors=None if self.vectors is None else [self.vectors[int(i)] for i in index],
        )

    def is_vector(self) -> npt.NDArray[np.bool_]:
        """Which objects are points or polylines."""
        if self.vectors is None:
            return np.zeros(len(self), bool)
        return np.array([v is not None for v in self.vectors], dtype=bool)


def vector_geometries(kinds: Sequence[str], coords: Sequence[Any]) -> list[F64 | None]:
    """``Objects.vectors`` from each object's kind and ``coords`` (list of flat parts):
    the segments of points and polylines, ``None`` for other kinds."""
    return [
        vector_segments(c or [], str(k)) if k in ("point", "polyline") else None
        for k, c in zip(kinds, coords, strict=True)
    ]


@dataclass(frozen=True)
class Matching:
    """Per-object results. Match indices point into the other side's inputs (-1: none);
    IoUs are NaN without a match; status is ``"TP"``/``"FN"`` for ground truth and
    ``"TP"``/``"FP"``/``"ignored"`` for predictions."""

    gt_status: Obj
    gt_match: I64
    gt_iou: F64
    gt_error: Obj
    dt_status: Obj
    dt_match: I64
    dt_iou: F64
    dt_error: Obj
    dt_kept: npt.NDArray[np.bool_]


def box_iou(a: npt.ArrayLike, b: npt.ArrayLike, *, legacy: bool = False) -> F64:
    """``(n, m)`` IoU of xyxy boxes; ``legacy`` adds 1 to widths and heights (the old
    pixel-inclusive VOC convention). Empty boxes have IoU 0 with everything."""
    x = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    y = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    one = 1.0 if legacy else 0.0
    iw = np.minimum(x[:, None, 2], y[None, :, 2]) - np.maximum(x[:, None, 0], y[None, :, 0]) + one
    ih = np.minimum(x[:, None, 3], y[None, :, 3]) - np.maximum(x[:, None, 1], y[None, :, 1]) + one
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    area_x = np.clip(x[:, 2] - x[:, 0] + one, 0, None) * np.clip(x[:, 3] - x[:, 1] + one, 0, None)
    area_y = np.clip(y[:, 2] - y[:, 0] + one, 0, None) * np.clip(y[:, 3] - y[:, 1] + one, 0, None)
    union = area_x[:, None] + area_y[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return np.clip(out, 0.0, 1.0)


def mask_iou(a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]]) -> F64:
    """``(n, m)`` IoU of pycocotools RLE masks (pycocotools' ``mask.iou``, no crowd)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)), dtype=np.float64)
    out = mask_utils.iou(list(a), list(b), [0] * len(b))
    return np.asarray(out, dtype=np.float64).reshape(len(a), len(b))


@numba.njit(cache=True)
def _box_pairs(
    g_start: I64,
    g_end: I64,
    d_start: I64,
    d_end: I64,
    gb: F64,
    db: F64,
    one: float,
    count_only: bool,
    out_g: I64,
    out_d: I64,
    out_iou: F64,
) -> int:
    """IoU > 0 pairs within each row block (ground truth and predictions sorted by row)."""
    k = 0
    for r in range(len(g_start)):
        for i in range(g_start[r], g_end[r]):
            ga = max(gb[i, 2] - gb[i, 0] + one, 0.0) * max(gb[i, 3] - gb[i, 1] + one, 0.0)
            for j in range(d_start[r], d_end[r]):
                iw = min(gb[i, 2], db[j, 2]) - max(gb[i, 0], db[j, 0]) + one
                ih = min(gb[i, 3], db[j, 3]) - max(gb[i, 1], db[j, 1]) + one
                if iw <= 0.0 or ih <= 0.0:
                    continue
                da = max(db[j, 2] - db[j, 0] + one, 0.0) * max(db[j, 3] - db[j, 1] + one, 0.0)
                inter = iw * ih
                union = ga + da - inter
                if union <= 0.0:
                    continue
                if not count_only:
                    out_g[k] = i
                    out_d[k] = j
                    out_iou[k] = min(inter / union, 1.0)
                k += 1
    return k


def _row_blocks(g_row: I64, d_row: I64) -> tuple[I64, I64, I64, I64, I64]:
    """Rows present on both sides and each side's [start, end) in its row-sorted order."""
    rows = np.intersect1d(g_row, d_row)
    g_start = np.searchsorted(g_row, rows, side="left").astype(np.int64)
    g_end = np.searchsorted(g_row, rows, side="right").astype(np.int64)
    d_start = np.searchsorted(d_row, rows, side="left").astype(np.int64)
    d_end = np.searchsorted(d_row, rows, side="right").astype(np.int64)
    return rows.astype(np.int64), g_start, g_end, d_start, d_end


def iou_pairs(
    gt: Objects,
    dt: Objects,
    *,
    iou_type: Literal["bbox", "segm"] = "bbox",
    legacy: bool = False,
    buffer: float = DEFAULT_BUFFER,
) -> tuple[I64, I64, F64]:
    """All ground-truth/prediction pairs of the same data row with IoU > 0, as index
    arrays into ``gt`` and ``dt`` and their IoUs; points and polylines are buffered by
    ``buffer`` pixels and compared with each other only."""
    g_vec, d_vec = gt.is_vector(), dt.is_vector()
    if not g_vec.any() and not d_vec.any():
        return _plain_pairs(gt, dt, iou_type=iou_type, legacy=legacy)
    gi, di = np.nonzero(~g_vec)[0], np.nonzero(~d_vec)[0]
    pg, pd, piou = _plain_pairs(gt.take(gi), dt.take(di), iou_type=iou_type, legacy=legacy)
    gv, dv = np.nonzero(g_vec)[0], np.nonzero(d_vec)[0]
    # candidates: boxes grown by the buffer overlap
    grow = np.array([-buffer, -buffer, buffer, buffer])
    vg, vd = gt.take(gv), dt.take(dv)
    cg, cd, _ = _plain_pairs(
        Objects(vg.row, vg.cls, vg.boxes + grow), Objects(vd.row, vd.cls, vd.boxes + grow)
    )
    g_vectors, d_vectors = gt.vectors or [], dt.vectors or []
    geoms = [g_vectors[int(i)] for i in gv] + [d_vectors[int(j)] for j in dv]
    viou = vector_iou_pairs(
        [np.zeros((0, 4)) if g is None else g for g in geoms], cg, cd + len(gv), buffer=buffer
    )
    keep = viou > 0
    return (
        np.concatenate([gi[pg], gv[cg[keep]]]),
        np.concatenate([di[pd], dv[cd[keep]]]),
        np.concatenate([piou, np.clip(viou[keep], 0.0, 1.0)]),
    )


def _plain_pairs(
    gt: Objects,
    dt: Objects,
    *,
    iou_type: Literal["bbox", "segm"] = "bbox",
    legacy: bool = False,
) -> tuple[I64, I64, F64]:
    """:func:`iou_pairs` of boxes or masks."""
    g_order = np.argsort(gt.row, kind="stable")
    d_order = np.argsort(dt.row, kind="stable")
    rows, gs, ge, ds, de = _row_blocks(gt.row[g_order], dt.row[d_order])
    empty = np.zeros(0, np.int64)
    if iou_type == "bbox":
        gb = np.ascontiguousarray(gt.boxes[g_order], dtype=np.float64).reshape(-1, 4)
        db = np.ascontiguousarray(dt.boxes[d_order], dtype=np.float64).reshape(-1, 4)
        one = 1.0 if legacy else 0.0
        n = _box_pairs(gs, ge, ds, de, gb, db, one, True, empty, empty, np.zeros(0))
        pg, pd, piou = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.float64)
        _box_pairs(gs, ge, ds, de, gb, db, one, False, pg, pd, piou)
        return g_order[pg], d_order[pd], piou
    if gt.rles is None or dt.rles is None:
        raise ValueError("iou_type='segm' needs the masks (rles) of both sides")
    parts_g: list[I64] = []
    parts_d: list[I64] = []
    parts_i: list[F64] = []
    for r in range(len(rows)):
        gi = g_order[gs[r] : ge[r]]
        di = d_order[ds[r] : de[r]]
        m = mask_iou([gt.rles[int(i)] for i in gi], [dt.rles[int(j)] for j in di])
        a, b = np.nonzero(m > 0)
        parts_g.append(gi[a])
        parts_d.append(di[b])
        parts_i.append(np.clip(m[a, b], 0.0, 1.0))
    if not parts_g:
        return empty, empty.copy(), np.zeros(0)
    return np.concatenate(parts_g), np.concatenate(parts_d), np.concatenate(parts_i)


def class_thresholds(
    cls: npt.ArrayLike, default: float, per_class: Mapping[int, float] | None = None
) -> F64:
    """The threshold of each object: ``per_class[class id]`` where given, else ``default``."""
    c = np.asarray(cls, dtype=np.int64).reshape(-1)
    out = np.full(len(c), float(default), dtype=np.float64)
    for k, v in (per_class or {}).items():
        out[c == int(k)] = float(v)
    return out


@numba.njit(cache=True)
def _greedy(
    pg: I64, pd: I64, piou: F64, same: npt.NDArray[np.bool_], n_gt: int, n_dt: int, thr: F64
) -> tuple[I64, I64, F64]:
    """Pairs already sorted best first: take each while both sides are free and its IoU
    exceeds its threshold (``thr`` per pair)."""
    g_match = np.full(n_gt, -1, np.int64)
    d_match = np.full(n_dt, -1, np.int64)
    g_iou = np.full(n_gt, np.nan)
    lowest = thr.min() if len(thr) else 0.0
    for k in range(len(pg)):
        if piou[k] <= lowest:
            break
        if not same[k] or piou[k] <= thr[k]:
            continue
        g, d = pg[k], pd[k]
        if g_match[g] < 0 and d_match[d] < 0:
            g_match[g] = d
            d_match[d] = g
            g_iou[g] = piou[k]
    return g_match, d_match, g_iou


def _pair_order(gt: Objects, dt: Objects, pg: I64, pd: I64, piou: F64) -> I64:
    """Best IoU first; ties broken by content (higher score, then the boxes)."""
    score = dt.score[pd] if dt.score is not None else np.ones(len(pd))
    keys = [
        gt.boxes[pg, 3],
        gt.boxes[pg, 2],
        gt.boxes[pg, 1],
        gt.boxes[pg, 0],
        dt.boxes[pd, 3],
        dt.boxes[pd, 2],
        dt.boxes[pd, 1],
        dt.boxes[pd, 0],
        gt.cls[pg] != dt.cls[pd],
        -score,
        -piou,
    ]
    return np.lexsort(keys)


def _per_dt_best(
    pd: I64, pg: I64, piou: F64, mask: npt.NDArray[np.bool_], n_dt: int
) -> tuple[F64, I64]:
    """For each prediction the best IoU among the selected pairs and its ground truth."""
    best = np.zeros(n_dt, np.float64)
    arg = np.full(n_dt, -1, np.int64)
    sel = np.nonzero(mask)[0]
    if len(sel):
        order = sel[np.lexsort((pg[sel], -piou[sel], pd[sel]))]
        first = np.ones(len(order), bool)
        first[1:] = pd[order][1:] != pd[order][:-1]
        top = order[first]
        best[pd[top]] = piou[top]
        arg[pd[top]] = pg[top]
    return best, arg


def tide_errors(
    gt: Objects,
    dt: Objects,
    pairs: tuple[I64, I64, F64],
    *,
    dt_fp: npt.NDArray[np.bool_],
    gt_fn: npt.NDArray[np.bool_],
    gt_usable: npt.NDArray[np.bool_] | None = None,
    foreground: float | F64 = 0.5,
    background: float = TIDE_BACKGROUND,
) -> tuple[Obj, Obj]:
    """TIDE error type of each false-positive prediction and false-negative ground truth
    (see the module docstring); ``gt_usable`` leaves out ground truth such as crowds;
    ``foreground`` is one threshold or one per prediction."""
    pg, pd, piou = pairs
    usable = np.ones(len(gt), bool) if gt_usable is None else gt_usable
    keep = usable[pg]
    same = keep & (gt.cls[pg] == dt.cls[pd])
    other = keep & ~same
    same_best, same_arg = _per_dt_best(pd, pg, piou, same, len(dt))
    other_best, other_arg = _per_dt_best(pd, pg, piou, other, len(dt))
    all_best = np.maximum(same_best, other_best)

    err = np.full(len(dt), "", dtype=object)
    blamed = np.full(len(dt), -1, np.int64)
    todo = dt_fp.copy()
    loc = todo & (same_best >= background) & (same_best <= foreground)
    err[loc], blamed[loc] = "localisation", same_arg[loc]
    todo &= ~loc
    cls = todo & (other_best > foreground)
    err[cls], blamed[cls] = "classification", other_arg[cls]
    todo &= ~cls
    dup = todo & (same_best > foreground)
    err[dup] = "duplicate"
    todo &= ~dup
    bkg = todo & (all_best < background)
    err[bkg] = "background"
    todo &= ~bkg
    err[todo], blamed[todo] = "both", other_arg[todo]

    gt_err = np.full(len(gt), "", dtype=object)
    covered = np.zeros(len(gt), bool)
    covered[blamed[blamed >= 0]] = True
    gt_err[gt_fn & ~covered] = "missed"
    return err, gt_err


def match(
    gt: Objects,
    dt: Objects,
    *,
    iou_threshold: float = 0.5,
    confidence: float | F64 = 0.5,
    cross_class: bool = False,
    iou_type: Literal["bbox", "segm"] = "bbox",
    legacy: bool = False,
    class_iou: Mapping[int, float] | None = None,
    buffer: float = DEFAULT_BUFFER,
) -> Matching:
    """Labelbox-style greedy matching (see the module docstring). ``confidence`` is one
    threshold or one per prediction; ``class_iou`` overrides ``iou_threshold`` for the
    ground truth of the given class ids; ``buffer`` is the radius points and polylines
    are buffered by."""
    score = dt.score if dt.score is not None else np.ones(len(dt))
    kept = score >= confidence
    kept_idx = np.nonzero(kept)[0]
    kdt = dt.take(kept_idx)
    pg, pd_k, piou = iou_pairs(gt, kdt, iou_type=iou_type, legacy=legacy, buffer=buffer)
    order = _pair_order(gt, kdt, pg, pd_k, piou)
    pg, pd_k, piou = pg[order], pd_k[order], piou[order]
    same = np.ones(len(pg), bool) if cross_class else gt.cls[pg] == kdt.cls[pd_k]
    pair_thr = class_thresholds(gt.cls[pg], iou_threshold, class_iou)
    g_match_k, d_match, gt_iou = _greedy(pg, pd_k, piou, same, len(gt), len(kdt), pair_thr)

    gt_match = np.full(len(gt), -1, np.int64)
    gt_match[g_match_k >= 0] = kept_idx[g_match_k[g_match_k >= 0]]
    dt_match = np.full(len(dt), -1, np.int64)
    dt_match[kept_idx] = d_match
    dt_iou = np.full(len(dt), np.nan)
    dt_iou[gt_match[gt_match >= 0]] = gt_iou[gt_match >= 0]

    matched_gt = gt_match >= 0
    same_class = np.zeros(len(gt), bool)
    same_class[matched_gt] = gt.cls[matched_gt] == dt.cls[gt_match[matched_gt]]
    gt_tp = matched_gt & same_class
    gt_status = np.where(gt_tp, "TP", "FN").astype(object)
    dt_tp = np.zeros(len(dt), bool)
    dt_tp[gt_match[gt_tp]] = True
    dt_status = np.where(dt_tp, "TP", np.where(kept, "FP", "ignored")).astype(object)

    dt_fp_k = (dt_status == "FP")[kept_idx]
    dt_err_k, gt_error = tide_errors(
        gt,
        kdt,
        (pg, pd_k, piou),
        dt_fp=dt_fp_k,
        gt_fn=~gt_tp,
        foreground=class_thresholds(kdt.cls, iou_threshold, class_iou),
    )
    dt_error = np.full(len(dt), "", dtype=object)
    dt_error[kept_idx] = dt_err_k
    cross = matched_gt & ~same_class
    gt_error[cross] = "classification"
    dt_error[gt_match[cross]] = "classification"
    return Matching(
        gt_status=gt_status,
        gt_match=gt_match,
        gt_iou=gt_iou,
        gt_error=gt_error,
        dt_status=dt_status,
        dt_match=dt_match,
        dt_iou=dt_iou,
        dt_error=dt_error,
        dt_kept=kept,
    )
