"""Run-level curves of an evaluation: VOC AP and the precision/recall curves.

For box runs (``iou_type="bbox"``) :meth:`Workspace.evaluate` adds PASCAL VOC AP at IoU
0.5 (:mod:`errorscope.core.vocap`: 11-point and every-point, ``difficult`` ground truth
ignored; crowd ground truth is treated as difficult) on every prediction whatever its
confidence, and stores two families of precision/recall curves per class:

* ``coco``: pycocotools' ``eval["precision"]`` (and ``eval["scores"]``) at each of the
  ten IoU thresholds, area "all", maxDets 100, read at the 101 recall thresholds
  0, 0.01, ..., 1; a class without ground truth has null precision (pycocotools: -1);
* ``voc``: one point per (non-ignored) detection of the class in score order, with the
  cumulative recall and precision and the detection's score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from errorscope.core.cocoeval import RECALL_THRESHOLDS, CocoEval
from errorscope.core.vocap import VocAp, voc_evaluate
from errorscope.errors import ErrorscopeError, NotFoundError
from errorscope.store import catalog, results
from errorscope.store.database import Database

__all__ = ["VOC_IOU", "CurvesMixin", "add_run_curves", "coco_curves", "voc_curves"]

#: The IoU threshold of VOC AP.
VOC_IOU = 0.5
F64 = npt.NDArray[np.float64]
Curve = Literal["coco", "voc"]


def _floats(table: pa.Table, name: str) -> F64:
    column = pc.cast(table.column(name), pa.float64())
    return np.array(pc.fill_null(column, np.nan).to_numpy(), dtype=np.float64)


def _ints(table: pa.Table, name: str) -> npt.NDArray[np.int64]:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.int64)


def _flags(table: pa.Table, name: str) -> npt.NDArray[np.bool_]:
    column = pc.fill_null(table.column(name), False)
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=bool)


def _boxes(table: pa.Table) -> F64:
    cols = [_floats(table, c) for c in ("x1", "y1", "x2", "y2")]
    return np.stack(cols, axis=1).reshape(-1, 4)


def _masked(values: F64, invalid: npt.NDArray[np.bool_]) -> pa.Array:
    return pa.array(values, pa.float64(), mask=invalid)


def _curve_table(
    curve: str, class_id: Any, iou: Any, point: Any, recall: Any, precision: Any, score: Any
) -> pa.Table:
    return pa.table(
        {
            "curve": pa.array(np.full(len(class_id), curve, dtype=object), pa.string()),
            "class_id": pa.array(class_id, pa.int32()),
            "iou": pa.array(iou, pa.float64()),
            "point": pa.array(point, pa.int32()),
            "recall": recall,
            "precision": precision,
            "score": score,
        }
    )


def coco_curves(ev: CocoEval) -> pa.Table:
    """The ``coco`` curves of an evaluation: one row per (IoU threshold, class, recall
    threshold), area "all", maxDets 100."""
    prec = ev.precision[:, :, :, 0, -1].transpose(0, 2, 1)  # [T, K, R]
    t, k, r = (a.ravel() for a in np.meshgrid(*map(np.arange, prec.shape), indexing="ij"))
    flat = prec.ravel()
    invalid = flat == -1
    if ev.scores.size:
        score = ev.scores[:, :, :, 0, -1].transpose(0, 2, 1).ravel()
    else:
        score = np.full(len(flat), -1.0)
    return _curve_table(
        "coco",
        ev.class_ids[k],
        ev.iou_thresholds[t],
        r,
        pa.array(RECALL_THRESHOLDS[r], pa.float64()),
        _masked(flat, invalid),
        _masked(score, invalid | (score == -1)),
    )


def voc_curves(voc: VocAp, dt_score: F64) -> pa.Table:
    """The ``voc`` curves: per class, one row per non-ignored detection in score order."""
    lengths = np.array([len(d) for d in voc.detections], np.int64)
    if not lengths.sum():
        return _curve_table("voc", [], [], [], pa.array([], pa.float64()), [], [])
    rec = np.concatenate(voc.recall)
    prec = np.concatenate(voc.precision)
    det = np.concatenate(voc.detections)
    point = np.arange(len(det)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return _curve_table(
        "voc",
        np.repeat(voc.class_ids, lengths),
        np.full(len(det), VOC_IOU),
        point,
        _masked(rec, np.isnan(rec)),
        pa.array(prec, pa.float64()),
        pa.array(dt_score[det], pa.float64()),
    )


def add_run_curves(
    summary: dict[str, Any],
    coco: CocoEval | None,
    gt_t: pa.Table,
    dt_t: pa.Table,
    *,
    iou_type: str,
    legacy: bool = False,
) -> pa.Table | None:
    """Add VOC AP to ``summary`` (key ``voc``, and ``voc_ap`` per class of
    ``summary["per_class"]``) for box runs, and return the curves to store (None if the
    run has no spatial predictions)."""
    parts: list[pa.Table] = []
    if coco is not None:
        parts.append(coco_curves(coco))
    if iou_type == "bbox" and dt_t.num_rows:
        dt_score = _floats(dt_t, "confidence")
        voc = voc_evaluate(
            _ints(gt_t, "data_row_id"),
            _ints(gt_t, "class_id"),
            _boxes(gt_t),
            _flags(gt_t, "difficult") | _flags(gt_t, "iscrowd"),
            _ints(dt_t, "data_row_id"),
            _ints(dt_t, "class_id"),
            _boxes(dt_t),
            dt_score,
            iou_threshold=VOC_IOU,
            legacy=legacy,
        )

        def num(v: float) -> float | None:
            return None if np.isnan(v) else float(v)

        summary["voc"] = {"map_11": num(voc.map_11), "map_all": num(voc.map_all), "iou": VOC_IOU}
        names = dict(
            zip(
                _ints(gt_t, "class_id").tolist() + _ints(dt_t, "class_id").tolist(),
                gt_t.column("class_name").to_pylist() + dt_t.column("class_name").to_pylist(),
                strict=True,
            )
        )
        per_class: dict[str, dict[str, Any]] = summary.get("per_class", {})
        for c, ap in zip(voc.class_ids.tolist(), voc.ap.tolist(), strict=True):
            if names[c] in per_class:
                per_class[names[c]]["voc_ap"] = num(ap)
        parts.append(voc_curves(voc, dt_score))
    return pa.concat_tables(parts) if parts else None


class CurvesMixin:
    """The curve methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def pr_curves(
        self,
        run: str,
        *,
        iou_thresholds: Sequence[float] | None = None,
        curve: Curve = "coco",
    ) -> pa.Table:
        """The precision/recall curves stored by the last :meth:`evaluate` of a box or
        mask run, one row per point: ``class_name``, ``class_id``, ``iou``, ``point``,
        ``recall``, ``precision`` and ``score`` (see :mod:`errorscope.sdk.curves`).
        ``curve="coco"``: COCO's 101 recall thresholds at each IoU threshold (or only at
        ``iou_thresholds``); ``curve="voc"``: VOC's per-detection points at IoU 0.5."""
        if curve not in ("coco", "voc"):
            raise ErrorscopeError(f"curve must be 'coco' or 'voc', not {curve!r}")
        info = catalog.get_run(self.db, run)
        if results.load_evaluation(self.db, info.id) is None:
            raise NotFoundError(f"model run {run!r} has not been evaluated: run evaluate first")
        table = results.pr_curves(self.db, info.id, curve)
        if iou_thresholds is None:
            return table
        iou = _floats(table, "iou")
        want = np.asarray(list(iou_thresholds), np.float64)
        keep = np.isclose(iou[:, None], want[None, :]).any(axis=1) if len(want) else iou < 0
        return table.filter(pa.array(keep))
