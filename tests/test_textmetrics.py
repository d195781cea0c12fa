"""Text-span metrics: conll2000 through a real workspace against conlleval's table and seqeval."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

import errorscope as es
from errorscope.core.textmetrics import (
    ERROR_TYPES,
    Spans,
    entity_scores,
    span_iou,
    span_results,
)
from tests.conftest import shared_path

# conlleval.pl on conll2000-chunking (data README): precision / recall / F1 in percent.
CONLLEVAL = {
    "ADJP": (0.0, 0.0, 0.0),
    "ADVP": (45.45, 62.50, 52.63),
    "NP": (64.98, 78.63, 71.16),
    "PP": (83.18, 98.89, 90.36),
    "SBAR": (66.67, 33.33, 44.44),
    "VP": (69.00, 79.31, 73.80),
}


def _conll2000() -> Path:
    return shared_path("conll2000-chunking", "ground_truth.txt")


def _tags(path: Path, column: int) -> list[list[str]]:
    blocks = path.read_text(encoding="utf-8").strip().split("\n\n")
    return [[line.split()[column] for line in block.splitlines()] for block in blocks]


def _workspace_spans(ws: es.Workspace) -> tuple[Spans, Spans, pa.Table, pa.Table]:
    path = _conll2000()
    ws.import_conll(path, column=3)
    ws.import_conll(path, column=4, run="chunker")
    labels, preds = ws.labels(), ws.predictions("chunker")
    return Spans.from_table(labels), Spans.from_table(preds), labels, preds


def test_conll2000_entity_scores_equal_conlleval_and_seqeval(ws: es.Workspace) -> None:
    gold, pred, _, _ = _workspace_spans(ws)
    scores = entity_scores(gold, pred)
    assert (scores.total_gold, scores.total_pred, scores.total_tp) == (459, 539, 371)
    assert round(scores.micro["precision"], 4) == 0.6883
    assert round(scores.micro["recall"], 4) == 0.8083
    assert round(scores.micro["f1"], 4) == 0.7435
    assert scores.types == sorted(CONLLEVAL)
    table = scores.per_type()
    for type_, (p, r, f) in CONLLEVAL.items():
        row = table[type_]
        assert (round(100 * row["precision"], 2), round(100 * row["recall"], 2)) == (p, r)
        assert round(100 * row["f1"], 2) == f
        assert row["tp"] + row["fn"] == row["support"]

    # seqeval on the same tags (columns 3 and 4 of the file), in the same test.
    y_true, y_pred = _tags(_conll2000(), 2), _tags(_conll2000(), 3)
    assert scores.micro["precision"] == pytest.approx(precision_score(y_true, y_pred), abs=1e-9)
    assert scores.micro["recall"] == pytest.approx(recall_score(y_true, y_pred), abs=1e-9)
    assert scores.micro["f1"] == pytest.approx(f1_score(y_true, y_pred), abs=1e-9)
    report = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    for type_, row in table.items():
        ref = report[type_]
        assert row["support"] == ref["support"]
        for key in ("precision", "recall", "f1"):
            assert row[key] == pytest.approx(ref[key if key != "f1" else "f1-score"], abs=1e-9)
    for ours, theirs in (
        (scores.micro, "micro avg"),
        (scores.macro, "macro avg"),
        (scores.weighted, "weighted avg"),
    ):
        assert ours["precision"] == pytest.approx(report[theirs]["precision"], abs=1e-9)
        assert ours["recall"] == pytest.approx(report[theirs]["recall"], abs=1e-9)
        assert ours["f1"] == pytest.approx(report[theirs]["f1-score"], abs=1e-9)

    # Partial matching only adds overlapping same-type pairs to the strict ones.
    assert (scores.partial_tp >= scores.tp).all()
    assert scores.partial["recall"] >= scores.micro["recall"]


def test_conll2000_span_results_and_errors(ws: es.Workspace) -> None:
    gold, pred, labels, preds = _workspace_spans(ws)
    res = span_results(gold, pred)
    assert Counter(res.gold_status) == {"TP": 371, "FN": 459 - 371}
    assert Counter(res.pred_status) == {"TP": 371, "FP": 539 - 371}
    assert set(res.gold_error) | set(res.pred_error) <= set(ERROR_TYPES)
    assert set(res.gold_error[res.gold_status == "FN"]) <= {
        "wrong_type",
        "boundary",
        "wrong_type_and_boundary",
        "missed",
    }

    # Independent check of every TP: the matched span has identical row, offsets and class.
    key = ("data_row_id", "span_start", "span_end", "class_name")
    g_rows, p_rows = labels.select(key).to_pylist(), preds.select(key).to_pylist()
    for i in np.flatnonzero(res.gold_match >= 0):
        assert g_rows[i] == p_rows[res.gold_match[i]]
        assert res.pred_match[res.gold_match[i]] == i
        assert res.gold_iou[i] == 1.0
    # Error pairs: same row, overlapping, and the error name follows from type and bounds.
    for i in np.flatnonzero((res.pred_status == "FP") & (res.pred_pair >= 0)):
        g, p = g_rows[res.pred_pair[i]], p_rows[i]
        assert g["data_row_id"] == p["data_row_id"]
        inter = min(g["span_end"], p["span_end"]) - max(g["span_start"], p["span_start"])
        union = (g["span_end"] - g["span_start"]) + (p["span_end"] - p["span_start"]) - inter
        assert inter > 0
        assert res.pred_iou[i] == pytest.approx(inter / union)
        same_type = g["class_name"] == p["class_name"]
        same_bounds = (g["span_start"], g["span_end"]) == (p["span_start"], p["span_end"])
        expected = {
            (False, True): "wrong_type",
            (True, False): "boundary",
            (False, False): "wrong_type_and_boundary",
        }[(same_type, same_bounds)]
        assert res.pred_error[i] == expected
        assert res.gold_error[res.pred_pair[i]] == expected
    # Spurious predictions overlap no unpaired gold span of their row.
    free_gold = [g for j, g in enumerate(g_rows) if res.gold_pair[j] < 0]
    for i in np.flatnonzero(res.pred_error == "spurious"):
        p = p_rows[i]
        assert not any(
            g["data_row_id"] == p["data_row_id"]
            and min(g["span_end"], p["span_end"]) > max(g["span_start"], p["span_start"])
            for g in free_gold
        )

    # Sentence 1 by hand: gold VP "to provide" vs predicted PP "to" + VP "provide".
    text = ws.data_rows().to_pylist()[0]["text"]
    row1 = int(labels.column("data_row_id")[0].as_py())
    (g_vp,) = [
        j
        for j, g in enumerate(g_rows)
        if g["data_row_id"] == row1 and text[g["span_start"] : g["span_end"]] == "to provide"
    ]
    picked = {
        text[p["span_start"] : p["span_end"]]: i
        for i, p in enumerate(p_rows)
        if p["data_row_id"] == row1
    }
    assert res.gold_error[g_vp] == "boundary"
    assert res.gold_pair[g_vp] == picked["provide"]
    assert res.gold_iou[g_vp] == pytest.approx(7 / 10)
    assert res.pred_error[picked["to"]] == "spurious"
    assert res.pred_status[picked["with"]] == "TP"


def test_error_types_by_hand() -> None:
    gold = Spans.of([1, 1, 1, 1, 2], [0, 10, 20, 30, 0], [5, 15, 25, 35, 4], list("AAAAB"))
    pred = Spans.of(
        [1, 1, 1, 1, 3, 1], [0, 10, 21, 31, 0, 0], [5, 15, 25, 34, 4, 5], list("ABABBA")
    )
    res = span_results(gold, pred)
    assert list(res.gold_error) == [
        "",
        "wrong_type",
        "boundary",
        "wrong_type_and_boundary",
        "missed",
    ]
    assert list(res.pred_error) == [
        "",
        "wrong_type",
        "boundary",
        "wrong_type_and_boundary",
        "spurious",  # row 3 has no gold
        "spurious",  # duplicate of an exact match
    ]
    assert list(res.gold_pair) == [0, 1, 2, 3, -1]
    assert list(res.gold_match) == [0, -1, -1, -1, -1]
    assert res.gold_iou.tolist() == pytest.approx([1.0, 1.0, 0.8, 0.6, 0.0])
    scores = entity_scores(gold, pred)
    assert scores.types == ["A", "B"]
    assert scores.tp.tolist() == [1, 0]
    assert scores.partial_tp.tolist() == [2, 0]  # exact + the same-type boundary error
    assert scores.n_gold.tolist() == [4, 1]
    assert scores.n_pred.tolist() == [3, 3]
    assert scores.micro["precision"] == pytest.approx(1 / 6)
    assert scores.partial["recall"] == pytest.approx(2 / 5)


def test_duplicates_match_once_per_copy() -> None:
    gold = Spans.of([0, 0], [0, 0], [3, 3], ["X", "X"])
    pred = Spans.of([0, 0, 0], [0, 0, 0], [3, 3, 3], ["X", "X", "X"])
    scores = entity_scores(gold, pred)
    assert (scores.total_tp, scores.total_gold, scores.total_pred) == (2, 2, 3)
    res = span_results(gold, pred)
    assert sorted(res.gold_match.tolist()) == [0, 1]
    assert list(res.pred_status).count("TP") == 2


def test_span_iou() -> None:
    assert span_iou(
        [0, 0, 0, 5, 3], [10, 5, 4, 5, 3], [5, 0, 4, 5, 4], [15, 5, 8, 5, 4]
    ).tolist() == [
        pytest.approx(5 / 15),
        1.0,
        0.0,
        1.0,  # same empty interval
        0.0,  # different empty intervals
    ]
    a = np.array([0, 2, 7])
    mat = span_iou(a[:, None], a[:, None] + 3, a[None, :], a[None, :] + 3)
    assert mat.shape == (3, 3)
    assert np.allclose(mat, mat.T)
    assert np.allclose(np.diag(mat), 1.0)


# -- properties ---------------------------------------------------------------------------

_span = st.tuples(
    st.integers(0, 3),  # row
    st.integers(0, 30),  # start
    st.integers(0, 8),  # length
    st.sampled_from(["A", "B", "C"]),
)
_spans = st.lists(_span, max_size=25)


def _to_spans(items: list[tuple[int, int, int, str]]) -> Spans:
    return Spans.of(
        [r for r, _, _, _ in items],
        [s for _, s, _, _ in items],
        [s + n for _, s, n, _ in items],
        [t for _, _, _, t in items],
    )


@settings(deadline=None, max_examples=150)
@given(st.integers(0, 50), st.integers(0, 50), st.integers(0, 50), st.integers(0, 50))
def test_span_iou_symmetric_and_bounded(s1: int, n1: int, s2: int, n2: int) -> None:
    ab = span_iou(s1, s1 + n1, s2, s2 + n2)
    ba = span_iou(s2, s2 + n2, s1, s1 + n1)
    assert ab == ba
    assert 0.0 <= float(ab) <= 1.0
    assert float(span_iou(s1, s1 + n1, s1, s1 + n1)) == 1.0


@settings(deadline=None, max_examples=150)
@given(_spans, _spans, st.randoms(use_true_random=False))
def test_counts_identities_and_order_invariance(
    g_items: list[tuple[int, int, int, str]],
    p_items: list[tuple[int, int, int, str]],
    rnd: random.Random,
) -> None:
    gold, pred = _to_spans(g_items), _to_spans(p_items)
    scores = entity_scores(gold, pred)
    res = span_results(gold, pred)
    n_tp = int((res.gold_status == "TP").sum())
    assert n_tp == scores.total_tp == int((res.pred_status == "TP").sum())
    assert n_tp + int((res.gold_status == "FN").sum()) == len(gold) == scores.total_gold
    assert n_tp + int((res.pred_status == "FP").sum()) == len(pred) == scores.total_pred
    # Strict matches are exact multiset intersections.
    assert n_tp == (Counter(g_items) & Counter(p_items)).total()
    assert (scores.partial_tp >= scores.tp).all()
    assert ((res.gold_iou >= 0) & (res.gold_iou <= 1)).all()
    assert ((res.pred_error == "") == (res.pred_status == "TP")).all()
    # Pairs are mutual.
    for i, j in enumerate(res.gold_pair):
        if j >= 0:
            assert res.pred_pair[j] == i

    # Shuffling either side changes no score.
    g2, p2 = list(g_items), list(p_items)
    rnd.shuffle(g2)
    rnd.shuffle(p2)
    again = entity_scores(_to_spans(g2), _to_spans(p2))
    assert again.types == scores.types
    for field in ("tp", "n_gold", "n_pred", "partial_tp"):
        assert np.array_equal(getattr(again, field), getattr(scores, field)), field
    assert again.micro == scores.micro
    res2 = span_results(_to_spans(g2), _to_spans(p2))
    assert Counter(res2.gold_status) == Counter(res.gold_status)
    assert Counter(res2.pred_status) == Counter(res.pred_status)


@settings(deadline=None, max_examples=50)
@given(_spans)
def test_perfect_predictions(items: list[tuple[int, int, int, str]]) -> None:
    spans = _to_spans(items)
    scores = entity_scores(spans, spans)
    assert scores.total_tp == len(items)
    if items:
        assert scores.micro == {"precision": 1.0, "recall": 1.0, "f1": 1.0}
    assert set(span_results(spans, spans).pred_status) <= {"TP"}


@settings(deadline=None, max_examples=50)
@given(_spans, _spans)
def test_huge_row_ids_give_the_same_matches(
    g_items: list[tuple[int, int, int, str]], p_items: list[tuple[int, int, int, str]]
) -> None:
    # Row ids near 2**62 cannot be packed into one int64 key: the lexsort path must agree.
    gold, pred = _to_spans(g_items), _to_spans(p_items)
    big = 2**61

    def spread(s: Spans) -> Spans:
        return Spans.of(s.row * big - big, s.start, s.end, s.type)

    small, large = span_results(gold, pred), span_results(spread(gold), spread(pred))
    np.testing.assert_array_equal(small.gold_match, large.gold_match)
    np.testing.assert_array_equal(small.pred_pair, large.pred_pair)
    assert entity_scores(spread(gold), spread(pred)).micro == entity_scores(gold, pred).micro


def _reference(
    g: list[tuple[int, int, int, str]], p: list[tuple[int, int, int, str]], *, partial: bool
) -> tuple[list[int], list[int]]:
    """The documented matching, written plainly: exact copies first, then greedy by IoU."""
    gm, pm = [-1] * len(g), [-1] * len(p)
    for i, a in enumerate(g):
        for j, b in enumerate(p):
            if pm[j] < 0 and a == b:
                gm[i], pm[j] = j, i
                break
    pairs = []
    for i, (gr, gs, gn, gt) in enumerate(g):
        for j, (pr, ps, pn, pt) in enumerate(p):
            inter = min(gs + gn, ps + pn) - max(gs, ps)
            if gm[i] >= 0 or pm[j] >= 0 or gr != pr or inter <= 0 or (partial and gt != pt):
                continue
            iou = -inter / (gn + pn - inter)
            # ties by content, never by position: partial pairs share one type; error
            # pairs prefer the same type, then order types by name
            types = () if partial else (gt != pt, gt, pt)
            pairs.append((iou, *types, gr, gs, gs + gn, ps, ps + pn, i, j))
    for *_, i, j in sorted(pairs):
        if gm[i] < 0 and pm[j] < 0:
            gm[i], pm[j] = j, i
    return gm, pm


@settings(deadline=None, max_examples=200)
@given(_spans, _spans)
def test_pairs_equal_a_plain_reference(
    g_items: list[tuple[int, int, int, str]], p_items: list[tuple[int, int, int, str]]
) -> None:
    gold, pred = _to_spans(g_items), _to_spans(p_items)
    res = span_results(gold, pred)
    gm, pm = _reference(g_items, p_items, partial=False)
    assert res.gold_pair.tolist() == gm
    assert res.pred_pair.tolist() == pm
    gm, _ = _reference(g_items, p_items, partial=True)
    scores = entity_scores(gold, pred)
    by_type = Counter(g_items[i][3] for i, j in enumerate(gm) if j >= 0)
    assert scores.partial_tp.tolist() == [by_type[t] for t in scores.types]
