"""Failure-pattern discovery: where is a kind of error significantly more frequent?

A **pattern** is a conjunction of *what* goes wrong and *where*:

* *what* (:class:`What`) — a class confusion (ground truth ``A`` whose match is a
  prediction of ``B``, or nothing: ``A`` missed), a spurious prediction of ``B`` (matched
  to no ground truth), an error type (TIDE for detection, boundary / wrong type / missed /
  spurious for spans), or any error;
* *where* — one or two attribute conditions (:class:`Where`: split, metadata value or
  number tertile, image brightness, dominant colour, text length, rare tokens, object
  size or aspect, embedding cluster...), each a boolean mask over the units.

The units are the evaluated objects (counted ground truth and predictions). Each *what*
has **eligible** units (for ``A -> B``: the ground truth of class ``A``; for spurious
``B``: the predictions of ``B``; for an error type: the ground truth if it occurs
there, else the predictions; for any error: the ground truth and the unmatched
predictions, so that a pair matched across classes counts once) and **event** units among them.

Test and ranking (:func:`find_patterns`):

1. For every what x where with at least ``min_support`` eligible units inside and
   outside the group, the event rate inside (``k_in / n_in``) is compared with the rate
   outside by the one-sided **Fisher exact test** (:func:`errorscope.core.stats.
   fisher_greater`); all these tests form the family.
2. p-values are adjusted for multiple comparisons over the whole family (**Holm** by
   default; Benjamini-Hochberg optional); a pattern is *significant* when its adjusted
   p-value is below ``alpha``.
3. The gap ``rate_in - rate_out`` gets **Newcombe's** 95 % interval, and the ranking score
   is ``max(0, gap lower bound) * sqrt(n_in)``: how much worse, conservatively, weighted
   by size, so a small noisy group needs a much larger gap to compete and a gap that
   might be zero scores 0. Significant patterns come first, then by score.
4. A two-condition pattern is kept only if it is more significant than each of its
   one-condition parents (it adds information), and a pattern whose events and group
   equal an earlier one's is dropped.

Caveat: objects of one data row are not independent; the exact test treats them as if
they were. The row-clustered bootstrap intervals of the reported F1 values
(:func:`errorscope.core.stats.bootstrap_prf`) are the honest spread.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from errorscope.core import stats

__all__ = ["Candidate", "Units", "What", "Where", "find_patterns", "kmeans", "whats"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Obj = npt.NDArray[np.object_]
Mask = npt.NDArray[np.bool_]
Correction = Literal["holm", "bh"]


@dataclass(frozen=True)
class Units:
    """The evaluated objects: one entry per counted ground truth (TP/FN) or prediction
    (TP/FP). ``other`` is the class of the object it was matched to (None: unmatched)."""

    row: I64
    is_label: Mask
    cls: Obj
    other: Obj
    status: Obj
    error: Obj

    def __len__(self) -> int:
        return len(self.row)


@dataclass(frozen=True)
class What:
    """What goes wrong. ``kind``: ``confusion`` (``gt`` -> ``pred``, None = missed),
    ``spurious`` (``pred`` matched to nothing), ``error_type`` (``error``) or ``any``."""

    kind: str
    gt: str | None = None
    pred: str | None = None
    error: str | None = None

    @property
    def metric_class(self) -> str | None:
        """The class whose metrics describe the pattern (None: all classes)."""
        return self.gt if self.kind == "confusion" else self.pred

    def phrase(self) -> str:
        if self.kind == "confusion":
            if self.pred is None:
                return f"{self.gt} missed"
            return f"{self.gt} predicted as {self.pred}"
        if self.kind == "spurious":
            return f"spurious {self.pred} (predicted where nothing is labelled)"
        if self.kind == "error_type":
            return f"{self.error} errors"
        return "errors"


@dataclass(frozen=True)
class Where:
    """One condition: attribute ``key`` has ``value``; ``label`` names the attribute in
    plain language; ``level`` is ``row`` or ``object``."""

    key: str
    value: str
    label: str
    level: str = "row"

    def phrase(self) -> str:
        if self.key == "split":
            return f"in the {self.value} split"
        if self.value == "yes":
            return f"whose {self.label}" if self.key.startswith("colour:") else f"with {self.label}"
        if self.level == "object":
            return f"on objects whose {self.label} is {self.value}"
        return f"whose {self.label} is {self.value}"


@dataclass
class Candidate:
    """A tested pattern: counts, rates, the gap's interval, p-values and score."""

    what: What
    where: tuple[Where, ...]
    n_in: int
    k_in: int
    n_out: int
    k_out: int
    gap_lo: float
    gap_hi: float
    p_value: float
    p_adjusted: float = 1.0
    score: float = 0.0
    significant: bool = False
    group: Mask = field(default_factory=lambda: np.zeros(0, bool), repr=False)
    events: Mask = field(default_factory=lambda: np.zeros(0, bool), repr=False)

    @property
    def rate_in(self) -> float:
        return self.k_in / self.n_in if self.n_in else float("nan")

    @property
    def rate_out(self) -> float:
        return self.k_out / self.n_out if self.n_out else float("nan")


def whats(units: Units, *, min_events: int = 3) -> list[tuple[What, Mask, Mask]]:
    """The candidate whats of ``units`` with their eligible and event masks (each with at
    least ``min_events`` events overall)."""
    out: list[tuple[What, Mask, Mask]] = []
    lab, st = units.is_label, units.status
    fn = lab & (st == "FN")
    for a in sorted({str(c) for c in units.cls[fn]}):
        eligible = lab & (units.cls == a)
        for b in sorted(set(units.other[fn & (units.cls == a)]), key=lambda x: str(x)):
            event = fn & (units.cls == a) & (units.other == b if b is not None else _none(units))
            if b == a or event.sum() < min_events:
                continue
            out.append((What("confusion", a, None if b is None else str(b)), eligible, event))
    fp = ~lab & (st == "FP") & _none(units)
    for b in sorted({str(c) for c in units.cls[fp]}):
        event = fp & (units.cls == b)
        if event.sum() >= min_events:
            out.append((What("spurious", pred=b), ~lab & (units.cls == b), event))
    for err in sorted({str(e) for e in units.error if e}):
        # one side only, so a matched pair of two classes is one event, not two
        side = bool((lab & (units.error == err)).any())
        eligible = lab if side else ~lab
        event = eligible & (units.error == err)
        if event.sum() >= min_events:
            out.append((What("error_type", error=err), eligible, event))
    single = lab | (~lab & _none(units))  # the confusion matrix's cells: each pair once
    event = single & (st != "TP")
    if event.sum() >= min_events:
        out.append((What("any"), single, event))
    return out


def _buckets(b: Mask, chunk: int = 16384) -> tuple[I64, F64]:
    """Units with the same membership in every group of ``b`` (q, M) share a bucket
    (typically: the objects of one data row). Returns ``(bucket of each unit, (B, q)
    memberships)``. Buckets are keyed by a random projection of the membership column
    (float64; a collision is checked for and falls back to one bucket per unit)."""
    q, m = b.shape
    r = np.random.default_rng(0).random(q)
    key = np.empty(m)
    for start in range(0, m, chunk):
        key[start : start + chunk] = r @ b[:, start : start + chunk].astype(np.float64)
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    inverse = inverse.ravel().astype(np.int64)
    members = b[:, first]
    if not all(
        np.array_equal(members[:, inverse[start : start + chunk]], b[:, start : start + chunk])
        for start in range(0, m, chunk)
    ):  # pragma: no cover - a float collision of two different columns
        return np.arange(m, dtype=np.int64), b.T.astype(np.float64)
    return inverse, members.T.astype(np.float64)


def _cross_counts(a: Mask, inverse: I64, members: F64) -> I64:
    """``a @ b.T`` (joint membership counts) for boolean ``a`` (p, M) and the buckets of
    ``b`` (:func:`_buckets`): ``a`` is summed per bucket, then multiplied."""
    n = members.shape[0]
    per_bucket = np.empty((a.shape[0], n))
    for k in range(a.shape[0]):
        per_bucket[k] = np.bincount(inverse, weights=a[k], minlength=n)
    return np.asarray(np.rint(per_bucket @ members), np.int64)


def _none(units: Units) -> Mask:
    return np.array([o is None for o in units.other], dtype=bool)


def find_patterns(
    units: Units,
    conditions: list[tuple[Where, Mask]],
    *,
    min_support: int = 5,
    min_events: int = 3,
    max_conditions: int = 2,
    pair_pool: int = 40,
    alpha: float = 0.05,
    correction: Correction = "holm",
    confidence: float = 0.95,
    kinds: tuple[str, ...] = ("confusion", "spurious", "error_type", "any"),
    min_rows: int = 3,
    max_whats: int = 200,
    limit: int = 100,
) -> tuple[list[Candidate], int]:
    """Test every what x (one or two) conditions and rank them (module docstring).

    ``conditions``: (condition, mask over ``units``) pairs; conditions with the same
    ``key`` are never combined. ``kinds``: the kinds of *what* searched. A pattern needs
    ``min_events`` errors spread over at least ``min_rows`` data rows (one image full of
    errors is not a pattern). At most ``max_whats`` whats (the most frequent) are tested
    and the best ``limit`` patterns are returned.
    Returns ``(ranked candidates, family size)``; each candidate carries its
    ``p_value``, Holm/BH ``p_adjusted`` in [0, 1] (small = real), ``significant`` and
    ``score`` (>= 0, higher = worse and bigger)."""
    if correction not in ("holm", "bh"):
        raise ValueError(f"correction must be 'holm' or 'bh', not {correction!r}")
    found = [f for f in whats(units, min_events=min_events) if f[0].kind in kinds]
    if len(found) > max_whats:  # the most frequent kinds of error
        found = sorted(found, key=lambda f: -int(f[2].sum()))[:max_whats]
    if not found or not conditions:
        return [], 0
    elig = np.array([e for _, e, _ in found], dtype=bool)
    event = np.array([v for _, _, v in found], dtype=bool)
    groups: list[tuple[tuple[Where, ...], Mask]] = [((w,), m) for w, m in conditions]
    if max_conditions >= 2:
        pool = sorted(conditions, key=lambda c: -int(c[1].sum()))[:pair_pool]
        for (w1, m1), (w2, m2) in itertools.combinations(pool, 2):
            if w1.key != w2.key:
                both = m1 & m2
                if both.sum() >= min_support:
                    groups.append(((w1, w2), both))
    gmat = np.array([m for _, m in groups], dtype=bool)
    inverse, members = _buckets(gmat)
    n_in = _cross_counts(elig, inverse, members)  # (whats, groups)
    k_in = _cross_counts(event, inverse, members)
    n_out = elig.sum(axis=1).astype(np.int64)[:, None] - n_in
    k_out = event.sum(axis=1).astype(np.int64)[:, None] - k_in
    tested = (n_in >= min_support) & (n_out >= min_support)
    wi, gi = np.nonzero(tested)
    if not len(wi):
        return [], 0
    p = stats.fisher_greater(k_in[wi, gi], n_in[wi, gi], k_out[wi, gi], n_out[wi, gi])
    adj = stats.holm(p) if correction == "holm" else stats.benjamini_hochberg(p)
    lo, hi = stats.newcombe_interval(
        k_in[wi, gi], n_in[wi, gi], k_out[wi, gi], n_out[wi, gi], confidence=confidence
    )
    score = np.maximum(np.nan_to_num(lo, nan=0.0), 0.0) * np.sqrt(n_in[wi, gi])
    sig = adj < alpha
    ok = (k_in[wi, gi] >= min_events) & (
        k_in[wi, gi] * n_out[wi, gi] > k_out[wi, gi] * n_in[wi, gi]
    )
    best_single: dict[tuple[int, Where], float] = {}
    for jj in np.nonzero(ok)[0]:
        where = groups[int(gi[jj])][0]
        if len(where) == 1:
            best_single[(int(wi[jj]), where[0])] = float(p[jj])
    # best first: significant, then score, p-value, fewer conditions; masks only for these
    n_cond = np.array([len(groups[int(g)][0]) for g in gi])
    order = np.lexsort((n_cond, p, -score, ~sig))
    kept: list[Candidate] = []
    seen: set[tuple[int, bytes, bytes]] = set()
    for jj in order[ok[order]]:
        if len(kept) >= limit:
            break
        w, g = int(wi[jj]), int(gi[jj])
        where = groups[g][0]
        if len(where) > 1 and p[jj] >= min(best_single.get((w, x), 1.0) for x in where):
            continue  # the second condition adds nothing
        events = groups[g][1] & found[w][2]
        if np.unique(units.row[events]).size < min_rows:
            continue
        group = groups[g][1] & found[w][1]
        key = (w, np.packbits(group).tobytes(), np.packbits(events).tobytes())
        if key in seen:
            continue
        seen.add(key)
        kept.append(
            Candidate(
                what=found[w][0],
                where=where,
                n_in=int(n_in[w, g]),
                k_in=int(k_in[w, g]),
                n_out=int(n_out[w, g]),
                k_out=int(k_out[w, g]),
                gap_lo=float(lo[jj]),
                gap_hi=float(hi[jj]),
                p_value=float(p[jj]),
                p_adjusted=float(adj[jj]),
                score=float(score[jj]),
                significant=bool(sig[jj]),
                group=group,
                events=events,
            )
        )
    return kept, len(wi)


def kmeans(vectors: npt.ArrayLike, k: int, *, seed: int = 0, iterations: int = 25) -> I64:
    """Cluster labels (0..k-1) of ``vectors`` (N, D) by spherical k-means (cosine: rows
    are L2-normalised; k-means++ seeding, seeded). Used for the embedding-cluster
    attribute of patterns."""
    v = np.asarray(vectors, np.float64)
    n = len(v)
    if n == 0:
        return np.zeros(0, np.int64)
    k = max(1, min(k, n))
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norm > 0, norm, 1.0)
    rng = np.random.default_rng(seed)
    centres = [v[rng.integers(n)]]
    for _ in range(1, k):
        d = np.min(1.0 - v @ np.array(centres).T, axis=1).clip(0.0)
        total = d.sum()
        centres.append(v[rng.choice(n, p=d / total) if total > 0 else rng.integers(n)])
    c = np.array(centres)
    labels = np.zeros(n, np.int64)
    for _ in range(iterations):
        new = np.argmax(v @ c.T, axis=1)
        if _ > 0 and np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = v[labels == j]
            if len(members):
                m = members.sum(axis=0)
                c[j] = m / max(float(np.linalg.norm(m)), 1e-12)
    return labels
