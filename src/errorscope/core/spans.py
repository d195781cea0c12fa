"""Token tags (BIO / IOB1 / IOB2 / IOBES) to character spans, exactly as conlleval chunks them.

conlleval (and seqeval's default mode) decides where a chunk starts and ends from the
previous and the current tag alone; the rules below are the same, so chunk counts equal
theirs: an ``I-X`` after ``O`` or after a chunk of another type starts a new chunk.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Span", "spans_from_tags", "tokens_to_text"]

Span = tuple[int, int, str]
"""``(start, end, type)`` over token indices, ``end`` exclusive."""


def _split(tag: str) -> tuple[str, str]:
    if tag in ("O", "", "-X-"):
        return "O", ""
    if len(tag) > 1 and tag[1] in "-_":
        return tag[0].upper(), tag[2:]
    return tag[0].upper(), ""


def _end_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    return (
        prev_tag in ("E", "S")
        or (prev_tag == "B" and tag in ("B", "S", "O"))
        or (prev_tag == "I" and tag in ("B", "S", "O"))
        or (prev_tag != "O" and prev_tag != "." and prev_type != type_)
    )


def _start_of_chunk(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    return (
        tag in ("B", "S")
        or (prev_tag in ("E", "S") and tag in ("E", "I"))
        or (prev_tag == "O" and tag in ("E", "I"))
        or (tag != "O" and tag != "." and prev_type != type_)
    )


def spans_from_tags(tags: Sequence[str]) -> list[Span]:
    """Chunks of one sentence's tags as ``(start_token, end_token_exclusive, type)``."""
    spans: list[Span] = []
    prev_tag, prev_type = "O", ""
    begin = 0
    for i, raw in enumerate([*tags, "O"]):
        tag, type_ = _split(raw)
        if _end_of_chunk(prev_tag, tag, prev_type, type_) and prev_tag != "O":
            spans.append((begin, i, prev_type))
        if _start_of_chunk(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return spans


def tokens_to_text(tokens: Sequence[str]) -> tuple[str, list[int], list[int]]:
    """Join tokens with single spaces; return the text and each token's ``[start, end)``."""
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for tok in tokens:
        starts.append(pos)
        pos += len(tok)
        ends.append(pos)
        pos += 1
    return " ".join(tokens), starts, ends
