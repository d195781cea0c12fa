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
   of **the rest** by the one-sided **Fisher exact test** (:func:`errorscope.core.stats.
   fisher_greater`); all these tests form the family. The rest is the eligible units
   where the condition's attribute has *another* value: units the attribute does not
   describe (an object size for an unmatched prediction, a metadata field a row lacks)
   are on neither side, so a group is never compared with units of another kind.
2. p-values are adjusted for multiple comparisons over the whole family (**Holm** by
   default; Benjamini-Hochberg optional); a pattern is *significant* when its adjusted
   p-value is below ``alpha``. Significance is a gate: significant patterns come first.
3. Among them the ranking score is the **excess errors** the group explains, taken
   conservatively: ``n_in x`` the lower bound of the 95 % interval of the gap
   ``rate_in - rate_out`` (the point value is ``k_in - n_in * rate_out``, observed minus
   expected errors had the group the rest's rate). The interval is the wider of
   **Newcombe's** (objects independent) and a **row-clustered** one (each rate a ratio
   estimator over data rows with the sandwich variance ``sum_r (k_r - rate n_r)^2 / n^2
   x G / (G - 1)``): errors piled up in a few images — one crowd photo with twenty
   spurious boxes — are few independent observations and must not outrank an error
   spread over many images. (The candidates are first ordered by the Newcombe score; the
   best ``limit`` + a margin get the clustered interval and are ordered again.) The
   score is size-weighted by construction — a pattern's worth is how many errors it
   accounts for beyond the base rate, as in SliceLine's score where the error share and
   the size both count — so a small noisy group scores little, and an error kind that
   is equally frequent everywhere (the run's background false positives, say) scores 0
   in every group: only its excess over the run's own rate counts. Ties: smaller
   p-value, more specific *what*, fewer conditions.
4. The **most specific** explanation wins. A pattern ``C`` *refines* ``P`` when its
   units and its errors are subsets of ``P``'s (a confusion ``A -> B`` refines
   classification errors, which refine any error; a two-condition group refines each of
   its conditions). When a significant refinement carries at least ``explain`` (80 %)
   of ``P``'s point excess, ``P`` is dropped — its excess is that of ``C`` plus noise —
   and ``C`` takes ``P``'s place in the ranking if ``P``'s was better.
5. A two-condition pattern is kept only if it is more significant than each of its
   one-condition parents (it adds information), a pattern whose errors lie in fewer than
   ``min_rows`` data rows is dropped, and of patterns with the same units and errors
   only the best-ranked is kept.

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
    score: float = 0.0  # conservative excess errors: n_in x the gap's lower bound
    significant: bool = False
    excess: float = 0.0  # k_in - n_in * rate_out: errors beyond the rest's rate
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
    explain: float = 0.8,
    described: dict[str, Mask] | None = None,
) -> tuple[list[Candidate], int]:
    """Test every what x (one or two) conditions and rank them (module docstring).

    ``conditions``: (condition, mask over ``units``) pairs, one per value of an
    attribute; conditions with the same ``key`` are never combined. ``described``: per
    key, the units its attribute describes (default: the units in one of its conditions'
    masks); the rest of a group is the described units outside it. ``kinds``: the kinds
    of *what* searched. A pattern needs ``min_events`` errors spread over at least
    ``min_rows`` data rows (one image full of errors is not a pattern). At most
    ``max_whats`` whats (the most frequent) are tested; the best ``limit`` + a margin are
    re-scored with row-clustered intervals and the best ``limit`` returned. ``explain``:
    the share of a pattern's excess errors a significant refinement must carry to
    replace it.
    Returns ``(ranked candidates, family size)``; each candidate carries its
    ``p_value``, Holm/BH ``p_adjusted`` in [0, 1] (small = real), ``significant``,
    ``excess`` and ``score`` (>= 0: conservative excess errors)."""
    if correction not in ("holm", "bh"):
        raise ValueError(f"correction must be 'holm' or 'bh', not {correction!r}")
    found = [f for f in whats(units, min_events=min_events) if f[0].kind in kinds]
    if len(found) > max_whats:  # the most frequent kinds of error
        found = sorted(found, key=lambda f: -int(f[2].sum()))[:max_whats]
    if not found or not conditions:
        return [], 0
    elig = np.array([e for _, e, _ in found], dtype=bool)
    event = np.array([v for _, _, v in found], dtype=bool)
    groups = _groups(conditions, max_conditions, pair_pool, min_support)
    gmat = np.array([m for _, m, _ in groups], dtype=bool)
    inverse, members = _buckets(gmat)
    n_in = _cross_counts(elig, inverse, members)  # (whats, groups)
    k_in = _cross_counts(event, inverse, members)
    defined = _defined(conditions, described or {})
    n_rest, k_rest = _described(elig, event, groups, defined)
    n_out, k_out = n_rest - n_in, k_rest - k_in
    tested = (n_in >= min_support) & (n_out >= min_support)
    wi, gi = np.nonzero(tested)
    if not len(wi):
        return [], 0
    ki, ni, ko, no = k_in[wi, gi], n_in[wi, gi], k_out[wi, gi], n_out[wi, gi]
    p = stats.fisher_greater(ki, ni, ko, no)
    adj = stats.holm(p) if correction == "holm" else stats.benjamini_hochberg(p)
    lo, hi = stats.newcombe_interval(ki, ni, ko, no, confidence=confidence)
    score = np.maximum(np.nan_to_num(lo, nan=0.0), 0.0) * ni
    excess = ki - ni * ko / np.maximum(no, 1)
    sig = adj < alpha
    ok = (ki >= min_events) & (ki * no > ko * ni)
    best_single: dict[tuple[int, Where], float] = {}
    for jj in np.nonzero(ok)[0]:
        where = groups[int(gi[jj])][0]
        if len(where) == 1:
            best_single[(int(wi[jj]), where[0])] = float(p[jj])
    # best first: significant, then score, p-value, specific what, fewer conditions
    n_cond = np.array([len(groups[int(g)][0]) for g in gi])
    breadth = np.array([_BREADTH[found[int(w)][0].kind] for w in wi])
    order = np.lexsort((n_cond, breadth, p, -score, ~sig))
    pool: list[Candidate] = []  # masks only for the best (limit + a margin) candidates
    seen: set[tuple[bytes, bytes]] = set()
    for jj in order[ok[order]]:
        if len(pool) >= limit + max(limit, 100):
            break
        w, g = int(wi[jj]), int(gi[jj])
        where = groups[g][0]
        if len(where) > 1 and p[jj] >= min(best_single.get((w, x), 1.0) for x in where):
            continue  # the second condition adds nothing
        events = groups[g][1] & found[w][2]
        if np.unique(units.row[events]).size < min_rows:
            continue
        group = groups[g][1] & found[w][1]
        key = (np.packbits(group).tobytes(), np.packbits(events).tobytes())
        if key in seen:
            continue
        seen.add(key)
        rest = found[w][1] & ~groups[g][1]
        for k in groups[g][2]:
            rest &= defined[k]
        c_lo, c_hi = _row_clustered(units.row, group, rest, found[w][2], confidence)
        g_lo, g_hi = min(float(lo[jj]), c_lo), max(float(hi[jj]), c_hi)
        pool.append(
            Candidate(
                what=found[w][0],
                where=where,
                n_in=int(n_in[w, g]),
                k_in=int(k_in[w, g]),
                n_out=int(n_out[w, g]),
                k_out=int(k_out[w, g]),
                gap_lo=g_lo,
                gap_hi=g_hi,
                p_value=float(p[jj]),
                p_adjusted=float(adj[jj]),
                score=max(g_lo, 0.0) * int(n_in[w, g]),
                significant=bool(sig[jj]),
                excess=float(excess[jj]),
                group=group,
                events=events,
            )
        )
    pool.sort(
        key=lambda c: (not c.significant, -c.score, c.p_value, _BREADTH[c.what.kind], len(c.where))
    )
    return _most_specific(pool, explain)[:limit], len(wi)


_BREADTH = {"confusion": 0, "spurious": 0, "error_type": 1, "any": 2}


def _groups(
    conditions: list[tuple[Where, Mask]], max_conditions: int, pair_pool: int, min_support: int
) -> list[tuple[tuple[Where, ...], Mask, tuple[str, ...]]]:
    """The groups tested: every condition, and pairs of the ``pair_pool`` largest ones on
    different attributes (each with its attribute keys)."""
    groups: list[tuple[tuple[Where, ...], Mask, tuple[str, ...]]]
    groups = [((w,), m, (w.key,)) for w, m in conditions]
    if max_conditions >= 2:
        pool = sorted(conditions, key=lambda c: -int(c[1].sum()))[:pair_pool]
        for (w1, m1), (w2, m2) in itertools.combinations(pool, 2):
            if w1.key != w2.key:
                both = m1 & m2
                if both.sum() >= min_support:
                    groups.append(((w1, w2), both, tuple(sorted((w1.key, w2.key)))))
    return groups


def _described(
    elig: Mask,
    event: Mask,
    groups: list[tuple[tuple[Where, ...], Mask, tuple[str, ...]]],
    defined: dict[str, Mask],
) -> tuple[I64, I64]:
    """Per what x group, the eligible and event units that the group's attributes
    describe (group + rest): all of them unless an attribute leaves some units out."""
    n_all = elig.sum(axis=1).astype(np.int64)
    k_all = event.sum(axis=1).astype(np.int64)
    n_rest = np.repeat(n_all[:, None], len(groups), axis=1)
    k_rest = np.repeat(k_all[:, None], len(groups), axis=1)
    partial: dict[tuple[str, ...], list[int]] = {}
    for j, (_, _, keys) in enumerate(groups):
        if not all(defined[k].all() for k in keys):
            partial.setdefault(keys, []).append(j)
    if partial:
        masks = np.array(
            [np.logical_and.reduce([defined[k] for k in keys]) for keys in partial], dtype=bool
        )
        inverse, members = _buckets(masks)
        n_def = _cross_counts(elig, inverse, members)
        k_def = _cross_counts(event, inverse, members)
        for u, cols in enumerate(partial.values()):
            n_rest[:, cols] = n_def[:, u : u + 1]
            k_rest[:, cols] = k_def[:, u : u + 1]
    return n_rest, k_rest


def _defined(conditions: list[tuple[Where, Mask]], given: dict[str, Mask]) -> dict[str, Mask]:
    """Per attribute key, the units it describes (``given``, else its conditions' union)."""
    defined: dict[str, Mask] = {}
    for w, m in conditions:
        defined[w.key] = defined.get(w.key, np.zeros(len(m), bool)) | m
    defined.update({k: np.asarray(m, bool) for k, m in given.items() if k in defined})
    return defined


def _row_clustered(
    row: I64, group: Mask, rest: Mask, event: Mask, confidence: float
) -> tuple[float, float]:
    """The interval of ``rate(group) - rate(rest)`` with data rows as clusters: each rate
    is a ratio estimator whose variance is the sandwich ``sum_r (k_r - rate n_r)^2 /
    n^2 x G / (G - 1)`` over its G rows (objects of one image are not independent)."""
    variance, rate = 0.0, []
    for part in (group, rest):
        n = np.bincount(row[part]).astype(np.float64)
        k = np.bincount(row[part & event], minlength=len(n)).astype(np.float64)
        total, g = float(n.sum()), int((n > 0).sum())
        r = float(k.sum()) / total
        variance += float(((k - r * n) ** 2).sum()) / total**2 * g / max(g - 1, 1)
        rate.append(r)
    half = stats.z_value(confidence) * float(np.sqrt(variance))
    return rate[0] - rate[1] - half, rate[0] - rate[1] + half


def _subset(a: Mask, b: Mask) -> bool:
    return not bool((a & ~b).any())


def _most_specific(pool: list[Candidate], explain: float) -> list[Candidate]:
    """Drop each candidate that a significant refinement explains (module docstring, 4);
    the refinement takes the dropped one's place. ``pool`` is in ranking order."""
    heir: dict[int, int] = {}
    for i, parent in enumerate(pool):
        best = -1
        for j, child in enumerate(pool):
            if (
                j == i
                or not child.significant
                or child.excess < explain * parent.excess
                or child.n_in > parent.n_in
                or child.k_in > parent.k_in
                or (child.n_in, child.k_in) == (parent.n_in, parent.k_in)
            ):
                continue
            if (
                _subset(child.events, parent.events)
                and _subset(child.group, parent.group)
                and (best < 0 or child.score > pool[best].score)
            ):
                best = j
        if best >= 0:
            heir[i] = best
    place: dict[int, int] = {}
    for i in range(len(pool)):
        j = i
        while j in heir:
            j = heir[j]
        place.setdefault(j, i)  # the best place among itself and what it replaces
    kept = sorted(place, key=lambda j: place[j])
    return [pool[j] for j in kept]


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
