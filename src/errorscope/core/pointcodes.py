"""Small-integer codes that color the projector's points, for every row at once.

Coloring a scatter of 100k rows by class must not ask one question per class. From the
run's :class:`~errorscope.core.rowindex.RowIndex` this computes, vectorised over its
per-(row, side, class) table, for each requested row:

* ``gt``: the row's dominant ground-truth class — the class with the most labels, ties
  to the first name in :attr:`PointCodes.classes` — or -1 when the row has no label;
* ``pred``: the row's dominant predicted class — most predictions the evaluation kept,
  then most predictions, then first name — or -1 when the row has no prediction;
* ``result``: one of :data:`RESULTS` from the row's TP / FP / FN counts.

Class codes index :attr:`PointCodes.classes` (every class of the index, sorted by name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.core.rowindex import GROUP_STRIDE, RowIndex

__all__ = ["NO_CLASS", "RESULTS", "PointCodes", "point_codes"]

#: The class code of a row without a label (``gt``) or prediction (``pred``).
NO_CLASS = -1
#: Result codes: no evaluated object, every object a TP, some FP but no FN, some FN but
#: no FP, both FP and FN.
RESULTS = ("none", "TP", "FP", "FN", "FP+FN")


@dataclass(frozen=True)
class PointCodes:
    """Per requested row: ``gt`` and ``pred`` class codes (int16, :data:`NO_CLASS` for
    none) into ``classes``, and a ``result`` code (uint8) into :data:`RESULTS`."""

    classes: tuple[str, ...]
    gt: npt.NDArray[np.int16]
    pred: npt.NDArray[np.int16]
    result: npt.NDArray[np.uint8]


def _dominant(
    n_rows: int,
    row: npt.NDArray[np.int32],
    code: npt.NDArray[np.int64],
    keys: list[npt.NDArray[np.float64]],
) -> npt.NDArray[np.int16]:
    """Per row position, the ``code`` of its entry with the largest ``keys`` (compared in
    order), ties to the smallest code; :data:`NO_CLASS` for rows without an entry."""
    out = np.full(n_rows, NO_CLASS, np.int16)
    if len(row) == 0:
        return out
    # lexsort: the last key is the primary one; the first entry of each row wins
    sort_keys: list[npt.NDArray[Any]] = [code, *(-k for k in reversed(keys)), row]
    order = np.lexsort(sort_keys)
    rows = row[order]
    first = np.r_[True, rows[1:] != rows[:-1]]
    out[rows[first]] = code[order][first].astype(np.int16)
    return out


def result_codes(
    tp: npt.NDArray[np.float64], fp: npt.NDArray[np.float64], fn: npt.NDArray[np.float64]
) -> npt.NDArray[np.uint8]:
    """The :data:`RESULTS` code of rows with these TP / FP / FN counts (NaN counts as 0)."""
    has_tp = np.nan_to_num(tp) > 0
    has_fp = np.nan_to_num(fp) > 0
    has_fn = np.nan_to_num(fn) > 0
    out = np.zeros(len(tp), np.uint8)
    out[has_tp] = 1
    out[has_fp] = 2
    out[has_fn] = 3
    out[has_fp & has_fn] = 4
    return out


def point_codes(index: RowIndex, positions: npt.NDArray[np.intp]) -> PointCodes:
    """The codes of the index's rows at ``positions`` (see the module docstring). The
    codes of all rows do not depend on any filter: they are computed once per index."""
    full = index.derived.get("point_codes")
    if full is None:
        full = index.derived["point_codes"] = _all_codes(index)
    pos = np.asarray(positions, np.intp)
    return PointCodes(full.classes, full.gt[pos], full.pred[pos], full.result[pos])


def _all_codes(index: RowIndex) -> PointCodes:
    if len(index.class_ids) >= 2**15:
        raise ValueError(f"{len(index.class_ids)} classes do not fit int16 codes")
    classes = tuple(sorted(index.class_ids))
    by_id = np.full(max(index.class_ids.values(), default=-1) + 1, NO_CLASS, np.int64)
    for rank, name in enumerate(classes):
        by_id[index.class_ids[name]] = rank
    table = index.classes
    side = table.group // GROUP_STRIDE
    code = by_id[table.group % GROUP_STRIDE] if len(by_id) else table.group[:0]
    n, kept = table.values["n"], table.values["kept"]
    label, pred = side == 0, side == 1
    gt = _dominant(index.n, table.row[label], code[label], [n[label]])
    predicted = _dominant(index.n, table.row[pred], code[pred], [kept[pred], n[pred]])
    m = index.metrics
    return PointCodes(classes, gt, predicted, result_codes(m["tp"], m["fp"], m["fn"]))
