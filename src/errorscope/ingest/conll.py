"""CoNLL / BIO token files: one text data row per sentence, chunks as text spans.

The format: one token per line, whitespace-separated columns (the token first, then
e.g. part of speech, gold tag, predicted tag), a blank line between sentences,
``-DOCSTART-`` lines ignored. One column holds the tags (``O``, ``B-X``, ``I-X``,
``E-X``, ``S-X``); it is chosen 1-based, or counted from the end when negative, so
the CoNLL-2000 layout ``word POS gold pred`` has gold in column 3 and predictions in
column 4 (or -1).

Each sentence becomes a text data row whose text is its tokens joined by single
spaces and whose global key is ``<prefix>-<n:06d>`` (``n`` = 1-based sentence number,
``prefix`` = the file's stem unless given), so the gold file and a prediction file of
the same sentences name the same rows. Tags become chunks exactly as conlleval chunks
them (:func:`errorscope.core.spans.spans_from_tags`) and each chunk a ``text_span``
over ``[start of its first token, end of its last token)``.
"""

from __future__ import annotations

import re
from pathlib import Path

from errorscope.core.spans import spans_from_tags, tokens_to_text
from errorscope.core.types import Kind, MediaType
from errorscope.errors import InvalidInputError
from errorscope.ingest.common import Parsed, annotations_table, read_text, rows_table, unique

__all__ = ["parse_conll"]

_TAG = re.compile(r"O|[BIES]-\S+")
_SEP = re.compile(r"[ \t]+")
_DOCSTART = "-DOCSTART-"


class _Sentences:
    """Accumulates sentences and turns each into a data row and its chunk spans."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.tokens: list[str] = []
        self.tags: list[str] = []
        self.lines: list[int] = []
        self.n = 0
        self.rows: dict[str, list[object]] = {"line": [], "global_key": [], "text": []}
        self.anns: dict[str, list[object]] = {
            "line": [],
            "row_key": [],
            "class_name": [],
            "span_start": [],
            "span_end": [],
        }

    def flush(self) -> None:
        if not self.tokens:
            return
        self.n += 1
        key = f"{self.prefix}-{self.n:06d}"
        text, starts, ends = tokens_to_text(self.tokens)
        self.rows["line"].append(self.lines[0])
        self.rows["global_key"].append(key)
        self.rows["text"].append(text)
        anns = self.anns
        for first, stop, type_ in spans_from_tags(self.tags):
            anns["line"].append(self.lines[first])
            anns["row_key"].append(key)
            anns["class_name"].append(type_)
            anns["span_start"].append(starts[first])
            anns["span_end"].append(ends[stop - 1])
        self.tokens, self.tags, self.lines = [], [], []


def _needed_columns(column: int, path: Path) -> int:
    if column == 0:
        raise InvalidInputError(
            "the tag column is 1-based (or negative to count from the end); 0 is not a column",
            path=path,
            field="column",
        )
    if column == 1:
        raise InvalidInputError(
            "column 1 holds the tokens; the tags must be in another column",
            path=path,
            field="column",
        )
    # The token column plus the tag column: -1 needs two columns, -2 three, 4 four.
    return column if column > 0 else 1 - column


def parse_conll(
    path: Path,
    *,
    column: int = -1,
    key_prefix: str | None = None,
    scored: bool = False,
) -> Parsed:
    """Parse a CoNLL/BIO file; the tags of ``column`` become labels or (``scored``)
    predictions. Data rows are returned either way (the store reuses existing ones and
    refuses a sentence whose text differs from the stored row's)."""
    needed = _needed_columns(column, path)
    index = column - 1 if column > 0 else column
    content = read_text(path)
    sentences = _Sentences(key_prefix if key_prefix is not None else path.stem)
    width: int | None = None
    width_line = 0
    good_tags: set[str] = set()
    for lineno, raw in enumerate(content.split("\n"), start=1):
        stripped = raw.strip(" \t\r")
        if not stripped:
            sentences.flush()
            continue
        parts = _SEP.split(stripped)
        if parts[0] == _DOCSTART:
            sentences.flush()
            continue
        if len(parts) < needed:
            raise InvalidInputError(
                f"token line has {len(parts)} column(s); tag column {column} needs "
                f"at least {needed}",
                path=path,
                line=lineno,
                field="column",
            )
        if width is None:
            width, width_line = len(parts), lineno
        elif len(parts) != width:
            raise InvalidInputError(
                f"token line has {len(parts)} columns but line {width_line} has {width}",
                path=path,
                line=lineno,
                field="column",
            )
        tag = parts[index]
        if tag not in good_tags:
            if _TAG.fullmatch(tag) is None:
                raise InvalidInputError(
                    f"tag {tag!r} is not O, B-X, I-X, E-X or S-X",
                    path=path,
                    line=lineno,
                    field="tag",
                )
            good_tags.add(tag)
        sentences.tokens.append(parts[0])
        sentences.tags.append(tag)
        sentences.lines.append(lineno)
    sentences.flush()
    if sentences.n == 0:
        raise InvalidInputError("no sentences (no token lines) in this file", path=path)

    n_rows = len(sentences.rows["line"])
    rows = rows_table({**sentences.rows, "media_type": [str(MediaType.TEXT)] * n_rows})
    n_anns = len(sentences.anns["line"])
    annotations = annotations_table({**sentences.anns, "kind": [str(Kind.TEXT_SPAN)] * n_anns})
    classes: list[tuple[str, str]] = []
    if not scored:
        names = [str(name) for name in sentences.anns["class_name"]]
        classes = [(name, str(Kind.TEXT_SPAN)) for name in unique(names)]
    return Parsed(str(path), annotations, rows=rows, classes=classes)
