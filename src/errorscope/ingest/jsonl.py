"""JSONL text classification: one JSON object per line, one label per object.

Ground truth::

    {"global_key": "rev-1", "text": "Great film.", "label": "pos"}
    {"global_key": "rev-1", "classification": "topics", "label": ["film", "acting"]}

Predictions (``scored``) are the same, plus an optional ``"confidence"`` and optional
class probabilities ``"scores": {"pos": 0.7, "neg": 0.3}``.

Modelled as Labelbox models classifications: ``"classification"`` (default ``"label"``)
names the classification feature, i.e. the ontology class, and the label is its
answer. A string label makes it a ``radio`` (single-label) class with
``answers=[label]``; a list makes it a ``checklist`` (multi-label) class whose answers
are the list. Integer labels are taken as their decimal string.

``scores`` are kept as the annotation's ``custom_metrics``, one ``"p(<answer>)"`` entry
per answer, so that metrics can use the full probability vector later. A radio
prediction without ``confidence`` takes the score of its own answer as confidence when
``scores`` has it (otherwise the store's default, 1.0, applies).

``"text"`` makes the line's row a text data row (created, or reused when the key
exists, in which case the text must match the stored one). A line may omit ``"text"``
(predictions usually do): its row must already be in the workspace. Each row and
classification pair may appear once per file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from errorscope.core.types import ANNOTATION_SCHEMA, Kind, MediaType
from errorscope.errors import InvalidInputError
from errorscope.ingest.common import Parsed, annotations_table, rows_table, unique

__all__ = ["DEFAULT_CLASSIFICATION", "parse_jsonl"]

DEFAULT_CLASSIFICATION = "label"
METRICS_TYPE = ANNOTATION_SCHEMA.field("custom_metrics").type


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Reader:
    """Turns JSONL records into annotation and data-row columns, checking as it goes."""

    def __init__(self, path: Path, *, scored: bool) -> None:
        self.path = path
        self.scored = scored
        self.anns: dict[str, list[Any]] = {
            k: []
            for k in (
                "line",
                "row_key",
                "class_name",
                "kind",
                "answers",
                "confidence",
                "custom_metrics",
            )
        }
        self.rows: dict[str, list[Any]] = {"line": [], "global_key": [], "text": []}
        self._texts: dict[str, tuple[str, int]] = {}
        self._seen: dict[tuple[str, str], int] = {}
        self._kinds: dict[str, tuple[str, int]] = {}

    def fail(self, message: str, line: int, field: str | None = None) -> InvalidInputError:
        return InvalidInputError(message, path=self.path, line=line, field=field)

    def _string(self, obj: dict[str, Any], key: str, line: int, default: str | None) -> str:
        value = obj.get(key)
        if value is None:
            if default is None:
                raise self.fail("missing", line, key)
            return default
        if not isinstance(value, str) or not value:
            raise self.fail(f"must be a non-empty string, got {value!r}", line, key)
        return value

    def _answers(self, value: Any, line: int) -> tuple[str, list[str]]:
        def name(v: Any) -> str:
            if isinstance(v, str) and v:
                return v
            if isinstance(v, int) and not isinstance(v, bool):
                return str(v)
            raise self.fail(
                f"a label is a non-empty string or an integer, or a list of them; got {v!r}",
                line,
                "label",
            )

        if value is None:
            raise self.fail("missing", line, "label")
        if isinstance(value, list):
            return str(Kind.CHECKLIST), unique(name(v) for v in value)
        return str(Kind.RADIO), [name(value)]

    def _check_kind(self, cls: str, kind: str, line: int) -> None:
        first = self._kinds.setdefault(cls, (kind, line))
        if first[0] != kind:
            shape = {str(Kind.RADIO): "a single label", str(Kind.CHECKLIST): "a list of labels"}
            raise self.fail(
                f"classification {cls!r} has {shape[first[0]]} on line {first[1]} "
                f"but {shape[kind]} here",
                line,
                "label",
            )

    def _scores(self, value: Any, line: int) -> list[tuple[str, float]] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(
                f"must be an object of label: probability, got {value!r}", line, "scores"
            )
        out = []
        for label, p in value.items():
            if not _is_number(p) or not math.isfinite(p) or not 0 <= p <= 1:
                raise self.fail(
                    f"score of {label!r} must be a number in [0, 1], got {p!r}", line, "scores"
                )
            out.append((f"p({label})", float(p)))
        return out

    def _row(self, obj: dict[str, Any], key: str, line: int) -> None:
        text = obj.get("text")
        if text is None:
            return
        if not isinstance(text, str):
            raise self.fail(f"must be a string, got {text!r}", line, "text")
        seen = self._texts.get(key)
        if seen is None:
            self._texts[key] = (text, line)
            self.rows["line"].append(line)
            self.rows["global_key"].append(key)
            self.rows["text"].append(text)
        elif seen[0] != text:
            raise self.fail(f"row {key!r} has a different text on line {seen[1]}", line, "text")

    def classes(self) -> list[tuple[str, str]]:
        """``(classification, kind)`` in first-seen order."""
        return [(cls, kind) for cls, (kind, _) in self._kinds.items()]

    def add(self, obj: Any, line: int) -> None:
        if not isinstance(obj, dict):
            raise self.fail(f"each line must be a JSON object, got {type(obj).__name__}", line)
        key = self._string(obj, "global_key", line, None)
        cls = self._string(obj, "classification", line, DEFAULT_CLASSIFICATION)
        kind, answers = self._answers(obj.get("label"), line)
        self._check_kind(cls, kind, line)
        first = self._seen.setdefault((key, cls), line)
        if first != line:
            raise self.fail(
                f"row {key!r} already has a {cls!r} {'prediction' if self.scored else 'label'} "
                f"on line {first}",
                line,
                "global_key",
            )
        self._row(obj, key, line)
        confidence: float | None = None
        metrics: list[tuple[str, float]] | None = None
        if self.scored:
            raw = obj.get("confidence")
            if raw is not None and not _is_number(raw):
                raise self.fail(f"must be a number, got {raw!r}", line, "confidence")
            metrics = self._scores(obj.get("scores"), line)
            if raw is not None:
                confidence = float(raw)
            elif metrics is not None and kind == Kind.RADIO:
                confidence = dict(metrics).get(f"p({answers[0]})")
        cols = self.anns
        cols["line"].append(line)
        cols["row_key"].append(key)
        cols["class_name"].append(cls)
        cols["kind"].append(kind)
        cols["answers"].append(answers)
        cols["confidence"].append(confidence)
        cols["custom_metrics"].append(metrics)


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError("file not found", path=path) from None
    except OSError as exc:
        raise InvalidInputError(exc.strerror or str(exc), path=path) from None


def parse_jsonl(path: Path, *, scored: bool = False) -> Parsed:
    """Parse a JSONL classification file: labels, or (``scored``) predictions."""
    data = _read_bytes(path).removeprefix(b"\xef\xbb\xbf")
    reader = _Reader(path, scored=scored)
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise InvalidInputError(f"malformed JSON: {exc}", path=path, line=lineno) from None
        reader.add(obj, lineno)
    if not reader.anns["line"]:
        raise InvalidInputError("no JSON lines in this file", path=path)
    n_rows = len(reader.rows["line"])
    rows = rows_table({**reader.rows, "media_type": [str(MediaType.TEXT)] * n_rows})
    annotations = annotations_table(
        {**reader.anns, "custom_metrics": pa.array(reader.anns["custom_metrics"], METRICS_TYPE)}
    )
    classes = [] if scored else reader.classes()
    return Parsed(str(path), annotations, rows=rows if n_rows else None, classes=classes)
