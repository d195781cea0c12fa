"""CoNLL/BIO import: the CoNLL-2000 chunking sample against conlleval's published figures."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pytest

import errorscope as es
from errorscope.errors import InvalidInputError
from errorscope.ingest.conll import parse_conll
from tests.conftest import shared_path, snapshot

# conlleval.pl on this file (data README): precision / recall per chunk type, in percent.
CONLLEVAL = {
    "ADJP": (0.0, 0.0),
    "ADVP": (45.45, 62.50),
    "NP": (64.98, 78.63),
    "PP": (83.18, 98.89),
    "SBAR": (66.67, 33.33),
    "VP": (69.00, 79.31),
}


def _conll2000() -> Path:
    return shared_path("conll2000-chunking", "ground_truth.txt")


def _sentences(path: Path) -> list[list[list[str]]]:
    """The file's sentences as lists of token lines split into columns."""
    blocks = path.read_text(encoding="utf-8").strip().split("\n\n")
    return [[line.split() for line in block.splitlines()] for block in blocks]


def _chunks(table: pa.Table, key: str, texts: dict[str, str]) -> list[tuple[str, str]]:
    return [
        (a["class_name"], texts[key][a["span_start"] : a["span_end"]])
        for a in table.to_pylist()
        if a["row_key"] == key
    ]


def test_conll2000_gold_and_predictions_match_conlleval(ws: es.Workspace) -> None:
    path = _conll2000()
    gold = ws.import_conll(path, column=3)
    assert (gold.data_rows_created, gold.labels, gold.classes_created) == (40, 459, 6)
    pred = ws.import_conll(path, column=4, run="chunker")
    assert (pred.data_rows_created, pred.data_rows_reused, pred.predictions) == (0, 40, 539)
    assert {(c.name, c.kind) for c in ws.classes()} == {(t, "text_span") for t in CONLLEVAL}

    labels, preds = ws.labels(), ws.predictions("chunker")
    assert set(labels.column("kind").to_pylist()) == {"text_span"}
    assert set(preds.column("confidence").to_pylist()) == {1.0}

    def keyed(table: pa.Table) -> Counter[tuple[str, str, int, int]]:
        return Counter(
            (a["row_key"], a["class_name"], a["span_start"], a["span_end"])
            for a in table.to_pylist()
        )

    gold_spans, found_spans = keyed(labels), keyed(preds)
    correct = gold_spans & found_spans  # conlleval: a chunk is correct if it matches exactly
    assert (gold_spans.total(), found_spans.total(), correct.total()) == (459, 539, 371)
    for type_, (precision, recall) in CONLLEVAL.items():
        n_gold = sum(n for k, n in gold_spans.items() if k[1] == type_)
        n_found = sum(n for k, n in found_spans.items() if k[1] == type_)
        n_correct = sum(n for k, n in correct.items() if k[1] == type_)
        assert n_gold > 0, type_
        assert n_found > 0, type_
        assert round(100 * n_correct / n_found, 2) == precision, type_
        assert round(100 * n_correct / n_gold, 2) == recall, type_

    # The gold column is strict IOB2, so its chunks per type are its B- tags.
    sentences = _sentences(path)
    b_tags = Counter(cols[2][2:] for s in sentences for cols in s if cols[2].startswith("B-"))
    assert Counter(k[1] for k in gold_spans.elements()) == b_tags


def test_conll2000_rows_and_spans_round_trip(ws: es.Workspace) -> None:
    path = _conll2000()
    ws.import_conll(path, column=3)
    ws.import_conll(path, column=-1, run="chunker")
    sentences = _sentences(path)
    rows = ws.data_rows().to_pylist()
    assert [r["global_key"] for r in rows] == [f"ground_truth-{i:06d}" for i in range(1, 41)]
    assert {r["media_type"] for r in rows} == {"text"}
    texts = {r["global_key"]: r["text"] for r in rows}
    for i, sentence in enumerate(sentences, start=1):
        assert texts[f"ground_truth-{i:06d}"] == " ".join(cols[0] for cols in sentence)

    for table in (ws.labels(), ws.predictions("chunker")):
        for a in table.to_pylist():
            text, start, end = texts[a["row_key"]], a["span_start"], a["span_end"]
            piece = text[start:end]
            # A span covers whole tokens: it starts and ends at token boundaries.
            assert piece
            assert piece == piece.strip(" ")
            assert start == 0 or text[start - 1] == " "
            assert end == len(text) or text[end] == " "

    # Sentence 1 by hand. Gold is IOB2; predictions are IOB1-style, where I- after O or
    # after a chunk of another type ("with/B-PP Boeing/I-NP") starts a chunk.
    first = "ground_truth-000001"
    assert _chunks(ws.labels(), first, texts) == [
        ("NP", "Rockwell International Corp."),
        ("NP", "'s Tulsa unit"),
        ("VP", "said"),
        ("NP", "it"),
        ("VP", "signed"),
        ("NP", "a tentative agreement"),
        ("VP", "extending"),
        ("NP", "its contract"),
        ("PP", "with"),
        ("NP", "Boeing Co."),
        ("VP", "to provide"),
        ("NP", "structural parts"),
        ("PP", "for"),
        ("NP", "Boeing"),
        ("NP", "'s 747 jetliners"),
    ]
    assert _chunks(ws.predictions("chunker"), first, texts) == [
        ("NP", "Rockwell International Corp."),
        ("NP", "'s Tulsa unit"),
        ("VP", "said"),
        ("NP", "it"),
        ("VP", "signed"),
        ("NP", "a tentative agreement"),
        ("VP", "extending"),
        ("NP", "its contract"),
        ("PP", "with"),
        ("NP", "Boeing Co."),
        ("PP", "to"),
        ("VP", "provide"),
        ("NP", "structural parts"),
        ("PP", "for"),
        ("NP", "Boeing"),
        ("NP", "'s 747 jetliners"),
    ]


def test_conll_lines_point_at_each_chunks_first_token() -> None:
    path = _conll2000()
    lines = path.read_text(encoding="utf-8").split("\n")
    parsed = parse_conll(path, column=3)
    rows = {r["global_key"]: r for r in parsed.rows.to_pylist()} if parsed.rows else {}
    assert rows["ground_truth-000002"]["line"] == 30
    for a in parsed.annotations.to_pylist():
        word, _, tag, _ = lines[a["line"] - 1].split()
        text = rows[a["row_key"]]["text"]
        assert text[a["span_start"] :].split(" ")[0] == word
        assert tag == f"B-{a['class_name']}"


def test_prediction_sentences_must_match_the_stored_text(ws: es.Workspace, tmp_path: Path) -> None:
    path = _conll2000()
    ws.import_conll(path, column=3)
    lines = path.read_text(encoding="utf-8").split("\n")
    # Sentence 2 starts on line 30 ("Rockwell NNP B-NP I-NP"); change its 3rd token.
    assert lines[31].startswith("the ")
    lines[31] = "a" + lines[31][3:]
    other = tmp_path / "other.txt"
    other.write_text("\n".join(lines), encoding="utf-8")
    before = snapshot(ws)
    with pytest.raises(InvalidInputError) as info:
        ws.import_conll(other, key_prefix="ground_truth", run="chunker")
    err = info.value
    assert (err.path, err.line, err.field) == (str(other), 30, "text")
    assert "ground_truth-000002" in str(err)
    assert str(other) in str(err)
    assert snapshot(ws) == before
    # The unchanged file under the same keys is accepted.
    assert ws.import_conll(path, run="chunker").predictions == 539


def _write(tmp_path: Path, text: str, name: str = "doc.conll") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_docstart_blank_runs_tabs_crlf_iobes_and_key_prefix(
    ws: es.Workspace, tmp_path: Path
) -> None:
    path = _write(
        tmp_path,
        "-DOCSTART- -X- O\r\n\r\n"
        "EU\tS-ORG\r\nrejects\tO\r\nGerman\tS-MISC\r\ncall\tO\r\n\r\n\r\n\r\n"
        "Peter\tB-PER\r\nBlackburn\tE-PER\r\n"
        "-DOCSTART- -X- O\r\n"
        "BRUSSELS\tS-LOC\r\n",
    )
    report = ws.import_conll(path, key_prefix="news")
    assert (report.data_rows_created, report.labels) == (3, 4)
    rows = {r["global_key"]: r["text"] for r in ws.data_rows().to_pylist()}
    assert rows == {
        "news-000001": "EU rejects German call",
        "news-000002": "Peter Blackburn",
        "news-000003": "BRUSSELS",
    }
    got = [
        (a["row_key"], a["class_name"], rows[a["row_key"]][a["span_start"] : a["span_end"]])
        for a in ws.labels().to_pylist()
    ]
    assert got == [
        ("news-000001", "ORG", "EU"),
        ("news-000001", "MISC", "German"),
        ("news-000002", "PER", "Peter Blackburn"),
        ("news-000003", "LOC", "BRUSSELS"),
    ]
    assert [c.name for c in ws.classes()] == ["ORG", "MISC", "PER", "LOC"]
    # Without key_prefix the keys come from the file's stem.
    parsed = parse_conll(path)
    assert parsed.rows is not None
    assert parsed.rows.column("global_key").to_pylist()[0] == "doc-000001"


@pytest.mark.parametrize(
    ("content", "column", "line", "field", "words"),
    [
        ("A x B-NP\nB x I-NP\n", 4, 1, "column", "needs at least 4"),
        ("A x B-NP\nB I-NP\n", -1, 2, "column", "line 1 has 3"),
        ("A x B-NP\n\nB I-NP\n", 3, 3, "column", "needs at least 3"),
        ("A B-NP\nB I-NP\nC X-NP\n", -1, 3, "tag", "'X-NP'"),
        ("A B-NP\nB B\n", -1, 2, "tag", "'B'"),
        ("A B-NP\nB b-np\n", -1, 2, "tag", "'b-np'"),
        ("A O\nB I-\n", -1, 2, "tag", "'I-'"),
        ("Lonely\n", -1, 1, "column", "needs at least 2"),
        ("A B-NP\n", 0, None, "column", "1-based"),
        ("A B-NP\n", 1, None, "column", "tokens"),
        ("-DOCSTART- O\n\n\n", -1, None, None, "no sentences"),
    ],
)
def test_bad_conll_input_names_file_line_field_and_changes_nothing(
    ws: es.Workspace,
    tmp_path: Path,
    content: str,
    column: int,
    line: int | None,
    field: str | None,
    words: str,
) -> None:
    ws.import_conll(_write(tmp_path, "Good O\nwords B-NP\n", "good.txt"))
    path = _write(tmp_path, content)
    before = snapshot(ws)
    with pytest.raises(InvalidInputError) as info:
        ws.import_conll(path, column=column)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert words in str(err)
    assert str(path) in str(err)
    assert snapshot(ws) == before


def test_prediction_of_an_unknown_chunk_type_is_refused(ws: es.Workspace, tmp_path: Path) -> None:
    ws.import_conll(_write(tmp_path, "Acme B-ORG\nrose O\n", "gold.txt"), key_prefix="s")
    before = snapshot(ws)
    pred = _write(tmp_path, "Acme B-PER\nrose O\n", "pred.txt")
    with pytest.raises(InvalidInputError) as info:
        ws.import_conll(pred, key_prefix="s", run="ner")
    assert (info.value.line, info.value.field) == (1, "class")
    assert snapshot(ws) == before
