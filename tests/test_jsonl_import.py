"""JSONL text classification import: labels and predictions round trip, bad input refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import errorscope as es
from errorscope.errors import InvalidInputError
from tests.conftest import snapshot

REVIEWS = [
    ("r1", "A moving, beautifully acted film.", "pos", ["acting"]),
    ("r2", "Two hours I will never get back.", "neg", []),
    ("r3", "The score is wonderful; the plot is not.", "neg", ["music", "plot"]),
    ("r4", "Ünïcödé and emoji 🎬 survive intact.", "pos", ["music"]),
]


def _jsonl(tmp_path: Path, name: str, records: list[Any]) -> Path:
    path = tmp_path / name
    lines = [r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _gold(tmp_path: Path) -> Path:
    records: list[Any] = []
    for key, text, label, topics in REVIEWS:
        records.append({"global_key": key, "text": text, "label": label})
        records.append({"global_key": key, "classification": "topics", "label": topics})
    return _jsonl(tmp_path, "gold.jsonl", records)


def test_ground_truth_round_trip(ws: es.Workspace, tmp_path: Path) -> None:
    report = ws.import_jsonl(_gold(tmp_path))
    assert (report.data_rows_created, report.labels, report.classes_created) == (4, 8, 2)
    rows = ws.data_rows().to_pylist()
    assert [(r["global_key"], r["media_type"], r["text"]) for r in rows] == [
        (key, "text", text) for key, text, _, _ in REVIEWS
    ]
    assert [(c.name, c.kind) for c in ws.classes()] == [("label", "radio"), ("topics", "checklist")]
    got = {
        (a["row_key"], a["class_name"]): (a["kind"], a["answers"]) for a in ws.labels().to_pylist()
    }
    for key, _, label, topics in REVIEWS:
        assert got[key, "label"] == ("radio", [label])
        assert got[key, "topics"] == ("checklist", topics)


def test_predictions_round_trip_with_confidence_and_scores(
    ws: es.Workspace, tmp_path: Path
) -> None:
    ws.import_jsonl(_gold(tmp_path))
    preds = _jsonl(
        tmp_path,
        "preds.jsonl",
        [
            # no text: the row already exists
            {"global_key": "r1", "label": "pos", "confidence": 0.91},
            # confidence taken from the score of the predicted label
            {"global_key": "r2", "label": "pos", "scores": {"pos": 0.55, "neg": 0.45}},
            # explicit confidence wins over scores; the same text is accepted
            {
                "global_key": "r3",
                "text": REVIEWS[2][1],
                "label": "neg",
                "confidence": 1,
                "scores": {"pos": 0.2, "neg": 0.8},
            },
            # neither: the store's default confidence
            {"global_key": "r4", "label": "pos"},
            {"global_key": "r1", "classification": "topics", "label": ["acting", "plot"]},
        ],
    )
    report = ws.import_jsonl(preds, run="bert")
    assert (report.predictions, report.data_rows_created, report.data_rows_reused) == (5, 0, 1)
    got = {(a["row_key"], a["class_name"]): a for a in ws.predictions("bert").to_pylist()}
    assert len(got) == 5
    assert (got["r1", "label"]["answers"], got["r1", "label"]["confidence"]) == (["pos"], 0.91)
    assert got["r1", "label"]["custom_metrics"] is None
    assert got["r2", "label"]["confidence"] == 0.55
    assert dict(got["r2", "label"]["custom_metrics"]) == {"p(pos)": 0.55, "p(neg)": 0.45}
    assert got["r3", "label"]["confidence"] == 1.0
    assert dict(got["r3", "label"]["custom_metrics"]) == {"p(pos)": 0.2, "p(neg)": 0.8}
    assert got["r4", "label"]["confidence"] == 1.0
    assert got["r1", "topics"]["kind"] == "checklist"
    assert got["r1", "topics"]["answers"] == ["acting", "plot"]
    assert ws.info()  # the workspace still reads back after the import
    assert [r.name for r in ws.runs()] == ["bert"]


def test_integer_labels_and_duplicate_answers(ws: es.Workspace, tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path,
        "ints.jsonl",
        [
            {"global_key": "a", "text": "x", "label": 1},
            {"global_key": "b", "text": "y", "classification": "tags", "label": [2, "2", 3]},
        ],
    )
    ws.import_jsonl(path)
    answers = [a["answers"] for a in ws.labels().to_pylist()]
    assert answers == [["1"], ["2", "3"]]


GOOD = {"global_key": "r1", "text": REVIEWS[0][1], "label": "pos"}


@pytest.mark.parametrize(
    ("records", "scored", "line", "field", "words"),
    [
        ([GOOD, '{"global_key": "r2", "label": '], False, 2, None, "malformed JSON"),
        ([GOOD, "", "[1, 2]"], False, 3, None, "JSON object"),
        ([GOOD, {"text": "t", "label": "pos"}], False, 2, "global_key", "missing"),
        ([GOOD, {"global_key": 7, "label": "pos"}], False, 2, "global_key", "string"),
        ([GOOD, {"global_key": "r2", "text": "t"}], False, 2, "label", "missing"),
        ([GOOD, {"global_key": "r2", "text": "t", "label": 0.5}], False, 2, "label", "0.5"),
        ([GOOD, {"global_key": "r2", "text": "t", "label": ["a", None]}], False, 2, "label", ""),
        ([GOOD, {"global_key": "r2", "text": 3, "label": "neg"}], False, 2, "text", "string"),
        (
            [GOOD, {"global_key": "r1", "text": "other", "classification": "c", "label": "x"}],
            False,
            2,
            "text",
            "line 1",
        ),
        ([GOOD, {"global_key": "r1", "label": "neg"}], False, 2, "global_key", "line 1"),
        (
            [GOOD, {"global_key": "r2", "text": "t", "label": ["pos"]}],
            False,
            2,
            "label",
            "single label",
        ),
        (
            [GOOD, {"global_key": "r2", "text": "t", "label": "x", "classification": ""}],
            False,
            2,
            "classification",
            "string",
        ),
        ([{"global_key": "r1", "label": "pos", "confidence": "high"}], True, 1, "confidence", ""),
        ([{"global_key": "r1", "label": "pos", "confidence": True}], True, 1, "confidence", ""),
        ([{"global_key": "r1", "label": "pos", "confidence": 1.5}], True, 1, "confidence", "[0,"),
        ([{"global_key": "r1", "label": "pos", "scores": [0.5]}], True, 1, "scores", "object"),
        ([{"global_key": "r1", "label": "pos", "scores": {"pos": 2}}], True, 1, "scores", "pos"),
        # text differing from the stored row (checked by the store)
        ([{"global_key": "r1", "text": "changed", "label": "pos"}], True, 1, "text", "r1"),
        # a row that is neither in the file nor in the workspace
        ([{"global_key": "nope", "label": "pos"}], True, 1, "dataRow", "nope"),
        # a class that is not in the ontology
        ([{"global_key": "r1", "classification": "mood", "label": "x"}], True, 1, "class", "mood"),
        ([], False, None, None, "no JSON lines"),
    ],
)
def test_bad_jsonl_names_file_line_field_and_changes_nothing(
    ws: es.Workspace,
    tmp_path: Path,
    records: list[Any],
    scored: bool,
    line: int | None,
    field: str | None,
    words: str,
) -> None:
    ws.import_jsonl(_gold(tmp_path))
    path = _jsonl(tmp_path, "bad.jsonl", records)
    before = snapshot(ws)
    with pytest.raises(InvalidInputError) as info:
        ws.import_jsonl(path, run="bert" if scored else None)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert str(path) in str(err)
    assert words in str(err)
    if line is not None:
        assert f"{path}:{line}" in str(err)
    assert snapshot(ws) == before


def test_missing_file(ws: es.Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="file not found"):
        ws.import_jsonl(tmp_path / "absent.jsonl")
