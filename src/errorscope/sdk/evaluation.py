"""``Workspace.evaluate``: score a model run against the ground truth and store the results.

The run is evaluated on every data row of the datasets its predictions touch (a row the
model predicted nothing on still has its labels missed). Each family of classes is
scored with its own tools:

* spatial (boxes, polygons, masks, points, polylines): COCO AP/AR (the 12 standard stats
  and AP per class, pycocotools-equal, on every prediction whatever its confidence) and
  per-object matching of the predictions at or above the confidence threshold, either
  COCO's (``mode="coco"``: by descending score, crowds, max 100 detections per image and
  class, at the IoU threshold, which must be one of 0.50, 0.55, ..., 0.95) or Labelbox's
  (``mode="labelbox"``: greedy by highest IoU, one-to-one, ``IoU > threshold``; see
  :mod:`errorscope.core.matching`; crowd ground truth is ignored by COCO matching and an
  ordinary object to Labelbox's); every false positive and negative gets a TIDE error
  type;
* text spans: strict entity precision/recall/F1 as conlleval/seqeval, partial scores,
  and per-span errors (:mod:`errorscope.core.textmetrics`);
* checklist classifications: subset accuracy and per-answer scores of the multi-label
  indicator matrices, as scikit-learn (:mod:`errorscope.sdk.multilabel`);
* radio classifications: accuracy and scikit-learn's precision/recall/F1 per answer
  (:mod:`errorscope.core.classmetrics`); a row without a prediction is predicted "None".

Counts per data row and per class follow :mod:`errorscope.core.metrics`. The confusion
matrix (rows = ground truth, columns = prediction, last = "None") comes from matching
across classes: greedy by IoU for boxes and masks, exact boundaries for text spans, the
answer of the row for radio classes. Box runs also get VOC AP (11-point and every-point)
and every spatial run its precision/recall curves (:mod:`errorscope.sdk.curves`). The
run's label-mistake row scores (``mislabel``, :mod:`errorscope.sdk.labelissues`) are
computed from the new results and stored in the same transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from errorscope.core import metrics
from errorscope.core.progress import report
from errorscope.core.types import SPATIAL_KINDS, Kind
from errorscope.errors import ErrorscopeError, NotFoundError
from errorscope.sdk.curves import add_run_curves
from errorscope.sdk.labelissues import store_mislabel_scores
from errorscope.sdk.multilabel import evaluate_checklist
from errorscope.sdk.scoring import (
    COCO_STATS,
    Family,
    IouType,
    Mode,
    evaluate_radio,
    evaluate_spatial,
    evaluate_text,
    num,
)
from errorscope.store import catalog, results
from errorscope.store.database import Database

__all__ = ["COCO_STATS", "EvaluationMixin"]

F64 = npt.NDArray[np.float64]


def _col(table: pa.Table, name: str) -> npt.NDArray[Any]:
    out: npt.NDArray[Any] = table.column(name).to_numpy(zero_copy_only=False)
    return out


# -- the SDK method ------------------------------------------------------------------------
def _family_of(kind: str) -> str:
    if kind in SPATIAL_KINDS:
        return "spatial"
    if kind == Kind.TEXT_SPAN:
        return "text"
    return "checklist" if kind == Kind.CHECKLIST else "radio"


FAMILIES = ("spatial", "text", "radio", "checklist")


def _split(table: pa.Table) -> dict[str, pa.Table]:
    fam = np.array([_family_of(k) for k in _col(table, "class_kind").tolist()], dtype=object)
    return {f: table.filter(pa.array(fam == f)) for f in FAMILIES}


class EvaluationMixin:
    """The evaluation methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def evaluate(
        self,
        run: str,
        *,
        iou: float = 0.5,
        confidence: float = 0.5,
        mode: Mode = "coco",
        iou_type: IouType = "bbox",
        cross_class: bool = False,
        legacy_iou: bool = False,
        class_iou: Mapping[str, float] | None = None,
        class_confidence: Mapping[str, float] | None = None,
        point_buffer: float = 70.0,
    ) -> dict[str, Any]:
        """Evaluate ``run`` (see :mod:`errorscope.sdk.evaluation`), store every result
        (replacing an earlier evaluation of the run) and return the JSON summary: ``coco``
        (box/mask runs), ``entity`` (span runs), ``classification`` (radio or checklist
        runs; ``checklist`` when a run has both), ``per_class``, ``confusion_matrix``,
        ``counts`` and ``params``.

        Labelbox mode only: ``cross_class`` matches boxes across classes (a pair of two
        classes is then an FN and an FP with error ``classification``, and keeps its
        matched ids); ``legacy_iou`` uses the pixel-inclusive ``+1`` box IoU.

        ``class_iou`` / ``class_confidence`` (class name -> threshold) override ``iou`` /
        ``confidence`` for those classes in per-object matching and every count built on
        it (COCO AP/AR keep COCO's definition; in COCO mode a class IoU must be one of
        COCO's thresholds too). ``class_iou`` applies to spatial classes only.

        ``point_buffer``: Labelbox mode compares points and polylines as Labelbox does,
        buffered by this many pixels into areas (see :func:`errorscope.core.iou.
        vector_iou_pairs`); COCO mode compares their boxes.
        """
        if mode not in ("coco", "labelbox"):
            raise ErrorscopeError(f"mode must be 'coco' or 'labelbox', not {mode!r}")
        if iou_type not in ("bbox", "segm"):
            raise ErrorscopeError(f"iou_type must be 'bbox' or 'segm', not {iou_type!r}")
        if not 0.0 <= iou < 1.0:
            raise ErrorscopeError(f"the IoU threshold must be in [0, 1), not {iou}")
        if not point_buffer > 0.0:
            raise ErrorscopeError(f"point_buffer must be positive, not {point_buffer}")
        if not 0.0 <= confidence <= 1.0:
            raise ErrorscopeError(f"the confidence threshold must be in [0, 1], not {confidence}")
        if (cross_class or legacy_iou) and mode != "labelbox":
            raise ErrorscopeError("cross_class and legacy_iou apply to mode 'labelbox' only")
        if legacy_iou and iou_type != "bbox":
            raise ErrorscopeError("legacy_iou is a box IoU: it needs iou_type 'bbox'")
        info = catalog.get_run(self.db, run)
        labels, predictions = results.evaluation_inputs(self.db, info.id)
        if not predictions.num_rows:
            raise ErrorscopeError(f"model run {run!r} has no predictions to evaluate")
        iou_by_id = _class_overrides(labels, predictions, class_iou, "class_iou", spatial=True)
        conf_by_id = _class_overrides(labels, predictions, class_confidence, "class_confidence")
        for name, value in (class_iou or {}).items():
            if not 0.0 <= value < 1.0:
                raise ErrorscopeError(f"the IoU threshold of {name!r} must be in [0, 1)")
        for name, value in (class_confidence or {}).items():
            if not 0.0 <= value <= 1.0:
                raise ErrorscopeError(f"the confidence threshold of {name!r} must be in [0, 1]")
        params = {
            "iou": iou,
            "confidence": confidence,
            "mode": mode,
            "iou_type": iou_type,
            "cross_class": cross_class,
            "legacy_iou": legacy_iou,
            "class_iou": {str(k): float(v) for k, v in (class_iou or {}).items()},
            "class_confidence": {str(k): float(v) for k, v in (class_confidence or {}).items()},
            "point_buffer": float(point_buffer),
        }
        gts, dts = _split(labels), _split(predictions)
        families: list[Family] = []
        if dts["spatial"].num_rows:
            families.append(
                evaluate_spatial(
                    gts["spatial"],
                    dts["spatial"],
                    iou=iou,
                    confidence=confidence,
                    mode=mode,
                    iou_type=iou_type,
                    cross_class=cross_class,
                    legacy_iou=legacy_iou,
                    class_iou=iou_by_id,
                    class_confidence=conf_by_id,
                    point_buffer=point_buffer,
                )
            )
        if dts["text"].num_rows:
            report("evaluating text spans", 0, 1)
            families.append(
                evaluate_text(
                    gts["text"], dts["text"], confidence=confidence, class_confidence=conf_by_id
                )
            )
            report("evaluating text spans", 1, 1)
        if dts["radio"].num_rows:
            report("evaluating radio classifications", 0, 1)
            families.append(
                evaluate_radio(
                    gts["radio"], dts["radio"], confidence=confidence, class_confidence=conf_by_id
                )
            )
            report("evaluating radio classifications", 1, 1)
        if dts["checklist"].num_rows:
            report("evaluating checklists", 0, 1)
            fam = evaluate_checklist(
                gts["checklist"],
                dts["checklist"],
                confidence=confidence,
                class_confidence=conf_by_id,
            )
            report("evaluating checklists", 1, 1)
            if dts["radio"].num_rows:  # both kinds: the checklist scores go under their own key
                fam.summary = {"checklist": fam.summary["classification"]}
            families.append(fam)
        summary: dict[str, Any] = {"run": run}
        per_class: dict[str, dict[str, Any]] = {}
        counts: list[metrics.Counts] = []
        for fam in families:
            summary.update(fam.summary)
            per_class.update(fam.per_class)
            if fam.counts is not None:
                counts.append(fam.counts)
        summary["per_class"] = per_class
        curves = add_run_curves(
            summary,
            next((f.coco for f in families if f.coco is not None), None),
            gts["spatial"],
            dts["spatial"],
            iou_type=iou_type,
            legacy=legacy_iou,
        )
        summary["confusion_matrix"] = families[0].confusion
        rc = _concat(counts)
        tp, fp, fn = int(rc.tp.sum()), int(rc.fp.sum()), int(rc.fn.sum())
        p, r, f = metrics.prf(tp, fp, fn)
        summary["counts"] = {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": num(p),
            "recall": num(r),
            "f1": num(f),
        }
        class_ids = {n: c for fam in families for n, c in fam.class_ids.items()}
        report("saving results", 0, 1)
        with self.db.transaction():
            results.save_evaluation(
                self.db,
                info.id,
                params=params,
                summary=summary,
                objects=pa.concat_tables([t for fam in families for t in fam.objects]),
                rows=_rows_table(metrics.by_row(rc)),
                classes=_classes_table(per_class, class_ids),
                curves=curves,
            )
            store_mislabel_scores(self.db, run)  # the label-mistake row scores
        report("saving results", 1, 1)
        summary["params"] = params
        return summary

    def evaluation(self, run: str) -> dict[str, Any]:
        """The stored summary of the last :meth:`evaluate` of ``run`` (with its params)."""
        info = catalog.get_run(self.db, run)
        found = results.load_evaluation(self.db, info.id)
        if found is None:
            raise NotFoundError(f"model run {run!r} has not been evaluated: run evaluate first")
        return found

    def evaluation_results(
        self, run: str, which: Literal["objects", "rows", "classes"] = "objects"
    ) -> pa.Table:
        """A stored result table of ``run``: per object (``objects``: source, annotation
        id, status, matched id, IoU, error type, confidence), per data row (``rows``) or
        per class (``classes``)."""
        info = catalog.get_run(self.db, run)
        self.evaluation(run)
        return results.evaluation_table(self.db, info.id, which)


def _class_overrides(
    labels: pa.Table,
    predictions: pa.Table,
    by_name: Mapping[str, float] | None,
    what: str,
    *,
    spatial: bool = False,
) -> dict[int, float]:
    """Per-class thresholds keyed by class id; every name must be a class of the run."""
    known: dict[str, tuple[int, str]] = {}
    for t in (labels, predictions):
        for n, c, k in zip(
            _col(t, "class_name").tolist(),
            _col(t, "class_id").tolist(),
            _col(t, "class_kind").tolist(),
            strict=True,
        ):
            known[str(n)] = (int(c), str(k))
    out: dict[int, float] = {}
    for name, value in (by_name or {}).items():
        if name not in known:
            raise ErrorscopeError(
                f"{what}: unknown class {name!r}; the run's classes are "
                f"{', '.join(sorted(known)) or 'none'}"
            )
        cid, kind = known[name]
        if spatial and kind not in SPATIAL_KINDS:
            raise ErrorscopeError(
                f"{what}: class {name!r} is a {kind} class; IoU thresholds apply to boxes, "
                "polygons, masks, points and polylines"
            )
        out[cid] = float(value)
    return out


def _concat(parts: list[metrics.Counts]) -> metrics.Counts:
    if not parts:
        return metrics.by_row_class([], [], [], [], [], [], [], [])
    fields = metrics.Counts.__dataclass_fields__
    return metrics.Counts(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})


def _masked(values: F64) -> pa.Array:
    return pa.array(values, pa.float64(), mask=np.isnan(values))


def _rows_table(c: metrics.Counts) -> pa.Table:
    return pa.table(
        {
            "data_row_id": pa.array(c.row, pa.int64()),
            "tp": pa.array(c.tp, pa.int64()),
            "fp": pa.array(c.fp, pa.int64()),
            "fn": pa.array(c.fn, pa.int64()),
            "precision": _masked(c.precision),
            "recall": _masked(c.recall),
            "f1": _masked(c.f1),
            "iou": _masked(c.iou),
            "mean_confidence": _masked(c.mean_confidence),
        }
    )


def _classes_table(per_class: dict[str, dict[str, Any]], class_ids: dict[str, int]) -> pa.Table:
    names = list(per_class)

    def floats(key: str) -> pa.Array:
        vals = [per_class[n].get(key) for n in names]
        return pa.array([None if v is None else float(v) for v in vals], pa.float64())

    return pa.table(
        {
            "name": pa.array(names, pa.string()),
            "class_id": pa.array([class_ids.get(n) for n in names], pa.int32()),
            "tp": pa.array([int(per_class[n]["tp"]) for n in names], pa.int64()),
            "fp": pa.array([int(per_class[n]["fp"]) for n in names], pa.int64()),
            "fn": pa.array([int(per_class[n]["fn"]) for n in names], pa.int64()),
            "precision": floats("precision"),
            "recall": floats("recall"),
            "f1": floats("f1"),
            "iou": floats("iou"),
            "mean_confidence": floats("mean_confidence"),
            "ap": floats("ap"),
        }
    )
