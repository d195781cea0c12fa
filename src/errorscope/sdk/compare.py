"""``Workspace.compare``: two evaluated model runs on the data rows they share.

* metric deltas (``b - a``), overall (micro) and per class (the answer, for radio
  classes), from the stored per-object results: TP, FP, FN, precision, recall, F1 and the
  mean IoU of the true positives;
* an object-level diff: ground-truth objects evaluated in both runs whose status flipped
  (TP in ``a`` and FN in ``b``: a regression; FN to TP: a fix), each with its error type,
  and the false positives and negatives of each run counted by error type.

The rows are those evaluated in both runs; ``slice`` / ``filter`` narrow them, evaluated
on run ``a`` (the baseline) so both runs are scored on the very same rows. A ground-truth
object replaced between the two evaluations (say, relabeled in a batch) is in neither
diff; the counts of such objects are reported as ``labels_only_in``.

Confidence intervals on the deltas: :meth:`CompareMixin.compare_counts` returns the
aligned per-row TP/FP/FN of both runs, the input of
``errorscope.core.stats.paired_bootstrap_delta``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any, cast

import numpy as np
import numpy.typing as npt

from errorscope.core import metrics
from errorscope.core.query import Filter, SliceMember
from errorscope.errors import NotFoundError
from errorscope.store import catalog, results
from errorscope.store import compare as store
from errorscope.store.database import Database

__all__ = ["CompareMixin"]


def _scores(tp: int, fp: int, fn: int, iou_sum: float) -> dict[str, Any]:
    p, r, f = metrics.prf(tp, fp, fn)

    def num(x: Any) -> float | None:
        return None if np.isnan(x) else float(x)

    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": num(p),
        "recall": num(r),
        "f1": num(f),
        "iou": iou_sum / tp if tp else None,
    }


def _delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k in ("tp", "fp", "fn", "precision", "recall", "f1", "iou"):
        out[k] = None if a[k] is None or b[k] is None else b[k] - a[k]
    return out


def _counts(objs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Scores per name and overall (key None) of one run's objects."""
    acc: dict[str | None, list[float]] = {}
    for o in objs:
        for key in (o["name"], None):
            c = acc.setdefault(key, [0, 0, 0, 0.0])
            if o["source"] == "label" and o["status"] == "TP":
                c[0] += 1
                c[3] += o["iou"] or 0.0
            elif o["source"] == "label" and o["status"] == "FN":
                c[2] += 1
            elif o["source"] == "prediction" and o["status"] == "FP":
                c[1] += 1
    out = {k: _scores(int(v[0]), int(v[1]), int(v[2]), v[3]) for k, v in acc.items()}
    out.setdefault(None, _scores(0, 0, 0, 0.0))
    return cast(dict[str, dict[str, Any]], out)


class CompareMixin:
    """The run comparison of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def _compare_rows(
        self, a: str, b: str, slice: str | None, filter: Filter | Mapping[str, Any] | None
    ) -> tuple[int, int, list[int]]:
        ia, ib = catalog.get_run(self.db, a).id, catalog.get_run(self.db, b).id
        for name, rid in ((a, ia), (b, ib)):
            if results.load_evaluation(self.db, rid) is None:
                raise NotFoundError(f"model run {name!r} has not been evaluated: run evaluate")
        only: list[int] | None = None
        where: Any = SliceMember(slice) if slice is not None else filter
        if where is not None:
            only = []
            cursor = None
            while True:
                page = cast(Any, self).query(a, where, limit=10_000, cursor=cursor)
                only += [r.id for r in page.rows]
                cursor = page.next_cursor
                if cursor is None:
                    break
        return ia, ib, store.shared_rows(self.db, ia, ib, only)

    def compare(
        self,
        a: str,
        b: str,
        *,
        slice: str | None = None,
        filter: Filter | Mapping[str, Any] | None = None,
        max_objects: int = 1000,
    ) -> dict[str, Any]:
        """Compare evaluated runs ``a`` (baseline) and ``b`` (see the module doc); at most
        ``max_objects`` flipped objects are listed (all are counted)."""
        ia, ib, rows = self._compare_rows(a, b, slice, filter)
        objs = store.compare_objects(self.db, ia, ib, rows).to_pylist()
        by_run = {
            ia: [o for o in objs if o["run_id"] == ia],
            ib: [o for o in objs if o["run_id"] == ib],
        }
        ca, cb = _counts(by_run[ia]), _counts(by_run[ib])
        names = sorted({k for k in ca if k is not None} | {k for k in cb if k is not None})
        empty = _scores(0, 0, 0, 0.0)
        per_class = [
            {
                "name": n,
                "a": ca.get(n, empty),
                "b": cb.get(n, empty),
                "delta": _delta(ca.get(n, empty), cb.get(n, empty)),
            }
            for n in names
        ]
        none_key = cast(str, None)
        overall = {
            "a": ca[none_key],
            "b": cb[none_key],
            "delta": _delta(ca[none_key], cb[none_key]),
        }
        gt = {
            run: {
                o["annotation_id"]: o
                for o in by_run[run]
                if o["source"] == "label" and o["status"] in ("TP", "FN")
            }
            for run in (ia, ib)
        }
        flips: list[dict[str, Any]] = []
        for ann_id in sorted(gt[ia].keys() & gt[ib].keys()):
            oa, ob = gt[ia][ann_id], gt[ib][ann_id]
            if oa["status"] == ob["status"]:
                continue
            flips.append(
                {
                    "annotation_id": ann_id,
                    "data_row_id": oa["data_row_id"],
                    "global_key": oa["global_key"],
                    "name": oa["name"],
                    "from": oa["status"],
                    "to": ob["status"],
                    "error_type": (ob if ob["status"] == "FN" else oa)["error_type"] or None,
                    "iou_a": oa["iou"],
                    "iou_b": ob["iou"],
                }
            )
        errors: dict[str, dict[str, dict[str, int]]] = {}
        for side, status in (("label", "FN"), ("prediction", "FP")):
            errors[status.lower()] = {
                key: dict(
                    Counter(
                        o["error_type"] or "none"
                        for o in by_run[run]
                        if o["source"] == side and o["status"] == status
                    )
                )
                for key, run in (("a", ia), ("b", ib))
            }
        return {
            "a": a,
            "b": b,
            "slice": slice,
            "rows": len(rows),
            "overall": overall,
            "per_class": per_class,
            "flips": {
                "tp_to_fn": sum(f["from"] == "TP" for f in flips),
                "fn_to_tp": sum(f["from"] == "FN" for f in flips),
                "objects": flips[:max_objects],
            },
            "errors": errors,
            "labels_only_in": {
                "a": len(gt[ia].keys() - gt[ib].keys()),
                "b": len(gt[ib].keys() - gt[ia].keys()),
            },
        }

    def compare_counts(
        self,
        a: str,
        b: str,
        *,
        slice: str | None = None,
        filter: Filter | Mapping[str, Any] | None = None,
    ) -> tuple[list[int], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """``(rows, counts_b, counts_a)``: the shared rows and each run's TP/FP/FN per row
        (shape rows x 3, aligned), for interval estimates of the deltas."""
        ia, ib, rows = self._compare_rows(a, b, slice, filter)
        objs = store.compare_objects(self.db, ia, ib, rows)
        at = {r: i for i, r in enumerate(rows)}
        out = {ia: np.zeros((len(rows), 3), np.int64), ib: np.zeros((len(rows), 3), np.int64)}
        for o in objs.to_pylist():
            col = {("label", "TP"): 0, ("prediction", "FP"): 1, ("label", "FN"): 2}.get(
                (o["source"], o["status"])
            )
            if col is not None:
                out[o["run_id"]][at[o["data_row_id"]], col] += 1
        return rows, out[ib], out[ia]
