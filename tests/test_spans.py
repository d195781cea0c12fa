"""core/spans.py: chunking of tag sequences as conlleval does it, on hand-written cases."""

from __future__ import annotations

import pytest

from errorscope.core.spans import spans_from_tags, tokens_to_text


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        # plain IOB2
        (["B-PER", "I-PER", "O", "B-LOC"], [(0, 2, "PER"), (3, 4, "LOC")]),
        # IOB1: an I- after O starts a chunk
        (["O", "I-NP", "I-NP", "O"], [(1, 3, "NP")]),
        # IOB1: a sentence may start with I-
        (["I-NP", "O"], [(0, 1, "NP")]),
        # B-X right after I-X of the same type closes the first chunk
        (["B-NP", "I-NP", "B-NP", "I-NP"], [(0, 2, "NP"), (2, 4, "NP")]),
        (["I-NP", "B-NP"], [(0, 1, "NP"), (1, 2, "NP")]),
        # a type change inside I- tags splits the chunk
        (["I-NP", "I-VP", "I-VP"], [(0, 1, "NP"), (1, 3, "VP")]),
        (["B-NP", "I-VP"], [(0, 1, "NP"), (1, 2, "VP")]),
        # IOBES: E closes, S is a one-token chunk
        (["B-PER", "I-PER", "E-PER", "S-LOC", "O"], [(0, 3, "PER"), (3, 4, "LOC")]),
        (["S-LOC", "S-LOC"], [(0, 1, "LOC"), (1, 2, "LOC")]),
        (["B-PER", "E-PER", "E-PER"], [(0, 2, "PER"), (2, 3, "PER")]),
        (["S-PER", "I-PER"], [(0, 1, "PER"), (1, 2, "PER")]),
        (["O", "E-PER"], [(1, 2, "PER")]),
        # a chunk running to the end of the sentence is closed there
        (["O", "B-MISC", "I-MISC"], [(1, 3, "MISC")]),
        (["B-X"], [(0, 1, "X")]),
        # nothing to chunk
        (["O", "O"], []),
        ([], []),
    ],
)
def test_spans_from_tags(tags: list[str], expected: list[tuple[int, int, str]]) -> None:
    assert spans_from_tags(tags) == expected


def test_tokens_to_text_offsets() -> None:
    text, starts, ends = tokens_to_text(["Rockwell", "said", "."])
    assert text == "Rockwell said ."
    assert [text[s:e] for s, e in zip(starts, ends, strict=True)] == ["Rockwell", "said", "."]
    assert (starts, ends) == ([0, 9, 14], [8, 13, 15])
