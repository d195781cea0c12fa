"""The text forms of the query language (:mod:`errorscope.core.query`).

* JSON, the REST API's form: :func:`parse_filter` reads a filter tree and names the JSON
  path of any problem; :func:`filter_to_json` is its inverse.
* The CLI's one-line conditions: :func:`parse_expression` (``iou<0.5``,
  ``person.iou<=0.5``, ``fp>=1``).
* Sort specs: :func:`parse_sort` (``iou:asc``, ``"traffic light".f1:desc``,
  ``meta(FIELD)``, ``custom(NAME)``), the inverse of :meth:`Sort.spec`.

Every problem is an :class:`~errorscope.errors.InvalidQueryError`. Pure: no SQL, no I/O.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import fields
from datetime import datetime
from typing import Any

from errorscope.core.query import (
    OBJECT_STATUSES,
    ROW_METRICS,
    And,
    ClassPresent,
    Confusion,
    CustomMetric,
    Dataset,
    Filter,
    Ids,
    Metadata,
    Not,
    ObjectMatch,
    Or,
    RowMetric,
    Side,
    Similar,
    SliceMember,
    Sort,
    SortSource,
    Split,
    TextContains,
)
from errorscope.errors import InvalidQueryError

__all__ = ["filter_to_json", "parse_expression", "parse_filter", "parse_sort"]


# -- JSON ------------------------------------------------------------------------------------
_TYPES: dict[str, type] = {
    "and": And,
    "or": Or,
    "not": Not,
    "split": Split,
    "class": ClassPresent,
    "metric": RowMetric,
    "metadata": Metadata,
    "text": TextContains,
    "ids": Ids,
    "slice": SliceMember,
    "confusion": Confusion,
    "similar": Similar,
    "dataset": Dataset,
    "custom_metric": CustomMetric,
    "object": ObjectMatch,
}
_NAMES = {v: k for k, v in _TYPES.items()}
_REQUIRED = {
    And: {"filters"},
    Or: {"filters"},
    Not: {"filter"},
    Split: {"values"},
    ClassPresent: {"side", "class_name"},
    RowMetric: {"name"},
    Metadata: {"name"},
    TextContains: {"text"},
    Ids: {"ids"},
    SliceMember: {"name"},
    Confusion: {"gt_class", "pred_class"},
    Similar: {"space", "anchors"},
    Dataset: {"names"},
    CustomMetric: {"name"},
    ObjectMatch: {"side"},
}


def _fail(where: str, message: str) -> InvalidQueryError:
    return InvalidQueryError(f"filter{where}: {message}")


def _string(value: Any, where: str, *, nullable: bool = False) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise _fail(where, f"expected a string, got {type(value).__name__}")
    return value


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(where, f"expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise _fail(where, "expected a finite number")
    return float(value)


def _bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, f"expected true or false, got {type(value).__name__}")
    return value


def _datetime(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    text = _string(value, where)
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        raise _fail(where, f"expected an ISO 8601 datetime, got {text!r}") from None


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"expected a list, got {type(value).__name__}")
    return value


def _strings(value: Any, where: str) -> tuple[str, ...]:
    return tuple(str(_string(v, f"{where}[{i}]")) for i, v in enumerate(_list(value, where)))


def parse_filter(obj: Any, _where: str = "") -> Filter:
    """A filter from its JSON form ``{"type": ..., <fields>}`` (see :func:`filter_to_json`);
    :class:`InvalidQueryError` names the JSON path of the first problem."""
    if not isinstance(obj, dict):
        raise _fail(_where, f"expected an object, got {type(obj).__name__}")
    kind = obj.get("type")
    if kind not in _TYPES:
        types = ", ".join(_TYPES)
        raise _fail(f"{_where}.type", f"unknown filter type {kind!r}; types are {types}")
    cls = _TYPES[kind]
    allowed = {f.name for f in fields(cls)}
    for key in obj:
        if key != "type" and key not in allowed:
            raise _fail(
                f"{_where}.{key}",
                f"unknown field {key!r} of a {kind!r} filter; "
                f"fields are {', '.join(sorted(allowed))}",
            )
    for key in _REQUIRED[cls]:
        if key not in obj:
            raise _fail(f"{_where}.{key}", f"missing field {key!r} of a {kind!r} filter")

    def at(key: str) -> str:
        return f"{_where}.{key}"

    if cls in (And, Or):
        items = _list(obj["filters"], at("filters"))
        return cls(tuple(parse_filter(x, f"{_where}.filters[{i}]") for i, x in enumerate(items)))
    if cls is Not:
        return Not(parse_filter(obj["filter"], at("filter")))
    if cls is Split:
        items = _list(obj["values"], at("values"))
        return Split(tuple(str(_string(v, f"{at('values')}[{i}]")) for i, v in enumerate(items)))
    if cls is ClassPresent:
        text = _string(obj["side"], at("side"))
        if text not in ("label", "prediction"):
            raise _fail(at("side"), f"must be 'label' or 'prediction', not {text!r}")
        side: Side = "label" if text == "label" else "prediction"
        return ClassPresent(
            side,
            _string(obj["class_name"], at("class_name"), nullable=True),
            _bool(obj.get("present", True), at("present")),
        )
    if cls is RowMetric:
        name = str(_string(obj["name"], at("name")))
        if name not in ROW_METRICS:
            known = ", ".join(ROW_METRICS)
            raise _fail(at("name"), f"unknown metric {name!r}; metrics are {known}")
        return RowMetric(
            name,
            _number(obj.get("lo"), at("lo")),
            _number(obj.get("hi"), at("hi")),
            _string(obj.get("class_name"), at("class_name"), nullable=True),
            _bool(obj.get("lo_inclusive", True), at("lo_inclusive")),
            _bool(obj.get("hi_inclusive", True), at("hi_inclusive")),
        )
    if cls is Metadata:
        try:
            return Metadata(
                str(_string(obj["name"], at("name"))),
                _string(obj.get("equals"), at("equals"), nullable=True),
                _string(obj.get("prefix"), at("prefix"), nullable=True),
                _number(obj.get("lo"), at("lo")),
                _number(obj.get("hi"), at("hi")),
                _datetime(obj.get("since"), at("since")),
                _datetime(obj.get("until"), at("until")),
                _strings(obj["any_of"], at("any_of")) if obj.get("any_of") is not None else None,
            )
        except InvalidQueryError as exc:
            if str(exc).startswith("filter"):
                raise
            raise _fail(_where, str(exc)) from None
    if cls is TextContains:
        return TextContains(str(_string(obj["text"], at("text"))))
    if cls is Dataset:
        return Dataset(_strings(obj["names"], at("names")))
    if cls is CustomMetric:
        return CustomMetric(
            str(_string(obj["name"], at("name"))),
            _number(obj.get("lo"), at("lo")),
            _number(obj.get("hi"), at("hi")),
        )
    if cls is ObjectMatch:
        text = _string(obj["side"], at("side"))
        if text not in ("label", "prediction"):
            raise _fail(at("side"), f"must be 'label' or 'prediction', not {text!r}")
        status = _string(obj.get("status"), at("status"), nullable=True)
        if status is not None and status not in OBJECT_STATUSES:
            known = ", ".join(OBJECT_STATUSES)
            raise _fail(at("status"), f"unknown status {status!r}; statuses are {known}")
        return ObjectMatch(
            "label" if text == "label" else "prediction",
            _string(obj.get("class_name"), at("class_name"), nullable=True),
            status,
            _string(obj.get("error_type"), at("error_type"), nullable=True),
            _number(obj.get("min_confidence"), at("min_confidence")),
            _number(obj.get("max_confidence"), at("max_confidence")),
            _number(obj.get("min_iou"), at("min_iou")),
            _number(obj.get("max_iou"), at("max_iou")),
        )
    if cls is SliceMember:
        return SliceMember(str(_string(obj["name"], at("name"))))
    if cls is Confusion:
        return Confusion(
            _string(obj["gt_class"], at("gt_class"), nullable=True),
            _string(obj["pred_class"], at("pred_class"), nullable=True),
        )
    if cls is Similar:
        anchors = _list(obj["anchors"], at("anchors"))
        for i, v in enumerate(anchors):
            if isinstance(v, bool) or not isinstance(v, int):
                raise _fail(f"{at('anchors')}[{i}]", f"expected an integer id, got {v!r}")
        k = obj.get("k", 20)
        if isinstance(k, bool) or not isinstance(k, int):
            raise _fail(at("k"), f"expected an integer, got {k!r}")
        try:
            return Similar(str(_string(obj["space"], at("space"))), tuple(anchors), k)
        except InvalidQueryError as exc:
            raise _fail(_where, str(exc)) from None
    items = _list(obj["ids"], at("ids"))
    for i, v in enumerate(items):
        if isinstance(v, bool) or not isinstance(v, int):
            raise _fail(f"{at('ids')}[{i}]", f"expected an integer id, got {type(v).__name__}")
    return Ids(tuple(items))


def filter_to_json(f: Filter) -> dict[str, Any]:
    """The JSON form of a filter (what :func:`parse_filter` reads)."""
    out: dict[str, Any] = {"type": _NAMES[type(f)]}
    if isinstance(f, And | Or):
        out["filters"] = [filter_to_json(x) for x in f.filters]
        return out
    if isinstance(f, Not):
        out["filter"] = filter_to_json(f.filter)
        return out
    for fld in fields(f):
        value = getattr(f, fld.name)
        if isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, datetime):
            value = value.isoformat()
        out[fld.name] = value
    return out


# -- expressions ("person.iou<0.5") ---------------------------------------------------------
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<op><=|>=|==|!=|<|>|=)
      | (?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
      | (?P<name>[A-Za-z_][A-Za-z0-9_\-]*)
      | (?P<quoted>"[^"]*"|'[^']*')
      | (?P<dot>\.)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise InvalidQueryError(
                f"malformed expression {text!r}: unexpected {text[pos:].strip()[:20]!r} "
                f"at character {pos + 1}"
            )
        kind = match.lastgroup or ""
        value = match.group(kind)
        out.append((kind, value[1:-1] if kind == "quoted" else value))
        pos = match.end()
    return out


def parse_expression(text: str) -> RowMetric:
    """One metric condition: ``[CLASS.]METRIC OP NUMBER`` with OP one of ``< <= > >= =``
    (CLASS quoted if it is not a plain word: ``"traffic light".iou<0.5``)."""
    toks = _tokens(text)
    kinds = [k for k, _ in toks]
    if kinds[:1] in (["name"], ["quoted"]) and kinds[1:2] == ["dot"]:
        class_name: str | None = toks[0][1]
        toks, kinds = toks[2:], kinds[2:]
    else:
        class_name = None
    if kinds != ["name", "op", "num"]:
        raise InvalidQueryError(
            f"malformed expression {text!r}: expected [CLASS.]METRIC OP NUMBER, "
            "e.g. 'iou<0.5' or 'person.fp>=1'"
        )
    metric, op, number = toks[0][1], toks[1][1], float(toks[2][1])
    if metric not in ROW_METRICS:
        raise InvalidQueryError(
            f"malformed expression {text!r}: unknown metric {metric!r}; "
            f"metrics are {', '.join(ROW_METRICS)}"
        )
    if op == "!=":
        raise InvalidQueryError(f"malformed expression {text!r}: '!=' is not supported")
    if op in ("=", "=="):
        return RowMetric(metric, number, number, class_name)
    if op in ("<", "<="):
        return RowMetric(metric, None, number, class_name, hi_inclusive=op == "<=")
    return RowMetric(metric, number, None, class_name, lo_inclusive=op == ">=")


_FIELD_SORT = re.compile(r"\s*(meta|custom)\((.*)\)\s*", re.DOTALL)


def parse_sort(spec: str) -> Sort:
    """``[CLASS.]METRIC[:asc|:desc]`` (default ascending), ``meta(FIELD)[:asc|:desc]``
    (a metadata field), ``custom(NAME)[:asc|:desc]`` (a custom metric), or ``id[:asc]``.
    A class or field name that is not a plain word is written as a JSON string:
    ``"traffic light".iou:asc``, ``meta("taken at"):desc``."""
    head, sep, tail = spec.strip().rpartition(":")
    if not sep or any(ch in tail for ch in '").'):
        target, direction = spec.strip(), "asc"  # no direction (a ':' inside a name)
    else:
        target, direction = head, tail.strip().lower()
    if direction not in ("asc", "desc"):
        raise InvalidQueryError(f"malformed sort {spec!r}: direction must be 'asc' or 'desc'")
    field = _FIELD_SORT.fullmatch(target)
    if field is not None:
        inner = field.group(2).strip()
        if inner.startswith('"'):
            try:
                inner = json.loads(inner)
            except ValueError:
                raise InvalidQueryError(f"malformed sort {spec!r}: bad quoted name") from None
        if not isinstance(inner, str) or not inner:
            raise InvalidQueryError(f"malformed sort {spec!r}: empty field name")
        source: SortSource = "metadata" if field.group(1) == "meta" else "custom"
        return Sort(inner, direction == "desc", None, source)
    if target.strip() == "id":
        if direction == "desc":
            raise InvalidQueryError("sorting by id is ascending only")
        return Sort()
    toks = _tokens(target)
    kinds = [k for k, _ in toks]
    class_name: str | None = None
    if kinds[:2] in (["name", "dot"], ["quoted", "dot"]):
        class_name = toks[0][1]
        toks, kinds = toks[2:], kinds[2:]
    if kinds != ["name"]:
        raise InvalidQueryError(
            f"malformed sort {spec!r}: expected [CLASS.]METRIC[:asc|:desc], e.g. 'iou:asc'"
        )
    return Sort(toks[0][1], direction == "desc", class_name)
