"""Honest uncertainty: confidence intervals, exact tests and multiple-comparison corrections.

Methods (all vectorised over numpy arrays; pure, no I/O):

* :func:`wilson_interval` — Wilson score interval of a proportion ``k / n`` (the
  interval of choice for precision and recall: it never leaves [0, 1] and stays
  sensible at ``k = 0`` or ``k = n``). ``n = 0`` gives NaN bounds.
* :func:`newcombe_interval` — Newcombe's hybrid score interval (method 10 of Newcombe
  1998) of the difference of two independent proportions ``k1/n1 - k2/n2``, built from
  the two Wilson intervals.
* :func:`fisher_greater` — the one-sided Fisher exact test that the event rate inside a
  group (``k_in`` of ``n_in``) is greater than outside it (``k_out`` of ``n_out``): the
  hypergeometric upper tail ``P(X >= k_in)`` with ``X ~ Hypergeom(n_in + n_out,
  k_in + k_out, n_in)``; exact, no large-sample approximation, so small groups get the
  large p-values they deserve.
* :func:`holm` and :func:`benjamini_hochberg` — adjusted p-values (Holm's step-down
  family-wise correction; Benjamini-Hochberg's false-discovery-rate step-up), equal to
  ``statsmodels.stats.multitest.multipletests(p, method="holm" | "fdr_bh")[1]``.
* :func:`bootstrap_prf` — precision, recall and F1 (micro, from TP/FP/FN counts) with
  percentile intervals from a *cluster* bootstrap over data rows: rows are resampled
  with replacement (objects of one image are not independent, so the row is the unit),
  ``n_boot`` resamples, a fixed ``seed``.
* :func:`paired_bootstrap_delta` — the same bootstrap applied to two runs on the same
  rows with the same resampled rows for both, giving an interval of ``new - old``
  (a paired design: a rerun of the same predictions has delta 0 in every resample).
* :func:`bootstrap_ap` — all-point interpolated average precision (VOC 2010+ / COCO
  style area under the monotone precision envelope) of scored detections with known
  TP/FP status at the evaluation's IoU threshold, and its row-bootstrap interval.

Every interval is ``(lo, hi)`` at level ``confidence`` (default 0.95).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Estimate",
    "benjamini_hochberg",
    "bootstrap_ap",
    "bootstrap_prf",
    "fisher_greater",
    "holm",
    "newcombe_interval",
    "paired_bootstrap_delta",
    "prf",
    "wilson_interval",
    "z_value",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
_CHUNK = 64  # bootstrap resamples drawn at a time (bounds memory at 64 x rows)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval (NaN where undefined, e.g. no objects)."""

    value: float
    lo: float
    hi: float

    def to_json(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if not np.isfinite(v) else float(v)

        return {"value": num(self.value), "ci": [num(self.lo), num(self.hi)]}


def z_value(confidence: float) -> float:
    """The two-sided standard-normal quantile of ``confidence`` (1.96 for 0.95);
    ValueError outside (0, 1)."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), not {confidence}")
    from scipy import stats as sps  # imported here: scipy.stats costs ~1 s at start-up

    return float(sps.norm.ppf(0.5 + confidence / 2.0))


def wilson_interval(
    successes: npt.ArrayLike, trials: npt.ArrayLike, *, confidence: float = 0.95
) -> tuple[F64, F64]:
    """Wilson score interval of ``successes / trials`` (arrays of equal shape, counts
    ``0 <= successes <= trials``). Returns ``(lo, hi)`` in [0, 1]; NaN where
    ``trials == 0``."""
    k = np.asarray(successes, dtype=np.float64)
    n = np.asarray(trials, dtype=np.float64)
    z = z_value(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
    hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return np.asarray(lo, np.float64), np.asarray(hi, np.float64)


def newcombe_interval(
    k1: npt.ArrayLike,
    n1: npt.ArrayLike,
    k2: npt.ArrayLike,
    n2: npt.ArrayLike,
    *,
    confidence: float = 0.95,
) -> tuple[F64, F64]:
    """Newcombe's hybrid score interval of ``k1/n1 - k2/n2`` (independent groups).
    Returns ``(lo, hi)`` in [-1, 1]; NaN where either group is empty."""
    a1, a2 = np.asarray(k1, np.float64), np.asarray(n1, np.float64)
    b1, b2 = np.asarray(k2, np.float64), np.asarray(n2, np.float64)
    l1, u1 = wilson_interval(a1, a2, confidence=confidence)
    l2, u2 = wilson_interval(b1, b2, confidence=confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p1, p2 = a1 / a2, b1 / b2
        d = p1 - p2
        lo = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
        hi = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return np.asarray(lo, np.float64), np.asarray(hi, np.float64)


def fisher_greater(
    k_in: npt.ArrayLike, n_in: npt.ArrayLike, k_out: npt.ArrayLike, n_out: npt.ArrayLike
) -> F64:
    """One-sided Fisher exact p-value that the rate inside (``k_in / n_in``) exceeds the
    rate outside (``k_out / n_out``); equal to ``scipy.stats.fisher_exact([[k_in, n_in -
    k_in], [k_out, n_out - k_out]], alternative="greater").pvalue``. In [0, 1]; small is
    evidence of a worse group."""
    ki = np.asarray(k_in, np.int64)
    ni = np.asarray(n_in, np.int64)
    total = ni + np.asarray(n_out, np.int64)
    events = ki + np.asarray(k_out, np.int64)
    from scipy import stats as sps

    p = sps.hypergeom.sf(ki - 1, total, events, ni)
    return np.asarray(np.clip(p, 0.0, 1.0), np.float64)


def holm(pvalues: npt.ArrayLike) -> F64:
    """Holm step-down adjusted p-values (family-wise error control); same order as
    the input, each in [0, 1]."""
    p = np.asarray(pvalues, np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def benjamini_hochberg(pvalues: npt.ArrayLike) -> F64:
    """Benjamini-Hochberg adjusted p-values (false discovery rate); same order as the
    input, each in [0, 1]."""
    p = np.asarray(pvalues, np.float64)
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="stable")[::-1]
    ranks = np.arange(m, 0, -1)
    adj = np.minimum.accumulate(p[order] * m / ranks)
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def prf(tp: npt.ArrayLike, fp: npt.ArrayLike, fn: npt.ArrayLike) -> tuple[F64, F64, F64]:
    """Precision, recall and F1 of counts (arrays); NaN where undefined."""
    t, f_p, f_n = (np.asarray(x, np.float64) for x in (tp, fp, fn))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(t + f_p > 0, t / (t + f_p), np.nan)
        r = np.where(t + f_n > 0, t / (t + f_n), np.nan)
        f = np.where(2 * t + f_p + f_n > 0, 2 * t / (2 * t + f_p + f_n), np.nan)
    return np.asarray(p), np.asarray(r), np.asarray(f)


def _resample_weights(rng: np.random.Generator, n_rows: int, n: int) -> F64:
    """``n`` bootstrap resamples of ``n_rows`` rows as (n, n_rows) multiplicity counts."""
    return rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows), size=n).astype(np.float64)


def _percentiles(samples: F64, confidence: float) -> tuple[F64, F64]:
    alpha = (1.0 - confidence) / 2.0
    with np.errstate(invalid="ignore"):
        ok = ~np.isnan(samples)
        lo = np.full(samples.shape[1:], np.nan)
        hi = np.full(samples.shape[1:], np.nan)
        for j in np.ndindex(*samples.shape[1:]):
            col = samples[(slice(None), *j)][ok[(slice(None), *j)]]
            if col.size:
                lo[j], hi[j] = np.quantile(col, [alpha, 1.0 - alpha])
    return lo, hi


def bootstrap_prf(
    counts: npt.ArrayLike,
    *,
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, Estimate]:
    """Micro precision, recall and F1 of per-row counts with row-bootstrap intervals.

    ``counts``: shape (rows, 3), the TP, FP and FN of each data row (of one class, or of
    all). Returns ``{"precision", "recall", "f1"}`` -> :class:`Estimate` (values in
    [0, 1], higher is better; NaN where there is nothing to count)."""
    c = np.asarray(counts, np.float64).reshape(-1, 3)
    tot = c.sum(axis=0)
    point = prf(tot[0], tot[1], tot[2])
    samples = _boot_counts(c[None], n_boot=n_boot, seed=seed)[:, 0]  # (n_boot, 3)
    boot = np.stack(prf(samples[:, 0], samples[:, 1], samples[:, 2]), axis=1)
    lo, hi = _percentiles(boot, confidence)
    return {
        name: Estimate(float(point[i]), float(lo[i]), float(hi[i]))
        for i, name in enumerate(("precision", "recall", "f1"))
    }


def _boot_counts(stacked: F64, *, n_boot: int, seed: int) -> F64:
    """Resampled sums of ``stacked`` (groups, rows, k) over the same resampled rows for
    every group: (n_boot, groups, k)."""
    rng = np.random.default_rng(seed)
    groups, n_rows, k = stacked.shape
    out = np.empty((n_boot, groups, k))
    if n_rows == 0:
        out[:] = 0.0
        return out
    flat = stacked.transpose(1, 0, 2).reshape(n_rows, groups * k)
    for start in range(0, n_boot, _CHUNK):
        n = min(_CHUNK, n_boot - start)
        w = _resample_weights(rng, n_rows, n)
        out[start : start + n] = (w @ flat).reshape(n, groups, k)
    return out


def paired_bootstrap_delta(
    new: npt.ArrayLike,
    old: npt.ArrayLike,
    *,
    metric: str = "f1",
    n_boot: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[Estimate, Estimate, Estimate]:
    """``metric`` (precision, recall or f1) of two runs on the same rows and the
    interval of ``new - old`` from a paired row bootstrap.

    ``new``, ``old``: shape (rows, 3), TP/FP/FN per row, rows aligned. Returns
    ``(new, old, delta)``; a negative delta is a regression."""
    which = ("precision", "recall", "f1").index(metric)
    a = np.asarray(new, np.float64).reshape(-1, 3)
    b = np.asarray(old, np.float64).reshape(-1, 3)
    if a.shape != b.shape:
        raise ValueError("new and old must have the same rows")
    stacked = np.stack([a, b])
    samples = _boot_counts(stacked, n_boot=n_boot, seed=seed)  # (n_boot, 2, 3)
    vals = prf(samples[..., 0], samples[..., 1], samples[..., 2])[which]  # (n_boot, 2)
    ta, tb = a.sum(axis=0), b.sum(axis=0)
    va = float(prf(ta[0], ta[1], ta[2])[which])
    vb = float(prf(tb[0], tb[1], tb[2])[which])
    boot = np.column_stack([vals[:, 0], vals[:, 1], vals[:, 0] - vals[:, 1]])
    lo, hi = _percentiles(boot, confidence)
    return (
        Estimate(va, float(lo[0]), float(hi[0])),
        Estimate(vb, float(lo[1]), float(hi[1])),
        Estimate(va - vb, float(lo[2]), float(hi[2])),
    )


def _ap(score: F64, tp: npt.NDArray[np.bool_], weight: F64, n_gt: float) -> float:
    """All-point interpolated AP of weighted detections (``score`` descending order)."""
    if n_gt <= 0:
        return float("nan")
    ctp = np.cumsum(weight * tp)
    cfp = np.cumsum(weight * ~tp)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(ctp + cfp > 0, ctp / (ctp + cfp), 0.0)
    recall = ctp / n_gt
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.diff(np.concatenate([[0.0], recall]))
    return float(np.sum(steps * envelope))


def bootstrap_ap(
    row: npt.ArrayLike,
    score: npt.ArrayLike,
    is_tp: npt.ArrayLike,
    gt_rows: npt.ArrayLike,
    *,
    n_boot: int = 200,
    confidence: float = 0.95,
    seed: int = 0,
) -> Estimate:
    """All-point AP of one class with a row-bootstrap interval.

    ``row``, ``score``, ``is_tp``: one entry per detection (data row index in
    ``0..n_rows-1``, confidence, matched at the evaluation's IoU threshold);
    ``gt_rows``: one entry per counted ground-truth object, its row index. The rows are
    ``0..max+1`` of both. AP is in [0, 1], higher is better; NaN without ground truth."""
    r = np.asarray(row, np.int64)
    s = np.asarray(score, np.float64)
    t = np.asarray(is_tp, bool)
    g = np.asarray(gt_rows, np.int64)
    n_rows = int(max(r.max(initial=-1), g.max(initial=-1)) + 1)
    order = np.argsort(-s, kind="stable")
    r, t = r[order], t[order]
    point = _ap(s, t, np.ones(len(t)), float(len(g)))
    gt_per_row = np.bincount(g, minlength=n_rows).astype(np.float64)
    rng = np.random.default_rng(seed)
    vals = np.full(n_boot, np.nan)
    for start in range(0, n_boot, _CHUNK):
        n = min(_CHUNK, n_boot - start)
        w = _resample_weights(rng, n_rows, n) if n_rows else np.zeros((n, 0))
        for i in range(n):
            vals[start + i] = _ap(s, t, w[i][r], float(w[i] @ gt_per_row))
    lo, hi = _percentiles(vals[:, None], confidence)
    return Estimate(point, float(lo[0]), float(hi[0]))
