"""The scoring of each family of classes for :mod:`errorscope.sdk.evaluation`.

Each ``evaluate_*`` function takes the labels and the predictions of one family (Arrow
tables from :func:`errorscope.store.results.evaluation_inputs`) and returns a
:class:`Family`: per-object result tables, (data row, class) counts, per-class entries,
its part of the summary and a confusion matrix.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from errorscope.core import metrics
from errorscope.core.classmetrics import classification_scores
from errorscope.core.cocoeval import STAT_NAMES, CocoEval, CocoObjects, evaluate_coco
from errorscope.core.geometry import polygon_area, rle_area, rle_from_polygons
from errorscope.core.iou import vector_segments
from errorscope.core.matching import Objects, class_thresholds, iou_pairs, match, tide_errors
from errorscope.core.progress import report
from errorscope.core.textmetrics import Spans, entity_scores, span_results
from errorscope.core.types import Kind
from errorscope.errors import ErrorscopeError

__all__ = ["COCO_STATS", "Family", "evaluate_radio", "evaluate_spatial", "evaluate_text", "num"]

COCO_STATS = STAT_NAMES  # the 12 standard stats, in pycocotools order
Mode = Literal["coco", "labelbox"]
IouType = Literal["bbox", "segm"]
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Obj = npt.NDArray[np.object_]


def num(value: Any) -> float | None:
    """JSON-safe float: NaN becomes None."""
    v = float(value)
    return None if math.isnan(v) else v


def _col(table: pa.Table, name: str) -> npt.NDArray[Any]:
    out: npt.NDArray[Any] = table.column(name).to_numpy(zero_copy_only=False)
    return out


def _floats(table: pa.Table, name: str) -> F64:
    column = pc.cast(table.column(name), pa.float64())
    return np.array(pc.fill_null(column, np.nan).to_numpy(), dtype=np.float64)


@dataclass
class Family:
    """What one family of classes contributes to the evaluation."""

    objects: list[pa.Table] = field(default_factory=list)
    counts: metrics.Counts | None = None
    per_class: dict[str, dict[str, Any]] = field(default_factory=dict)
    class_ids: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    confusion: dict[str, Any] | None = None
    coco: CocoEval | None = None  # spatial: COCOeval on every prediction (for its curves)


def _objects(
    source: str,
    table: pa.Table,
    status: Obj,
    matched: I64,
    other_ids: I64,
    iou: F64,
    error: Obj,
) -> pa.Table:
    ids = _col(table, "id").astype(np.int64)
    matched_id = np.where(
        matched >= 0, other_ids[np.maximum(matched, 0)] if len(other_ids) else 0, -1
    )
    conf = _floats(table, "confidence") if "confidence" in table.column_names else None
    return pa.table(
        {
            "source": pa.array(np.full(len(ids), source, dtype=object), pa.string()),
            "annotation_id": pa.array(ids, pa.int64()),
            "data_row_id": pa.array(_col(table, "data_row_id").astype(np.int64), pa.int64()),
            "class_id": pa.array(_col(table, "class_id").astype(np.int32), pa.int32()),
            "status": pa.array(status, pa.string()),
            "matched_id": pa.array(matched_id, pa.int64(), mask=matched < 0),
            "iou": pa.array(iou, pa.float64(), mask=np.isnan(iou)),
            "error_type": pa.array(error, pa.string()),
            "confidence": pa.array(
                np.full(len(ids), np.nan) if conf is None else conf,
                pa.float64(),
                mask=np.ones(len(ids), bool) if conf is None else np.isnan(conf),
            ),
        }
    )


def _lift(match: I64, index: I64) -> I64:
    """Matches into a subset, re-expressed as indices into the whole (-1 stays -1)."""
    out = np.full(len(match), -1, np.int64)
    out[match >= 0] = index[match[match >= 0]]
    return out


def _confusion(names: list[str], matrix: npt.NDArray[Any]) -> dict[str, Any]:
    return {"labels": [*names, "None"], "matrix": np.asarray(matrix).astype(int).tolist()}


def _class_entry(c: metrics.Counts, i: int, **extra: Any) -> dict[str, Any]:
    return {
        "precision": num(c.precision[i]),
        "recall": num(c.recall[i]),
        "f1": num(c.f1[i]),
        "tp": int(c.tp[i]),
        "fp": int(c.fp[i]),
        "fn": int(c.fn[i]),
        "iou": num(c.iou[i]),
        "mean_confidence": num(c.mean_confidence[i]),
        **extra,
    }


# -- spatial -------------------------------------------------------------------------------
def _rles(table: pa.Table) -> list[dict[str, Any]]:
    """pycocotools RLE of each annotation: masks as stored, polygons rasterised, boxes as
    four-corner polygons (as pycocotools does for a box-only result)."""
    out: list[dict[str, Any]] = []
    cols = table.select(
        [
            "kind",
            "coords",
            "rle_counts",
            "rle_h",
            "rle_w",
            "x1",
            "y1",
            "x2",
            "y2",
            "width",
            "height",
        ]
    ).to_pylist()
    for r in cols:
        h = r["rle_h"] if r["rle_counts"] is not None else r["height"]
        w = r["rle_w"] if r["rle_counts"] is not None else r["width"]
        if h is None or w is None:
            raise ErrorscopeError(
                "mask evaluation needs every image's size: a data row has no width/height"
            )
        if r["kind"] == Kind.MASK:
            counts = r["rle_counts"]
        elif r["kind"] == Kind.POLYGON:
            counts = rle_from_polygons(r["coords"], h, w)
        else:
            x1, y1, x2, y2 = r["x1"], r["y1"], r["x2"], r["y2"]
            counts = rle_from_polygons([[x1, y1, x1, y2, x2, y2, x2, y1]], h, w)
        out.append({"size": [h, w], "counts": counts.encode("ascii")})
    return out


def _areas(table: pa.Table) -> F64:
    """Area as pycocotools takes it from a COCO export: the stored one, else the
    geometry's (box w*h, polygon shoelace, mask pixel count)."""
    area = _floats(table, "area")
    kinds = _col(table, "kind")
    w = _floats(table, "x2") - _floats(table, "x1")
    h = _floats(table, "y2") - _floats(table, "y1")
    missing = np.isnan(area)
    area[missing] = (w * h)[missing]
    for i in np.nonzero(missing & (kinds == Kind.POLYGON))[0]:
        area[i] = polygon_area(table.column("coords")[int(i)].as_py())
    for i in np.nonzero(missing & (kinds == Kind.MASK))[0]:
        r = table.slice(int(i), 1).to_pylist()[0]
        area[i] = rle_area(r["rle_counts"], r["rle_h"], r["rle_w"])
    return area


def _vectors(table: pa.Table) -> list[F64 | None] | None:
    """Segments of the points and polylines (None for other kinds; None if there are none)."""
    kinds = _col(table, "kind")
    idx = np.nonzero((kinds == Kind.POINT) | (kinds == Kind.POLYLINE))[0]
    if not len(idx):
        return None
    out: list[F64 | None] = [None] * len(kinds)
    coords = table.column("coords").take(pa.array(idx)).to_pylist()
    for i, c in zip(idx.tolist(), coords, strict=True):
        out[i] = vector_segments(c or [], str(kinds[i]))
    return out


def _spatial_objects(table: pa.Table, iou_type: IouType, vectors: bool = False) -> Objects:
    boxes = np.stack([_floats(table, c) for c in ("x1", "y1", "x2", "y2")], axis=1).reshape(-1, 4)
    return Objects(
        vectors=_vectors(table) if vectors else None,
        row=_col(table, "data_row_id").astype(np.int64),
        cls=_col(table, "class_id").astype(np.int64),
        boxes=boxes,
        score=_floats(table, "confidence") if "confidence" in table.column_names else None,
        rles=_rles(table) if iou_type == "segm" else None,
    )


def _coco(
    gt_t: pa.Table, dt_t: pa.Table, gt: Objects, dt: Objects, iou_type: IouType
) -> Callable[[npt.NDArray[np.bool_]], CocoEval]:
    """A function running COCOeval on a subset of the predictions."""

    def xywh(b: F64) -> F64:
        return np.stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]], axis=1)

    g = CocoObjects(
        image_id=gt.row,
        class_id=gt.cls,
        boxes=xywh(gt.boxes),
        area=_areas(gt_t),
        iscrowd=_col(gt_t, "iscrowd").astype(bool),
        score=None,
        rles=None if gt.rles is None else list(gt.rles),
    )
    if iou_type == "segm":
        from pycocotools import mask as mask_utils

        assert dt.rles is not None
        d_area = np.array([float(mask_utils.area(r)) for r in dt.rles], dtype=np.float64)
    else:
        d_area = xywh(dt.boxes)[:, 2] * xywh(dt.boxes)[:, 3]
    images = np.union1d(gt.row, dt.row).astype(np.int64)
    classes = np.union1d(gt.cls, dt.cls).astype(np.int64)

    def run(keep: npt.NDArray[np.bool_]) -> CocoEval:
        idx = np.nonzero(keep)[0]
        d = CocoObjects(
            image_id=dt.row[idx],
            class_id=dt.cls[idx],
            boxes=xywh(dt.boxes[idx]),
            area=d_area[idx],
            iscrowd=np.zeros(len(idx), bool),
            score=None if dt.score is None else dt.score[idx],
            rles=None if dt.rles is None else [dt.rles[int(i)] for i in idx],
        )
        return evaluate_coco(g, d, image_ids=images, iou_type=iou_type, class_ids=classes)

    return run


def evaluate_spatial(
    gt_t: pa.Table,
    dt_t: pa.Table,
    *,
    iou: float,
    confidence: float,
    mode: Mode,
    iou_type: IouType,
    cross_class: bool = False,
    legacy_iou: bool = False,
    class_iou: Mapping[int, float] | None = None,
    class_confidence: Mapping[int, float] | None = None,
    point_buffer: float = 70.0,
) -> Family:
    """Boxes, polygons, masks, points and polylines; ``class_iou`` / ``class_confidence``
    override ``iou`` / ``confidence`` for the given class ids (per-object matching and
    counts only: COCO AP/AR use every prediction and all ten COCO thresholds). In
    Labelbox mode points and polylines are buffered by ``point_buffer`` pixels and
    compared by the IoU of those areas (COCO mode compares their boxes, as pycocotools)."""
    if iou_type == "segm":  # points and polylines have no area
        keep_kinds = pa.array([str(Kind.BBOX), str(Kind.POLYGON), str(Kind.MASK)])
        gt_t = gt_t.filter(pc.is_in(gt_t.column("kind"), keep_kinds))
        dt_t = dt_t.filter(pc.is_in(dt_t.column("kind"), keep_kinds))
    vectors = mode == "labelbox"
    gt = _spatial_objects(gt_t, iou_type, vectors)
    dt = _spatial_objects(dt_t, iou_type, vectors)
    assert dt.score is not None
    dt_conf = class_thresholds(dt.cls, confidence, class_confidence)
    kept = dt.score >= dt_conf
    fam = Family()
    report("evaluating boxes", 0, 3)
    coco = _coco(gt_t, dt_t, gt, dt, iou_type)
    full = coco(np.ones(len(dt), bool))
    fam.coco = full
    fam.summary["coco"] = {k: float(v) for k, v in zip(COCO_STATS, full.stats, strict=True)}
    ap = dict(zip(full.class_ids.tolist(), full.per_class_ap().tolist(), strict=True))
    report("evaluating boxes", 1, 3)

    crowd = _col(gt_t, "iscrowd").astype(bool)
    if mode == "coco":
        level = {c: _coco_level(full.iou_thresholds, v) for c, v in (class_iou or {}).items()}
        k_default = _coco_level(full.iou_thresholds, iou)
        ev = full if kept.all() else coco(kept)
        kept_idx = np.nonzero(kept)[0]
        k_gt = np.array([level.get(int(c), k_default) for c in gt.cls], np.int64)
        k_dt = np.array([level.get(int(c), k_default) for c in dt.cls[kept_idx]], np.int64)
        at_gt = (k_gt, np.arange(len(gt)))
        at_dt = (k_dt, np.arange(len(kept_idx)))
        gt_match_k = ev.gt_match[at_gt] if len(gt) else np.zeros(0, np.int64)
        gt_match = _lift(gt_match_k, kept_idx)
        gt_status = np.where(ev.gt_ignore, "ignored", np.where(gt_match >= 0, "TP", "FN")).astype(
            object
        )
        dt_match = np.full(len(dt), -1, np.int64)
        dt_match[kept_idx] = ev.dt_match[at_dt]
        dt_iou = np.full(len(dt), np.nan)
        dt_iou[kept_idx] = ev.dt_iou[at_dt]
        ignored = np.ones(len(dt), bool)
        ignored[kept_idx] = ev.dt_ignore[at_dt]
        dt_status = np.where(ignored, "ignored", np.where(dt_match >= 0, "TP", "FP")).astype(object)
        dt_match[ignored] = -1
        dt_iou[ignored] = np.nan
        gt_iou = np.full(len(gt), np.nan)
        gt_iou[gt_match >= 0] = dt_iou[gt_match[gt_match >= 0]]
        kdt = dt.take(kept_idx)
        dt_err_k, gt_error = tide_errors(
            gt,
            kdt,
            iou_pairs(gt, kdt, iou_type=iou_type),
            dt_fp=(dt_status == "FP")[kept_idx],
            gt_fn=gt_status == "FN",
            gt_usable=~crowd,
            foreground=class_thresholds(kdt.cls, iou, class_iou),
        )
        dt_error = np.full(len(dt), "", dtype=object)
        dt_error[kept_idx] = dt_err_k
    else:
        m = match(
            gt,
            dt,
            iou_threshold=iou,
            confidence=dt_conf,
            iou_type=iou_type,
            cross_class=cross_class,
            legacy=legacy_iou,
            class_iou=class_iou,
            buffer=point_buffer,
        )
        gt_status, gt_match, gt_iou, gt_error = m.gt_status, m.gt_match, m.gt_iou, m.gt_error
        dt_status, dt_match, dt_iou, dt_error = m.dt_status, m.dt_match, m.dt_iou, m.dt_error
    report("evaluating boxes", 2, 3)

    gt_ids = _col(gt_t, "id").astype(np.int64)
    dt_ids = _col(dt_t, "id").astype(np.int64)
    fam.objects.append(_objects("label", gt_t, gt_status, gt_match, dt_ids, gt_iou, gt_error))
    fam.objects.append(_objects("prediction", dt_t, dt_status, dt_match, gt_ids, dt_iou, dt_error))
    rc = metrics.by_row_class(
        gt.row, gt.cls, gt_status, gt_iou, dt.row, dt.cls, dt_status, dt.score
    )
    fam.counts = rc
    names = _class_names(gt_t, dt_t)
    per = metrics.by_class(rc)
    for i, c in enumerate(per.cls.tolist()):
        fam.per_class[names[c]] = _class_entry(per, i, ap=num(ap.get(c, math.nan)))
        fam.class_ids[names[c]] = c

    cross = match(
        gt,
        dt,
        iou_threshold=iou,
        confidence=dt_conf,
        cross_class=True,
        iou_type=iou_type,
        legacy=legacy_iou,
        class_iou=class_iou,
        buffer=point_buffer,
    )
    order = sorted(names, key=lambda c: names[c])
    matrix = metrics.confusion_matrix(
        order,
        gt.cls,
        cross.gt_match,
        ~crowd if mode == "coco" else np.ones(len(gt), bool),
        dt.cls,
        cross.dt_kept,
    )
    fam.confusion = _confusion([names[c] for c in order], matrix)
    report("evaluating boxes", 3, 3)
    return fam


def _coco_level(thresholds: F64, iou: float) -> int:
    """Index of ``iou`` among COCO's IoU thresholds (per-object COCO matching uses one)."""
    t = np.nonzero(np.isclose(thresholds, iou))[0]
    if not len(t):
        raise ErrorscopeError(
            f"COCO matching works at IoU 0.50, 0.55, ..., 0.95, not {iou}: pick one "
            "of those or use mode 'labelbox'"
        )
    return int(t[0])


def _class_names(*tables: pa.Table) -> dict[int, str]:
    out: dict[int, str] = {}
    for t in tables:
        for c, n in zip(_col(t, "class_id").tolist(), _col(t, "class_name").tolist(), strict=True):
            out[int(c)] = str(n)
    return out


# -- text spans ----------------------------------------------------------------------------
def evaluate_text(
    gt_t: pa.Table,
    dt_t: pa.Table,
    *,
    confidence: float,
    class_confidence: Mapping[int, float] | None = None,
) -> Family:
    conf = _floats(dt_t, "confidence")
    conf_thr = class_thresholds(_col(dt_t, "class_id"), confidence, class_confidence)
    kept = conf >= conf_thr
    kept_idx = np.nonzero(kept)[0]

    def spans(t: pa.Table, idx: I64 | None = None) -> Spans:
        def sel(a: npt.NDArray[Any]) -> npt.NDArray[Any]:
            return a if idx is None else a[idx]

        return Spans(
            row=sel(_col(t, "data_row_id").astype(np.int64)),
            start=sel(_col(t, "span_start").astype(np.int64)),
            end=sel(_col(t, "span_end").astype(np.int64)),
            type=sel(_col(t, "class_name").astype(object)),
        )

    gold, pred = spans(gt_t), spans(dt_t, kept_idx)
    scores = entity_scores(gold, pred)
    res = span_results(gold, pred)
    fam = Family()
    fam.summary["entity"] = {
        "precision": float(scores.micro["precision"]),
        "recall": float(scores.micro["recall"]),
        "f1": float(scores.micro["f1"]),
        "gold": scores.total_gold,
        "predicted": scores.total_pred,
        "correct": scores.total_tp,
        "partial": {k: float(v) for k, v in scores.partial.items()},
    }
    n_dt = len(conf)
    dt_status = np.full(n_dt, "ignored", dtype=object)
    dt_status[kept_idx] = res.pred_status
    dt_match = np.full(n_dt, -1, np.int64)
    dt_match[kept_idx] = res.pred_match
    dt_iou = np.full(n_dt, np.nan)
    dt_iou[kept_idx] = np.where(res.pred_status == "TP", res.pred_iou, np.nan)
    dt_error = np.full(n_dt, "", dtype=object)
    dt_error[kept_idx] = res.pred_error
    gt_match = _lift(res.gold_match, kept_idx)
    gt_iou = np.where(res.gold_status == "TP", res.gold_iou, np.nan)
    gt_ids = _col(gt_t, "id").astype(np.int64)
    dt_ids = _col(dt_t, "id").astype(np.int64)
    fam.objects.append(
        _objects("label", gt_t, res.gold_status, gt_match, dt_ids, gt_iou, res.gold_error)
    )
    fam.objects.append(_objects("prediction", dt_t, dt_status, dt_match, gt_ids, dt_iou, dt_error))
    g_cls = _col(gt_t, "class_id").astype(np.int64)
    d_cls = _col(dt_t, "class_id").astype(np.int64)
    fam.counts = metrics.by_row_class(
        gold.row, g_cls, res.gold_status, gt_iou, _col(dt_t, "data_row_id"), d_cls, dt_status, conf
    )
    names = _class_names(gt_t, dt_t)
    ids = {n: c for c, n in names.items()}
    per = metrics.by_class(fam.counts)
    iou_of = {int(c): float(per.iou[i]) for i, c in enumerate(per.cls.tolist())}
    for i, t in enumerate(scores.types):
        tp, n_gold, n_pred = int(scores.tp[i]), int(scores.n_gold[i]), int(scores.n_pred[i])
        fam.per_class[t] = {
            "precision": float(scores.precision[i]),
            "recall": float(scores.recall[i]),
            "f1": float(scores.f1[i]),
            "tp": tp,
            "fp": n_pred - tp,
            "fn": n_gold - tp,
            "iou": num(iou_of.get(ids[t], math.nan)),
            "partial_f1": float(scores.partial_f1[i]),
        }
        fam.class_ids[t] = ids[t]

    # confusion: exact boundaries, any type (spans as 1-D boxes, IoU 1 only)
    def boxes(t: pa.Table) -> F64:
        s, e = _floats(t, "span_start"), _floats(t, "span_end")
        return np.stack([s, np.zeros_like(s), e, np.ones_like(s)], axis=1).reshape(-1, 4)

    g_obj = Objects(gold.row, g_cls, boxes(gt_t))
    d_obj = Objects(_col(dt_t, "data_row_id").astype(np.int64), d_cls, boxes(dt_t), conf)
    cross = match(g_obj, d_obj, iou_threshold=1 - 1e-9, confidence=conf_thr, cross_class=True)
    order = sorted(names, key=lambda c: names[c])
    matrix = metrics.confusion_matrix(
        order, g_cls, cross.gt_match, np.ones(len(g_cls), bool), d_cls, cross.dt_kept
    )
    fam.confusion = _confusion([names[c] for c in order], matrix)
    return fam


# -- radio classifications -----------------------------------------------------------------
def evaluate_radio(
    gt_t: pa.Table,
    dt_t: pa.Table,
    *,
    confidence: float,
    class_confidence: Mapping[int, float] | None = None,
) -> Family:
    conf = _floats(dt_t, "confidence")
    kept = conf >= class_thresholds(_col(dt_t, "class_id"), confidence, class_confidence)
    several = len(set(_col(gt_t, "class_id").tolist()) | set(_col(dt_t, "class_id").tolist())) > 1

    def answer(t: pa.Table) -> Obj:
        first: Obj = np.asarray(
            pc.list_element(t.column("answers"), 0).to_numpy(zero_copy_only=False), dtype=object
        )
        if several:
            return np.array(
                [f"{c}/{a}" for c, a in zip(_col(t, "class_name"), first, strict=True)],
                dtype=object,
            )
        return first

    g_key = list(
        zip(_col(gt_t, "data_row_id").tolist(), _col(gt_t, "class_id").tolist(), strict=True)
    )
    d_key = list(
        zip(_col(dt_t, "data_row_id").tolist(), _col(dt_t, "class_id").tolist(), strict=True)
    )
    dt_index = {k: i for i, k in enumerate(d_key) if kept[i]}
    g_ans, d_ans = answer(gt_t), answer(dt_t)
    gt_match = np.array([dt_index.get(k, -1) for k in g_key], dtype=np.int64)
    y_pred = np.where(gt_match >= 0, d_ans[np.maximum(gt_match, 0)] if len(d_ans) else "", "None")
    scores = classification_scores(g_ans.tolist(), y_pred.astype(object).tolist())
    fam = Family()
    fam.summary["classification"] = {
        "accuracy": float(scores.accuracy),
        "macro_f1": float(scores.macro["f1"]),
        "macro_precision": float(scores.macro["precision"]),
        "macro_recall": float(scores.macro["recall"]),
        "micro_f1": float(scores.micro["f1"]),
    }
    right = (gt_match >= 0) & (y_pred == g_ans)
    gt_status = np.where(right, "TP", "FN").astype(object)
    gt_error = np.where(right, "", np.where(gt_match >= 0, "classification", "missed")).astype(
        object
    )
    dt_match = np.full(len(d_key), -1, np.int64)
    dt_match[gt_match[gt_match >= 0]] = np.nonzero(gt_match >= 0)[0]
    dt_right = np.zeros(len(d_key), bool)
    dt_right[gt_match[right]] = True
    dt_status = np.where(dt_right, "TP", np.where(kept, "FP", "ignored")).astype(object)
    dt_error = np.where(
        dt_status == "FP", np.where(dt_match >= 0, "classification", "spurious"), ""
    ).astype(object)
    one = np.where(right, 1.0, np.nan)
    dt_one = np.where(dt_right, 1.0, np.nan)
    gt_ids = _col(gt_t, "id").astype(np.int64)
    dt_ids = _col(dt_t, "id").astype(np.int64)
    fam.objects.append(_objects("label", gt_t, gt_status, gt_match, dt_ids, one, gt_error))
    fam.objects.append(_objects("prediction", dt_t, dt_status, dt_match, gt_ids, dt_one, dt_error))
    fam.counts = metrics.by_row_class(
        _col(gt_t, "data_row_id"),
        _col(gt_t, "class_id"),
        gt_status,
        one,
        _col(dt_t, "data_row_id"),
        _col(dt_t, "class_id"),
        dt_status,
        conf,
    )
    for name, entry in scores.per_class().items():
        fam.per_class[name] = entry
    fam.confusion = {"labels": list(scores.labels), "matrix": scores.confusion_matrix.tolist()}
    return fam
