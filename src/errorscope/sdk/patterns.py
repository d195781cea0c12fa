"""``Workspace.patterns``: ranked, significance-tested failure patterns of a run.

Candidates are conjunctions of a class confusion, error type or any error with one or two
attribute conditions (split, metadata, computed media attributes, object size/aspect;
:mod:`errorscope.sdk.attributes`), tested and ranked as :mod:`errorscope.core.patterns`
documents (Fisher exact tests, Holm correction, Newcombe gap intervals, row-bootstrap F1
intervals). Each pattern has a plain-language description, its rows as a filter of the
query language (real predicates — :class:`~errorscope.core.query.Confusion`,
:class:`~errorscope.core.query.Split`, :class:`~errorscope.core.query.Metadata`,
:class:`~errorscope.core.query.RowMetric` — where the pattern can be expressed so, else
the :class:`~errorscope.core.query.Ids` of its rows) and can be saved as a slice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from errorscope.core import stats
from errorscope.core.patterns import Candidate, Units, Where, find_patterns
from errorscope.core.query import And, Confusion, Filter, Ids, Metadata, Or, RowMetric, Split
from errorscope.core.queryparse import filter_to_json
from errorscope.errors import ErrorscopeError
from errorscope.sdk.attributes import (
    Attribute,
    Frame,
    load_frame,
    object_attributes,
    row_attributes,
)
from errorscope.sdk.slices import Slice, SliceMixin, as_filter, resolve_slices
from errorscope.store import analysis
from errorscope.store.database import Database

__all__ = ["Pattern", "PatternMixin"]

_NONE = np.array(None, dtype=object)  # compares elementwise: np.not_equal(values, _NONE)

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Pattern:
    """One failure pattern (see :mod:`errorscope.core.patterns` for the statistics)."""

    rank: int
    description: str
    what: dict[str, Any]
    where: list[dict[str, Any]]
    rows: int  # data rows with the pattern's errors
    row_ids: list[int]
    n_in: int  # eligible objects in the group
    k_in: int  # of which erroneous
    n_out: int
    k_out: int
    gap_ci: tuple[float, float]  # interval of rate_in - rate_out
    p_value: float
    p_adjusted: float
    significant: bool
    score: float  # conservative excess errors (core.patterns, ranking step 3)
    excess: float  # k_in - n_in * rate_out: errors beyond the rest's rate
    metric_class: str | None
    f1_in: stats.Estimate
    f1_out: float
    filter: Filter

    def to_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "description": self.description,
            "what": self.what,
            "where": self.where,
            "rows": self.rows,
            "n_in": self.n_in,
            "k_in": self.k_in,
            "n_out": self.n_out,
            "k_out": self.k_out,
            "rate_in": self.k_in / self.n_in if self.n_in else None,
            "rate_out": self.k_out / self.n_out if self.n_out else None,
            "gap_ci": list(self.gap_ci),
            "p_value": self.p_value,
            "p_adjusted": self.p_adjusted,
            "significant": self.significant,
            "score": self.score,
            "excess": self.excess,
            "metric_class": self.metric_class,
            "f1_in": self.f1_in.to_json(),
            "f1_out": None if not np.isfinite(self.f1_out) else self.f1_out,
            "filter": filter_to_json(self.filter),
        }


def _conditions(
    frame: Frame, attrs: list[Attribute], objs: list[Attribute]
) -> tuple[list[tuple[Where, Mask]], dict[Where, Attribute], dict[str, Mask]]:
    """The conditions (one per attribute value), their attributes and, per attribute
    key, the objects it describes (its value is not None)."""
    out: list[tuple[Where, Mask]] = []
    source: dict[Where, Attribute] = {}
    described: dict[str, Mask] = {}
    for level, items in (("row", attrs), ("object", objs)):
        for a in items:
            values = np.asarray(a.values, dtype=object)
            known = np.not_equal(values, _NONE)
            vals = values[frame.row] if level == "row" else values
            described[a.key] = known[frame.row] if level == "row" else known
            for v in sorted(set(np.unique(values[known].astype(str)).tolist()) - set(a.skip)):
                w = Where(a.key, v, a.label, level)
                out.append((w, vals == v))
                source[w] = a
    return out, source, described


def _where_filter(w: Where, attr: Attribute) -> Filter | None:
    if w.level != "row":
        return None
    if w.key == "split":
        return Split((w.value,))
    if attr.metadata is None:
        return None
    if not attr.bounds:
        return Metadata(attr.metadata, equals=w.value)
    lo, hi = attr.bounds[w.value]
    first = min(b[0] for b in attr.bounds.values())
    lo = lo if lo == first else float(np.nextafter(lo, np.inf))  # tertiles are (lo, hi]
    return Metadata(attr.metadata, lo=lo, hi=hi)


def _what_filter(c: Candidate, frame: Frame) -> Filter | None:
    if c.what.kind == "any":
        return Or((RowMetric("fp", 1), RowMetric("fn", 1)))
    if frame.classification:
        return None
    if c.what.kind == "confusion":
        return Confusion(c.what.gt, c.what.pred)
    if c.what.kind == "spurious":
        return Confusion(None, c.what.pred)
    return None


def _class_counts(frame: Frame, mask: Mask, cls: str | None) -> npt.NDArray[np.float64]:
    sel = mask if cls is None else mask & (frame.cls == cls)
    out = np.zeros((frame.n_rows, 3))
    for j, hit in enumerate(
        (
            sel & frame.is_label & (frame.status == "TP"),
            sel & ~frame.is_label & (frame.status == "FP"),
            sel & frame.is_label & (frame.status == "FN"),
        )
    ):
        out[:, j] = np.bincount(frame.row[hit], minlength=frame.n_rows)
    return out


class PatternMixin:
    """The pattern methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__
    path: Any  # the workspace directory, set by Workspace.__init__

    def patterns(
        self,
        run: str,
        *,
        filter: Filter | Mapping[str, Any] | None = None,
        top: int = 10,
        min_support: int = 5,
        alpha: float = 0.05,
        correction: Literal["holm", "bh"] = "holm",
        significant_only: bool = False,
        kinds: tuple[str, ...] = ("confusion", "spurious", "error_type", "any"),
        n_boot: int = 500,
        seed: int = 0,
    ) -> list[Pattern]:
        """The ``top`` failure patterns of ``run``'s stored evaluation, best first,
        optionally within the rows matching ``filter`` (a split, a slice...).

        ``alpha``: the significance level of the adjusted p-values (``correction``
        ``holm``: family-wise; ``bh``: false discovery rate); ``significant_only`` drops
        the rest. ``min_support``: eligible objects needed inside and outside a group.
        ``kinds``: what to search for (``confusion``, ``spurious``, ``error_type``,
        ``any``).
        Intervals are 95 %; ``n_boot`` row-bootstrap resamples (seeded by ``seed``)."""
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise ErrorscopeError(f"top must be a positive integer, not {top!r}")
        if not 0.0 < alpha < 1.0:
            raise ErrorscopeError(f"alpha must be in (0, 1), not {alpha}")
        frame = load_frame(self.db, run)
        scope: Filter | None = None
        if filter is not None:
            scope = resolve_slices(self.db, as_filter(filter))
            ids = analysis.filter_row_ids(self.db, frame.run_id, scope)
            inside = np.isin(frame.row_ids, ids)
            frame = _restrict(frame, inside[frame.row])
        attrs = row_attributes(self.db, frame, self.path / "cache")
        conds, source, described = _conditions(frame, attrs, object_attributes(frame))
        units = Units(frame.row, frame.is_label, frame.cls, frame.other, frame.status, frame.error)
        found, _family = find_patterns(
            units,
            conds,
            min_support=min_support,
            alpha=alpha,
            correction=correction,
            kinds=tuple(kinds),
            described=described,
        )
        if significant_only:
            found = [c for c in found if c.significant]
        return [
            _pattern(i + 1, c, frame, source, scope, n_boot=n_boot, seed=seed)
            for i, c in enumerate(found[:top])
        ]

    def save_pattern(self, pattern: Pattern, name: str, *, run: str | None = None) -> Slice:
        """Save a pattern's rows as the slice ``name`` (its description becomes the
        slice's)."""
        assert isinstance(self, SliceMixin)
        return self.save_slice(name, pattern.filter, description=pattern.description, run=run)


def _restrict(frame: Frame, keep: Mask) -> Frame:
    arrays = [
        "row",
        "is_label",
        "cls",
        "other",
        "status",
        "error",
        "confidence",
        "iou",
        "other_confidence",
        "annotation_id",
        "spatial",
        "gt_w",
        "gt_h",
    ]
    values = {k: getattr(frame, k)[keep] for k in arrays}
    return Frame(
        run=frame.run,
        run_id=frame.run_id,
        params=frame.params,
        rows=frame.rows,
        row_ids=frame.row_ids,
        classification=frame.classification,
        **values,
    )


def _pattern(
    rank: int,
    c: Candidate,
    frame: Frame,
    source: dict[Where, Attribute],
    scope: Filter | None,
    *,
    n_boot: int,
    seed: int,
) -> Pattern:
    rows = np.unique(frame.row[c.events])
    row_ids = [int(i) for i in frame.row_ids[rows]]
    group = np.ones(len(frame.row), bool)
    for w in c.where:
        vals = source[w].values[frame.row] if w.level == "row" else source[w].values
        group &= vals == w.value
    cls = c.what.metric_class
    inside = _class_counts(frame, group, cls)
    outside = _class_counts(frame, ~group, cls)
    f1_in = stats.bootstrap_prf(inside, n_boot=n_boot, seed=seed)["f1"]
    tot = outside.sum(axis=0)
    f1_out = float(stats.prf(tot[0], tot[1], tot[2])[2])
    what_f = _what_filter(c, frame)
    where_f = [_where_filter(w, source[w]) for w in c.where]
    parts: list[Filter] = [] if scope is None else [scope]
    if what_f is not None and all(f is not None for f in where_f):
        parts += [what_f, *(f for f in where_f if f is not None)]
        rows_filter: Filter = And(tuple(parts))
    else:
        rows_filter = Ids(tuple(row_ids))
    of = "" if cls is None else f" of {cls}"
    fmt = _fmt
    desc = (
        f"{c.what.phrase()} in {len(row_ids)} rows "
        + " and ".join(w.phrase() for w in c.where)
        + f": F1{of} {fmt(f1_in.value)} vs {fmt(f1_out)} elsewhere "
        + f"({c.k_in} of {c.n_in} objects vs {c.rate_out:.0%} elsewhere, "
        + f"{c.excess:.0f} errors more than at that rate; adjusted p = {c.p_adjusted:.2g})"
    )
    return Pattern(
        rank=rank,
        description=desc,
        what={"kind": c.what.kind, "gt": c.what.gt, "pred": c.what.pred, "error": c.what.error},
        where=[
            {"key": w.key, "value": w.value, "label": w.label, "level": w.level} for w in c.where
        ],
        rows=len(row_ids),
        row_ids=row_ids,
        n_in=c.n_in,
        k_in=c.k_in,
        n_out=c.n_out,
        k_out=c.k_out,
        gap_ci=(c.gap_lo, c.gap_hi),
        p_value=c.p_value,
        p_adjusted=c.p_adjusted,
        significant=c.significant,
        score=c.score,
        excess=c.excess,
        metric_class=cls,
        f1_in=f1_in,
        f1_out=f1_out,
        filter=rows_filter,
    )


def _fmt(v: float) -> str:
    return "-" if not np.isfinite(v) else f"{v:.2f}"
