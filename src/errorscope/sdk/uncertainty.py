"""Honest uncertainty on a run's metrics and on run-to-run deltas, and the CI gate.

* :meth:`IntervalMixin.intervals`: precision, recall and F1 overall and per class (the
  answer, for radio classes) with 95 % row-bootstrap intervals (rows resampled, so objects
  of one image move together; :func:`errorscope.core.stats.bootstrap_prf`), the Wilson
  intervals of precision and recall (objects as independent trials, narrower), and for
  detection runs the all-point AP of each class's kept predictions at the evaluation's
  IoU threshold with its row-bootstrap interval (``ap_at_iou``; the summary's ``ap`` is
  COCO's AP[.5:.95] over all predictions, a different number). Optionally within a
  filter or slice.
* :meth:`IntervalMixin.delta_intervals`: the metric of two runs on the rows they share
  (:meth:`~errorscope.sdk.compare.CompareMixin.compare_counts`) and the paired
  row-bootstrap interval of ``new - old``, overall and per class.
* :meth:`IntervalMixin.check`: the CI gate. A target (a slice, a class, or the whole run)
  **regresses** when its metric dropped by more than ``max_drop`` *and* the upper bound
  of the delta's interval is below 0 (the drop is beyond sampling noise). A rerun of the
  same predictions has delta 0 in every resample and passes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.core import stats
from errorscope.core.query import Filter, SliceMember
from errorscope.errors import ErrorscopeError
from errorscope.sdk.attributes import Frame, load_frame
from errorscope.sdk.slices import as_filter, resolve_slices
from errorscope.store import analysis
from errorscope.store.database import Database

__all__ = ["CheckItem", "CheckResult", "IntervalMixin"]

METRICS = ("precision", "recall", "f1")


def _counts(frame: Frame, cls: str | None, rows: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """TP/FP/FN per data row id in ``rows`` (of ``cls``, or all classes)."""
    pos = np.searchsorted(rows, frame.row_ids[frame.row])
    pos = np.clip(pos, 0, max(len(rows) - 1, 0))
    inside = (rows[pos] == frame.row_ids[frame.row]) if len(rows) else np.zeros(0, bool)
    sel = inside if cls is None else inside & (frame.cls == cls)
    out = np.zeros((len(rows), 3))
    for j, hit in enumerate(
        (
            sel & frame.is_label & (frame.status == "TP"),
            sel & ~frame.is_label & (frame.status == "FP"),
            sel & frame.is_label & (frame.status == "FN"),
        )
    ):
        out[:, j] = np.bincount(pos[hit], minlength=len(rows))
    return out


def _entry(est: dict[str, stats.Estimate], counts: npt.NDArray[Any]) -> dict[str, Any]:
    tp, fp, fn = (int(x) for x in counts.sum(axis=0))
    out: dict[str, Any] = {"tp": tp, "fp": fp, "fn": fn}
    for name in METRICS:
        out[name] = est[name].to_json()
    for name, k, n in (("precision", tp, tp + fp), ("recall", tp, tp + fn)):
        lo, hi = stats.wilson_interval(k, n)
        out[name]["wilson"] = None if n == 0 else [float(lo), float(hi)]
    return out


@dataclass(frozen=True)
class CheckItem:
    """One gated target: ``kind`` (slice, class or run), its name, the metric of both runs,
    the delta with its interval, and whether it regressed."""

    kind: str
    name: str | None
    metric: str
    new: float
    old: float
    delta: stats.Estimate
    regressed: bool
    rows: int

    def to_json(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if not np.isfinite(v) else float(v)

        return {
            "kind": self.kind,
            "name": self.name,
            "metric": self.metric,
            "new": num(self.new),
            "old": num(self.old),
            "delta": self.delta.to_json(),
            "regressed": self.regressed,
            "rows": self.rows,
        }


@dataclass(frozen=True)
class CheckResult:
    run: str
    baseline: str
    max_drop: float
    items: list[CheckItem] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(i.regressed for i in self.items)

    def to_json(self) -> dict[str, Any]:
        return {
            "run": self.run,
            "baseline": self.baseline,
            "max_drop": self.max_drop,
            "passed": self.passed,
            "items": [i.to_json() for i in self.items],
        }


class IntervalMixin:
    """The uncertainty methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def intervals(
        self,
        run: str,
        *,
        filter: Filter | Mapping[str, Any] | None = None,
        confidence: float = 0.95,
        n_boot: int = 1000,
        seed: int = 0,
    ) -> dict[str, Any]:
        """Metrics of ``run``'s stored evaluation with intervals (module docstring):
        ``{"overall": {...}, "per_class": {name: {...}}, "rows", "confidence",
        "n_boot"}``; each metric is ``{"value", "ci": [lo, hi]}`` (None where
        undefined), precision and recall also carry ``"wilson"``."""
        frame = load_frame(self.db, run)
        where = None if filter is None else resolve_slices(self.db, as_filter(filter))
        rows = analysis.filter_row_ids(self.db, frame.run_id, where)
        overall = _counts(frame, None, rows)
        kw: dict[str, Any] = {"n_boot": n_boot, "confidence": confidence, "seed": seed}
        out: dict[str, Any] = {
            "run": run,
            "rows": len(rows),
            "confidence": confidence,
            "n_boot": n_boot,
            "overall": _entry(stats.bootstrap_prf(overall, **kw), overall),
            "per_class": {},
        }
        inside = np.isin(frame.row_ids[frame.row], rows)
        for cls in sorted({str(c) for c in frame.cls}):
            counts = _counts(frame, cls, rows)
            if not counts.any():
                continue
            entry = _entry(stats.bootstrap_prf(counts, **kw), counts)
            if frame.spatial.any():
                det = inside & ~frame.is_label & (frame.cls == cls)
                gt = inside & frame.is_label & (frame.cls == cls)
                pos = np.searchsorted(rows, frame.row_ids[frame.row])
                ap = stats.bootstrap_ap(
                    pos[det],
                    frame.confidence[det],
                    frame.status[det] == "TP",
                    pos[gt],
                    n_boot=min(n_boot, 200),
                    confidence=confidence,
                    seed=seed,
                )
                entry["ap_at_iou"] = ap.to_json()
            out["per_class"][cls] = entry
        return out

    def delta_intervals(
        self,
        run: str,
        baseline: str,
        *,
        slice: str | None = None,
        filter: Filter | Mapping[str, Any] | None = None,
        classes: Sequence[str] = (),
        per_class: bool = True,
        metric: str = "f1",
        confidence: float = 0.95,
        n_boot: int = 1000,
        seed: int = 0,
    ) -> dict[str, Any]:
        """``metric`` of ``run`` and ``baseline`` on their shared rows (narrowed by
        ``slice`` / ``filter``, evaluated on the baseline) and the paired-bootstrap
        interval of ``run - baseline``, overall and (``per_class``) for each of
        ``classes`` (all classes if empty)."""
        if metric not in METRICS:
            raise ErrorscopeError(f"metric must be one of {', '.join(METRICS)}, not {metric!r}")
        compare = getattr(self, "compare_counts", None)
        if compare is None:  # pragma: no cover - Workspace always has it
            raise ErrorscopeError("this workspace cannot compare runs")
        rows_list, _new_counts, _old_counts = compare(baseline, run, slice=slice, filter=filter)
        rows = np.asarray(sorted(rows_list), np.int64)
        new_f, old_f = load_frame(self.db, run), load_frame(self.db, baseline)
        kw: dict[str, Any] = {
            "metric": metric,
            "n_boot": n_boot,
            "confidence": confidence,
            "seed": seed,
        }

        def one(cls: str | None) -> dict[str, Any]:
            a, b = _counts(new_f, cls, rows), _counts(old_f, cls, rows)
            new, old, delta = stats.paired_bootstrap_delta(a, b, **kw)
            return {"new": new.to_json(), "old": old.to_json(), "delta": delta.to_json()}

        known = {str(c) for c in new_f.cls} | {str(c) for c in old_f.cls}
        names = (list(classes) or sorted(known)) if per_class else []
        for c in names:
            if c not in known:
                raise ErrorscopeError(f"unknown class {c!r} in runs {run!r} and {baseline!r}")
        return {
            "run": run,
            "baseline": baseline,
            "metric": metric,
            "rows": len(rows),
            "overall": one(None),
            "per_class": {c: one(c) for c in names},
        }

    def check(
        self,
        run: str,
        baseline: str,
        *,
        slices: Sequence[str] = (),
        classes: Sequence[str] = (),
        max_drop: float = 0.02,
        metric: str = "f1",
        confidence: float = 0.95,
        n_boot: int = 1000,
        seed: int = 0,
    ) -> CheckResult:
        """The CI gate (module docstring): each slice (on all classes), each class (on
        all rows) — or the whole run if neither is given — regresses when its ``metric``
        fell by more than ``max_drop`` and the interval of the drop excludes 0."""
        if not 0.0 <= max_drop < 1.0:
            raise ErrorscopeError(f"max_drop must be in [0, 1), not {max_drop}")
        kw: dict[str, Any] = {
            "metric": metric,
            "confidence": confidence,
            "n_boot": n_boot,
            "seed": seed,
        }
        items: list[CheckItem] = []

        def item(kind: str, name: str | None, d: dict[str, Any], rows: int) -> CheckItem:
            new, old, delta = d["new"], d["old"], d["delta"]
            est = stats.Estimate(_f(delta["value"]), _f(delta["ci"][0]), _f(delta["ci"][1]))
            regressed = bool(est.value < -max_drop and est.hi < 0.0)
            return CheckItem(
                kind, name, metric, _f(new["value"]), _f(old["value"]), est, regressed, rows
            )

        for s in slices:
            resolve_slices(self.db, SliceMember(s))  # unknown slice: InvalidQueryError
            d = self.delta_intervals(run, baseline, slice=s, per_class=False, **kw)
            items.append(item("slice", s, d["overall"], d["rows"]))
        if classes:
            d = self.delta_intervals(run, baseline, classes=list(classes), **kw)
            for c in classes:
                items.append(item("class", c, d["per_class"][c], d["rows"]))
        if not slices and not classes:
            d = self.delta_intervals(run, baseline, per_class=False, **kw)
            items.append(item("run", None, d["overall"], d["rows"]))
        return CheckResult(run, baseline, max_drop, items)


def _f(v: Any) -> float:
    return float("nan") if v is None else float(v)
