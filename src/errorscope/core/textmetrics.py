"""Text-span metrics: character-interval IoU, strict and partial entity scores, per-span errors.

Everything works on :class:`Spans`, four parallel numpy arrays (one element per span), and is
vectorised: exact keys are matched with one sort of packed integer keys, candidate pairs are
built per data row with ``np.repeat``/``np.searchsorted``, and only the one-to-one greedy
assignment runs as a compiled loop (numba). 1M gold + 0.8M predicted spans: ~1 s.

Definitions (strict = conlleval and seqeval's default mode on chunks; partial is ours):

* **Strict** (exact) match: a predicted span is correct when a gold span on the same data row
  has the same ``start``, ``end`` and ``type``. Matching is one-to-one, so duplicated spans
  count once per copy on each side (``correct = min(#gold copies, #pred copies)``).
* **Partial** match: a predicted span matches a gold span of the same row and type when their
  character intervals overlap (intersection > 0) — or when they are an exact match, so that
  zero-length spans still count and ``partial >= strict`` always holds. One-to-one: the strict
  matches first, then the remaining pairs greedily by highest IoU (ties by content: the gold
  span's row, start and end, then the prediction's start and end — never by input position,
  so counts do not depend on the order of the inputs).
* **Errors** (:func:`span_results`): after the strict matching, unmatched gold and unmatched
  predictions of the same row that overlap are paired greedily, one-to-one, by highest IoU
  (ties: same type first, then by content as above). A pair is
  ``"wrong_type"`` (same boundaries, other type), ``"boundary"`` (same type, other
  boundaries) or ``"wrong_type_and_boundary"``. Unpaired predictions are ``"spurious"``,
  unpaired gold spans ``"missed"``; strict matches have error ``""``.

Precision, recall and F1 are 0 where their denominator is 0 (seqeval's ``zero_division=0``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = [
    "ERROR_TYPES",
    "EntityScores",
    "SpanResults",
    "Spans",
    "entity_scores",
    "span_iou",
    "span_results",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
ObjArray = npt.NDArray[np.object_]

ERROR_TYPES = ("", "wrong_type", "boundary", "wrong_type_and_boundary", "missed", "spurious")
"""Per-span error types of :func:`span_results` (``""`` = strict match, no error)."""


@dataclass(frozen=True)
class Spans:
    """``n`` text spans as parallel arrays of length ``n``.

    ``row``: data row id (int64); ``start``/``end``: ``[start, end)`` character offsets
    (int64, ``end >= start``); ``type``: class name of each span (object array of ``str``).
    """

    row: IntArray
    start: IntArray
    end: IntArray
    type: ObjArray

    def __post_init__(self) -> None:
        n = len(self.row)
        if not (len(self.start) == len(self.end) == len(self.type) == n):
            raise ValueError("Spans arrays must all have the same length")

    def __len__(self) -> int:
        return len(self.row)

    @classmethod
    def of(
        cls,
        row: npt.ArrayLike,
        start: npt.ArrayLike,
        end: npt.ArrayLike,
        type: npt.ArrayLike,
    ) -> Spans:
        """Build from any array-likes (lists, numpy or Arrow arrays), converting dtypes."""
        return cls(
            row=np.asarray(row, dtype=np.int64).reshape(-1),
            start=np.asarray(start, dtype=np.int64).reshape(-1),
            end=np.asarray(end, dtype=np.int64).reshape(-1),
            type=np.asarray(type, dtype=object).reshape(-1),
        )

    @classmethod
    def from_table(cls, table: pa.Table) -> Spans:
        """From an annotations table (``ws.labels()`` / ``ws.predictions(run)``).

        Uses the columns ``data_row_id``, ``span_start``, ``span_end`` and ``class_name``; the
        caller filters the table to text-span annotations first.
        """
        return cls.of(
            table.column("data_row_id").to_numpy(),
            table.column("span_start").to_numpy(),
            table.column("span_end").to_numpy(),
            table.column("class_name").to_numpy(zero_copy_only=False),
        )


def span_iou(
    a_start: npt.ArrayLike, a_end: npt.ArrayLike, b_start: npt.ArrayLike, b_end: npt.ArrayLike
) -> FloatArray:
    """Character-interval IoU of ``[a_start, a_end)`` and ``[b_start, b_end)``, broadcasting.

    Inputs broadcast like numpy (e.g. ``a[:, None]`` against ``b[None, :]`` for an ``(n, m)``
    matrix). Result in ``[0, 1]``: 1 = identical intervals, 0 = disjoint (bad). Two empty
    intervals at the same offset have IoU 1; an empty interval against anything else has 0.
    """
    s1, e1 = np.asarray(a_start, dtype=np.int64), np.asarray(a_end, dtype=np.int64)
    s2, e2 = np.asarray(b_start, dtype=np.int64), np.asarray(b_end, dtype=np.int64)
    inter = np.clip(np.minimum(e1, e2) - np.maximum(s1, s2), 0, None)
    union = (e1 - s1) + (e2 - s2) - inter
    same_empty = (union == 0) & (s1 == s2) & (e1 == e2)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    return np.where(same_empty, 1.0, iou).astype(np.float64)


# -- matching kernels ----------------------------------------------------------------------


@numba.njit(cache=True)
def _greedy(gi: IntArray, pi: IntArray, gold_match: IntArray, pred_match: IntArray) -> None:
    """Assign candidate pairs in the given priority order, one-to-one, in place."""
    for k in range(gi.shape[0]):
        g = gi[k]
        p = pi[k]
        if gold_match[g] < 0 and pred_match[p] < 0:
            gold_match[g] = p
            pred_match[p] = g


def _type_codes(gold: Spans, pred: Spans) -> tuple[list[str], IntArray, IntArray]:
    """Sorted union of the types, and each span's index into it (Arrow dictionary-encodes)."""
    both = pa.array(np.concatenate([gold.type, pred.type]), type=pa.string())
    encoded = both.dictionary_encode()
    names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    by_name = np.argsort(names.astype(str), kind="stable")
    rank = np.empty(len(names), dtype=np.int64)
    rank[by_name] = np.arange(len(names), dtype=np.int64)
    codes = encoded.indices.to_numpy(zero_copy_only=False)
    if encoded.indices.null_count:
        raise ValueError("span types must not be null")
    inverse = rank[codes.astype(np.int64)]
    return [str(t) for t in names[by_name]], inverse[: len(gold)], inverse[len(gold) :]


def _sort_keys(cols: list[IntArray]) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """Stable order sorting the rows of equal-length int columns, and where keys change.

    Packs the columns into one int64 when their ranges allow it (one sort), else lexsorts.
    ``change[i]`` is True when sorted row ``i + 1`` differs from sorted row ``i``.
    """
    n = len(cols[0])
    packed: IntArray | None = np.zeros(n, dtype=np.int64)
    size = 1
    for c in cols:
        lo = int(c.min())
        width = int(c.max()) - lo + 1
        size *= width
        if packed is None or size >= 2**62:
            packed = None
            break
        packed = packed * width + (c - lo)
    if packed is not None:
        order = np.argsort(packed, kind="stable").astype(np.int64)
        s = packed[order]
        return order, s[1:] != s[:-1]
    order = np.lexsort(cols[::-1]).astype(np.int64)
    change = np.zeros(n - 1, dtype=bool)
    for c in cols:
        cs = c[order]
        change |= cs[1:] != cs[:-1]
    return order, change


def _exact_match(
    gold: Spans, pred: Spans, gtype: IntArray, ptype: IntArray
) -> tuple[IntArray, IntArray]:
    """One-to-one exact (row, start, end, type) matching: k-th copy pairs with k-th copy.

    One stable sort of gold and predictions together: within a key the gold copies come
    first (in index order), then the predicted copies.
    """
    ng, npred = len(gold), len(pred)
    gold_match = np.full(ng, -1, dtype=np.int64)
    pred_match = np.full(npred, -1, dtype=np.int64)
    if ng == 0 or npred == 0:
        return gold_match, pred_match
    n = ng + npred
    order, change = _sort_keys(
        [
            np.concatenate([gold.row, pred.row]),
            np.concatenate([gold.start, pred.start]),
            np.concatenate([gold.end, pred.end]),
            np.concatenate([gtype, ptype]),
        ]
    )
    first = np.concatenate([[True], change])
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    is_gold = order < ng
    n_gold = np.bincount(group[is_gold], minlength=len(starts))
    n_pairs = np.minimum(n_gold, np.diff(np.append(starts, n)) - n_gold)
    pos = np.arange(n, dtype=np.int64) - starts[group]
    sel = np.flatnonzero(is_gold & (pos < n_pairs[group]))
    gi = order[sel]
    pi = order[starts[group[sel]] + n_gold[group[sel]] + pos[sel]] - ng
    gold_match[gi] = pi
    pred_match[pi] = gi
    return gold_match, pred_match


def _expand(op: IntArray, lo: IntArray, hi: IntArray) -> tuple[IntArray, IntArray]:
    """Pairs ``(i, op[j])`` for every ``j`` in ``[lo[i], hi[i])`` (``hi < lo`` = none)."""
    cnt = np.maximum(hi - lo, 0)
    gi = np.repeat(np.arange(len(lo), dtype=np.int64), cnt)
    within = np.arange(int(cnt.sum()), dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    return gi, op[np.repeat(lo, cnt) + within].astype(np.int64)


def _candidates(
    g_row: IntArray,
    g_start: IntArray,
    g_end: IntArray,
    p_row: IntArray,
    p_start: IntArray,
    p_end: IntArray,
) -> tuple[IntArray, IntArray]:
    """``(gold, pred)`` index pairs on the same row that may overlap (a superset of overlaps).

    A prediction overlaps gold ``g`` only if ``p.start < g.end`` and ``p.end > g.start``, so
    ``g.start - L < p.start < g.end`` with ``L`` the longest predicted span: a range search in
    the predictions sorted by ``(row, start)``. Keys that do not pack into int64 fall back to
    all pairs per row.
    """
    if len(g_row) == 0 or len(p_row) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    longest = int((p_end - p_start).max())
    base = min(int(g_start.min()) - longest, int(p_start.min()))
    width = max(int(g_end.max()), int(p_start.max())) - base + 2
    rmin = min(int(g_row.min()), int(p_row.min()))
    rows = max(int(g_row.max()), int(p_row.max())) - rmin + 1
    if rows * width >= 2**62:
        op = np.argsort(p_row, kind="stable").astype(np.int64)
        sorted_rows = p_row[op]
        lo = np.searchsorted(sorted_rows, g_row, side="left")
        hi = np.searchsorted(sorted_rows, g_row, side="right")
        return _expand(op, lo.astype(np.int64), hi.astype(np.int64))
    key = (p_row - rmin) * width + (p_start - base)
    op = np.argsort(key, kind="stable").astype(np.int64)
    sk = key[op]
    g_base = (g_row - rmin) * width - base
    lo = np.searchsorted(sk, g_base + g_start - longest + 1, side="left")
    hi = np.searchsorted(sk, g_base + g_end, side="left")
    return _expand(op, lo.astype(np.int64), hi.astype(np.int64))


def _overlap_pairs(
    gold: Spans, pred: Spans, gold_free: IntArray, pred_free: IntArray
) -> tuple[IntArray, IntArray, FloatArray]:
    """Overlapping (intersection > 0) pairs among the free gold and free predicted spans."""
    a, b = _candidates(
        gold.row[gold_free],
        gold.start[gold_free],
        gold.end[gold_free],
        pred.row[pred_free],
        pred.start[pred_free],
        pred.end[pred_free],
    )
    gi, pi = gold_free[a], pred_free[b]
    inter = np.minimum(gold.end[gi], pred.end[pi]) - np.maximum(gold.start[gi], pred.start[pi])
    keep = inter > 0
    gi, pi = gi[keep], pi[keep]
    return gi, pi, span_iou(gold.start[gi], gold.end[gi], pred.start[pi], pred.end[pi])


def _pair_order(
    gold: Spans, pred: Spans, gi: IntArray, pi: IntArray, *keys: npt.NDArray[np.generic]
) -> IntArray:
    """Greedy priority of candidate pairs: by ``keys`` (first = most significant), then by
    the spans' content (row, start, end of the gold span, then of the prediction), never by
    input position, so that counts do not depend on the order of the inputs."""
    content = [gold.row[gi], gold.start[gi], gold.end[gi], pred.start[pi], pred.end[pi]]
    ordered = [*keys, *content]
    return np.lexsort(ordered[::-1]).astype(np.int64)


def _prf(
    tp: npt.ArrayLike, n_gold: npt.ArrayLike, n_pred: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Precision, recall, F1 with 0 for a zero denominator (seqeval/sklearn formulas)."""
    tp_ = np.asarray(tp, dtype=np.float64)
    g = np.asarray(n_gold, dtype=np.float64)
    p = np.asarray(n_pred, dtype=np.float64)
    precision = np.divide(tp_, p, out=np.zeros_like(tp_), where=p > 0)
    recall = np.divide(tp_, g, out=np.zeros_like(tp_), where=g > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp_), where=denom > 0)
    return precision, recall, f1


# -- entity scores -------------------------------------------------------------------------


@dataclass(frozen=True)
class EntityScores:
    """Strict and partial entity scores of one set of predictions against gold spans.

    Per-type arrays are aligned with ``types`` (sorted union of gold and predicted types).
    All precision/recall/F1 values lie in ``[0, 1]``; higher is better.
    """

    types: list[str]
    tp: IntArray  # strict matches per type
    n_gold: IntArray  # gold spans per type (seqeval's "support")
    n_pred: IntArray  # predicted spans per type
    precision: FloatArray
    recall: FloatArray
    f1: FloatArray
    partial_tp: IntArray  # partial (same type, overlapping) matches per type
    partial_precision: FloatArray
    partial_recall: FloatArray
    partial_f1: FloatArray
    micro: dict[str, float]  # precision, recall, f1 over all spans (conlleval's overall)
    macro: dict[str, float]  # unweighted mean over ``types``
    weighted: dict[str, float]  # mean over ``types`` weighted by ``n_gold``
    partial: dict[str, float]  # micro precision, recall, f1 of the partial matches

    @property
    def total_tp(self) -> int:
        return int(self.tp.sum())

    @property
    def total_gold(self) -> int:
        return int(self.n_gold.sum())

    @property
    def total_pred(self) -> int:
        return int(self.n_pred.sum())

    def per_type(self) -> dict[str, dict[str, float]]:
        """``type -> {precision, recall, f1, tp, fp, fn, support, partial_*}`` (JSON-ready)."""
        out: dict[str, dict[str, float]] = {}
        for i, name in enumerate(self.types):
            tp, g, p = int(self.tp[i]), int(self.n_gold[i]), int(self.n_pred[i])
            out[name] = {
                "precision": float(self.precision[i]),
                "recall": float(self.recall[i]),
                "f1": float(self.f1[i]),
                "tp": tp,
                "fp": p - tp,
                "fn": g - tp,
                "support": g,
                "partial_precision": float(self.partial_precision[i]),
                "partial_recall": float(self.partial_recall[i]),
                "partial_f1": float(self.partial_f1[i]),
            }
        return out


def _averages(
    values: Mapping[str, FloatArray], weights: IntArray
) -> tuple[dict[str, float], dict[str, float]]:
    total = float(weights.sum())
    macro = {k: float(v.mean()) if len(v) else 0.0 for k, v in values.items()}
    weighted = {
        k: float((v * weights).sum() / total) if total > 0 else 0.0 for k, v in values.items()
    }
    return macro, weighted


def entity_scores(gold: Spans, pred: Spans) -> EntityScores:
    """Strict (conlleval/seqeval) and partial entity precision, recall and F1.

    ``gold``: ``n`` reference spans; ``pred``: ``m`` predicted spans (confidence filtering is
    the caller's job). See the module docstring for the strict and partial definitions.
    Low precision = spurious or mistyped predictions; low recall = missed gold spans.
    """
    types, gtype, ptype = _type_codes(gold, pred)
    k = len(types)
    gold_match, pred_match = _exact_match(gold, pred, gtype, ptype)
    n_gold = np.bincount(gtype, minlength=k).astype(np.int64)
    n_pred = np.bincount(ptype, minlength=k).astype(np.int64)
    tp = np.bincount(gtype[gold_match >= 0], minlength=k).astype(np.int64)

    # Partial: strict matches stay; free spans of the same row and type pair by overlap.
    gold_free = np.flatnonzero(gold_match < 0).astype(np.int64)
    pred_free = np.flatnonzero(pred_match < 0).astype(np.int64)
    gi, pi, iou = _overlap_pairs(gold, pred, gold_free, pred_free)
    same = gtype[gi] == ptype[pi]
    gi, pi, iou = gi[same], pi[same], iou[same]
    order = _pair_order(gold, pred, gi, pi, -iou)
    g_partial, p_partial = gold_match.copy(), pred_match.copy()
    _greedy(gi[order], pi[order], g_partial, p_partial)
    partial_tp = np.bincount(gtype[g_partial >= 0], minlength=k).astype(np.int64)

    precision, recall, f1 = _prf(tp, n_gold, n_pred)
    pp, pr, pf = _prf(partial_tp, n_gold, n_pred)
    mp, mr, mf = _prf(tp.sum(), n_gold.sum(), n_pred.sum())
    xp, xr, xf = _prf(partial_tp.sum(), n_gold.sum(), n_pred.sum())
    macro, weighted = _averages({"precision": precision, "recall": recall, "f1": f1}, n_gold)
    return EntityScores(
        types=types,
        tp=tp,
        n_gold=n_gold,
        n_pred=n_pred,
        precision=precision,
        recall=recall,
        f1=f1,
        partial_tp=partial_tp,
        partial_precision=pp,
        partial_recall=pr,
        partial_f1=pf,
        micro={"precision": float(mp), "recall": float(mr), "f1": float(mf)},
        macro=macro,
        weighted=weighted,
        partial={"precision": float(xp), "recall": float(xr), "f1": float(xf)},
    )


# -- per-span results ----------------------------------------------------------------------


@dataclass(frozen=True)
class SpanResults:
    """Per-span outcome of strict matching, with an error type for every non-match.

    Gold arrays have the length of ``gold``, prediction arrays the length of ``pred``.
    ``*_status``: ``"TP"`` (strict match) or ``"FN"`` (gold) / ``"FP"`` (prediction).
    ``*_match``: index of the strictly matched span on the other side, or -1.
    ``*_pair``: index of the span it was compared with — the strict match, or the partner of
    a wrong-type / boundary error — or -1 (missed / spurious).
    ``*_iou``: character-interval IoU with the ``*_pair`` span, in ``[0, 1]`` (1 for strict
    matches, 0 without a pair); low is bad.
    ``*_error``: one of :data:`ERROR_TYPES`; ``""`` only for ``"TP"``.
    """

    gold_status: ObjArray
    gold_match: IntArray
    gold_pair: IntArray
    gold_iou: FloatArray
    gold_error: ObjArray
    pred_status: ObjArray
    pred_match: IntArray
    pred_pair: IntArray
    pred_iou: FloatArray
    pred_error: ObjArray


def span_results(gold: Spans, pred: Spans) -> SpanResults:
    """Per-span TP/FP/FN status, matched index, IoU and error type (see module docstring).

    ``TP`` count equals :func:`entity_scores`' strict ``tp``; ``TP + FN = len(gold)`` and
    ``TP + FP = len(pred)``.
    """
    _, gtype, ptype = _type_codes(gold, pred)
    gold_match, pred_match = _exact_match(gold, pred, gtype, ptype)
    gold_free = np.flatnonzero(gold_match < 0).astype(np.int64)
    pred_free = np.flatnonzero(pred_match < 0).astype(np.int64)
    gi, pi, iou = _overlap_pairs(gold, pred, gold_free, pred_free)
    other_type = (gtype[gi] != ptype[pi]).astype(np.int64)
    order = _pair_order(gold, pred, gi, pi, -iou, other_type, gtype[gi], ptype[pi])
    gold_pair, pred_pair = gold_match.copy(), pred_match.copy()
    _greedy(gi[order], pi[order], gold_pair, pred_pair)

    ng, npred = len(gold), len(pred)
    g_has, p_has = gold_pair >= 0, pred_pair >= 0
    gp = np.where(g_has, gold_pair, 0)
    pp = np.where(p_has, pred_pair, 0)
    gold_iou = np.zeros(ng, dtype=np.float64)
    pred_iou = np.zeros(npred, dtype=np.float64)
    if ng and npred:
        gold_iou = np.where(
            g_has, span_iou(gold.start, gold.end, pred.start[gp], pred.end[gp]), 0.0
        )
        pred_iou = np.where(
            p_has, span_iou(gold.start[pp], gold.end[pp], pred.start, pred.end), 0.0
        )

    def errors(
        matched: IntArray,
        paired: npt.NDArray[np.bool_],
        same_type: npt.NDArray[np.bool_],
        same_bounds: npt.NDArray[np.bool_],
        unpaired: str,
    ) -> ObjArray:
        err = np.full(len(matched), unpaired, dtype=object)
        err[paired & same_bounds & ~same_type] = "wrong_type"
        err[paired & ~same_bounds & same_type] = "boundary"
        err[paired & ~same_bounds & ~same_type] = "wrong_type_and_boundary"
        err[matched >= 0] = ""
        return err

    if ng and npred:
        g_type = gtype == ptype[gp]
        g_bounds = (gold.start == pred.start[gp]) & (gold.end == pred.end[gp])
        p_type = ptype == gtype[pp]
        p_bounds = (pred.start == gold.start[pp]) & (pred.end == gold.end[pp])
    else:
        g_type = g_bounds = np.zeros(ng, dtype=bool)
        p_type = p_bounds = np.zeros(npred, dtype=bool)
    return SpanResults(
        gold_status=np.where(gold_match >= 0, "TP", "FN").astype(object),
        gold_match=gold_match,
        gold_pair=gold_pair,
        gold_iou=gold_iou,
        gold_error=errors(gold_match, g_has, g_type, g_bounds, "missed"),
        pred_status=np.where(pred_match >= 0, "TP", "FP").astype(object),
        pred_match=pred_match,
        pred_pair=pred_pair,
        pred_iou=pred_iou,
        pred_error=errors(pred_match, p_has, p_type, p_bounds, "spurious"),
    )
