"""The query language: which data rows of a model run match, in what order.

A filter is a tree of frozen dataclasses (:data:`Filter`), built in Python or read from
its text forms by :mod:`errorscope.core.queryparse` (JSON, the CLI's one-line
conditions, sort specs). A sort is :class:`Sort` (``iou:asc``, ``person.f1:desc``); ties
are always broken by data row id.

Semantics (:mod:`errorscope.core.rowindex` runs them on a run's in-memory index;
:mod:`errorscope.store.query` states them in SQL, and the tests hold the two equal):

* :class:`RowMetric` without a class compares the data row's stored metric; TP/FP/FN
  counts of a row without counted objects are 0, its ratios are undefined and match no
  range. With ``class_name`` it compares the metric of that class in the row, which
  exists only where the class has a counted label or prediction in the row.
* :class:`ClassPresent` looks at the labels (``side="label"``) or the run's predictions;
  ``class_name=None`` means "any class", so ``ClassPresent("label", None, present=False)``
  is "no ground truth at all".
* Ranges are closed unless ``lo_inclusive`` / ``hi_inclusive`` say otherwise; a missing
  bound is open-ended.

This module is pure: no SQL, no I/O.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from errorscope.errors import InvalidQueryError

__all__ = [
    "CLASS_METRICS",
    "READY_MADE",
    "ROW_METRICS",
    "And",
    "ClassPresent",
    "Confusion",
    "CustomMetric",
    "Dataset",
    "Filter",
    "Ids",
    "Metadata",
    "Not",
    "ObjectMatch",
    "Or",
    "RowMetric",
    "Similar",
    "SliceMember",
    "Sort",
    "Split",
    "TextContains",
    "expand_slices",
]

#: Metrics of a class within a data row: the stored scores and counts, and
#: ``max_fp_confidence``, the confidence of the most confident false positive.
CLASS_METRICS = (
    "iou",
    "precision",
    "recall",
    "f1",
    "tp",
    "fp",
    "fn",
    "mean_confidence",
    "max_fp_confidence",
)
#: Metrics of a data row: those of :data:`CLASS_METRICS` over the whole row, and
#: ``mislabel_score``, the run's score in [0, 1] that the row's disagreement with the
#: model is a labeling mistake rather than a model error (high = likely a label
#: mistake; stored by the label-issue analysis, missing where it has not scored the row).
ROW_METRICS = (*CLASS_METRICS, "mislabel_score")
#: What an evaluated object can be (:class:`ObjectMatch` ``status``).
OBJECT_STATUSES = ("TP", "FP", "FN", "ignored")
Side = Literal["label", "prediction"]


def _check_bounds(lo: Any, hi: Any) -> None:
    for bound in (lo, hi):
        if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float)):
            raise InvalidQueryError(f"bounds must be numbers, not {bound!r}")
        if bound is not None and not math.isfinite(bound):
            raise InvalidQueryError(f"bounds must be finite numbers, not {bound!r}")


@dataclass(frozen=True)
class And:
    """Every one of ``filters`` holds (an empty And: every row)."""

    filters: tuple[Filter, ...]


@dataclass(frozen=True)
class Or:
    """At least one of ``filters`` holds (an empty Or: no row)."""

    filters: tuple[Filter, ...]


@dataclass(frozen=True)
class Not:
    """``filter`` does not hold."""

    filter: Filter


@dataclass(frozen=True)
class Split:
    """The row's split in the run is one of ``values``."""

    values: tuple[str, ...]


@dataclass(frozen=True)
class ClassPresent:
    """The row has (``present``) or has not a label / prediction of ``class_name``
    (``None``: of any class)."""

    side: Side
    class_name: str | None
    present: bool = True

    def __post_init__(self) -> None:
        if self.side not in ("label", "prediction"):
            raise InvalidQueryError(f"side must be 'label' or 'prediction', not {self.side!r}")


@dataclass(frozen=True)
class RowMetric:
    """A metric of the row (or of ``class_name`` in the row) lies in [lo, hi]."""

    name: str
    lo: float | None = None
    hi: float | None = None
    class_name: str | None = None
    lo_inclusive: bool = True
    hi_inclusive: bool = True

    def __post_init__(self) -> None:
        if self.name not in ROW_METRICS:
            raise InvalidQueryError(
                f"unknown metric {self.name!r}; metrics are {', '.join(ROW_METRICS)}"
            )
        _check_class_metric(self.name, self.class_name)
        for bound in (self.lo, self.hi):
            if bound is not None and (
                isinstance(bound, bool) or not isinstance(bound, int | float)
            ):
                raise InvalidQueryError(f"metric bounds must be numbers, not {bound!r}")
            if bound is not None and not math.isfinite(bound):
                raise InvalidQueryError(f"metric bounds must be finite numbers, not {bound!r}")


@dataclass(frozen=True)
class Metadata:
    """A metadata field: string ``equals`` / ``prefix``, one of the values ``any_of``
    (enum fields), number range ``lo``..``hi``, or datetime range ``since``..``until``
    (all bounds inclusive). Exactly one kind."""

    name: str
    equals: str | None = None
    prefix: str | None = None
    lo: float | None = None
    hi: float | None = None
    since: datetime | None = None
    until: datetime | None = None
    any_of: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        kinds = [
            self.equals is not None,
            self.prefix is not None,
            self.lo is not None or self.hi is not None,
            self.since is not None or self.until is not None,
            self.any_of is not None,
        ]
        if sum(kinds) != 1:
            raise InvalidQueryError(
                f"metadata condition on {self.name!r} needs exactly one of: equals, prefix, "
                "any_of (values), lo/hi (number range), since/until (datetime range)"
            )


@dataclass(frozen=True)
class Dataset:
    """The row belongs to one of the datasets ``names``."""

    names: tuple[str, ...]


@dataclass(frozen=True)
class CustomMetric:
    """A custom metric of the row lies in [lo, hi]: the mean of the values that the
    run's predictions in the row carry under ``name`` (rows without one match nothing)."""

    name: str
    lo: float | None = None
    hi: float | None = None

    def __post_init__(self) -> None:
        _check_bounds(self.lo, self.hi)


@dataclass(frozen=True)
class ObjectMatch:
    """The row has an evaluated object (a label or a prediction of the run) with every
    given property: ``class_name``, ``status`` (TP / FP / FN / ignored), ``error_type``
    (the TIDE error of :mod:`errorscope.core.matching`: ``classification``,
    ``localization``, ``both``, ``duplicate``, ``background``, ``missed``), confidence
    in [``min_confidence``, ``max_confidence``], IoU in [``min_iou``, ``max_iou``].
    E.g. "has an FP of class dog with confidence >= 0.8"; "has a prediction with
    confidence in [0.3, 0.5]". A run that was not evaluated has no evaluated objects."""

    side: Side
    class_name: str | None = None
    status: str | None = None
    error_type: str | None = None
    min_confidence: float | None = None
    max_confidence: float | None = None
    min_iou: float | None = None
    max_iou: float | None = None

    def __post_init__(self) -> None:
        if self.side not in ("label", "prediction"):
            raise InvalidQueryError(f"side must be 'label' or 'prediction', not {self.side!r}")
        if self.status is not None and self.status not in OBJECT_STATUSES:
            raise InvalidQueryError(
                f"unknown status {self.status!r}; statuses are {', '.join(OBJECT_STATUSES)}"
            )
        _check_bounds(self.min_confidence, self.max_confidence)
        _check_bounds(self.min_iou, self.max_iou)


@dataclass(frozen=True)
class TextContains:
    """The row's text contains ``text`` (case-insensitive)."""

    text: str


@dataclass(frozen=True)
class Ids:
    """The row's id is one of ``ids`` (a lasso selection)."""

    ids: tuple[int, ...]


@dataclass(frozen=True)
class SliceMember:
    """The row is in the slice ``name``: a saved slice (its filter, evaluated now, so rows
    added after it was saved are included) or a ready-made one (:data:`READY_MADE`)."""

    name: str


@dataclass(frozen=True)
class Confusion:
    """The row has an evaluated object in the confusion-matrix cell ``gt_class`` ->
    ``pred_class``: a ground truth matched to a prediction (of either class, so
    off-diagonal cells are cross-class matches), an unmatched counted ground truth
    (``pred_class=None``) or an unmatched kept prediction (``gt_class=None``)."""

    gt_class: str | None
    pred_class: str | None


@dataclass(frozen=True)
class Similar:
    """The row is among the ``k`` rows nearest to the ``anchors`` rows in the embedding
    space ``space`` (nearest to the mean of the anchors' unit vectors, anchors excluded).
    In a per-object space (crops) the anchors are object ids, and a row matches when it
    holds one of the ``k`` objects nearest to them. The SDK replaces the filter by the
    :class:`Ids` it stands for before compiling."""

    space: str
    anchors: tuple[int, ...]
    k: int = 20

    def __post_init__(self) -> None:
        if not 1 <= len(self.anchors) <= 20:
            raise InvalidQueryError("a similar filter needs 1 to 20 anchor rows")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= 10_000:
            raise InvalidQueryError(f"k must be an integer in [1, 10000], not {self.k!r}")


Filter = (
    And
    | Or
    | Not
    | Split
    | ClassPresent
    | RowMetric
    | Metadata
    | TextContains
    | Ids
    | SliceMember
    | Confusion
    | Similar
    | Dataset
    | CustomMetric
    | ObjectMatch
)


SortSource = Literal["metric", "metadata", "custom"]


def _check_class_metric(name: str, class_name: str | None) -> None:
    if class_name is not None and name not in CLASS_METRICS:
        raise InvalidQueryError(
            f"metric {name!r} is a row metric with no per-class value; per-class metrics "
            f"are {', '.join(CLASS_METRICS)}"
        )


@dataclass(frozen=True)
class Sort:
    """Order by a row metric (or ``class_name``'s metric in the row), by a metadata field
    (``source="metadata"``, ``metric`` = the field's name) or by a custom metric
    (``source="custom"``, see :class:`CustomMetric`); ties by row id. ``metric=None``
    orders by row id alone. Rows without a value come last."""

    metric: str | None = None
    descending: bool = False
    class_name: str | None = None
    source: SortSource = "metric"

    def __post_init__(self) -> None:
        if self.source not in ("metric", "metadata", "custom"):
            raise InvalidQueryError(f"unknown sort source {self.source!r}")
        if self.source == "metric" and self.metric is not None and self.metric not in ROW_METRICS:
            raise InvalidQueryError(
                f"cannot sort by {self.metric!r}; sortable metrics are {', '.join(ROW_METRICS)}"
                ", meta(FIELD) and custom(NAME)"
            )
        if self.source != "metric" and (self.metric is None or self.class_name is not None):
            raise InvalidQueryError(f"a {self.source} sort needs a field name and no class")
        if self.source == "metric" and self.metric is not None:
            _check_class_metric(self.metric, self.class_name)

    def spec(self) -> str:
        """The text form :func:`parse_sort` reads back."""
        if self.metric is None:
            return "id:asc"
        if self.source != "metric":
            word = self.metric if _WORD.fullmatch(self.metric) else json.dumps(self.metric)
            name = f"{'meta' if self.source == 'metadata' else 'custom'}({word})"
        elif self.class_name is None:
            name = self.metric
        else:
            cls = (
                self.class_name if _WORD.fullmatch(self.class_name) else json.dumps(self.class_name)
            )
            name = f"{cls}.{self.metric}"
        return f"{name}:{'desc' if self.descending else 'asc'}"


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_\-]*")


# -- slices ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadyMade:
    """A slice every evaluated run has: its filter, the order it is best read in (None:
    the caller's) and what it holds."""

    filter: Filter
    sort: Sort | None
    description: str


#: The ready-made slices of a run, by name (not stored; evaluated on the run's results).
READY_MADE: dict[str, ReadyMade] = {
    "true_positives": ReadyMade(RowMetric("tp", 1), None, "rows with a true positive"),
    "false_positives": ReadyMade(RowMetric("fp", 1), None, "rows with a false positive"),
    "false_negatives": ReadyMade(RowMetric("fn", 1), None, "rows with a false negative"),
    "low_precision": ReadyMade(
        RowMetric("precision", hi=0.5, hi_inclusive=False), None, "precision < 0.5"
    ),
    "low_recall": ReadyMade(RowMetric("recall", hi=0.5, hi_inclusive=False), None, "recall < 0.5"),
    "low_f1": ReadyMade(RowMetric("f1", hi=0.5, hi_inclusive=False), None, "F1 < 0.5"),
    "low_confidence": ReadyMade(
        RowMetric("mean_confidence", hi=0.5, hi_inclusive=False), None, "mean confidence < 0.5"
    ),
    "candidate_mislabels": ReadyMade(
        Or((RowMetric("fp", 1), RowMetric("mislabel_score", 0.5))),
        Sort("mislabel_score", descending=True),
        "rows with false positives or a label-mistake score of at least 0.5, the likeliest "
        "label mistakes first (possible missing or wrong labels)",
    ),
}


def expand_slices(
    f: Filter, lookup: Callable[[str], Filter | None], _stack: tuple[str, ...] = ()
) -> Filter:
    """``f`` with every :class:`SliceMember` replaced by its slice's filter (ready-made
    first, then ``lookup(name)``, None if there is no such slice), recursively. An
    unknown slice or a slice that refers to itself, directly or not, is an
    :class:`InvalidQueryError`."""
    if isinstance(f, And | Or):
        return type(f)(tuple(expand_slices(x, lookup, _stack) for x in f.filters))
    if isinstance(f, Not):
        return Not(expand_slices(f.filter, lookup, _stack))
    if not isinstance(f, SliceMember):
        return f
    if f.name in _stack:
        cycle = " -> ".join((*_stack[_stack.index(f.name) :], f.name))
        raise InvalidQueryError(f"slice {f.name!r} refers to itself: {cycle}")
    if f.name in READY_MADE:
        return READY_MADE[f.name].filter
    found = lookup(f.name)
    if found is None:
        raise InvalidQueryError(f"unknown slice {f.name!r}")
    return expand_slices(found, lookup, (*_stack, f.name))
