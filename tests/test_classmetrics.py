"""Classification metrics against scikit-learn on a real classifier (digits) and random labels."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    jaccard_score,
    precision_recall_fscore_support,
)
from sklearn.model_selection import train_test_split
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MultiLabelBinarizer, StandardScaler

from errorscope.core.classmetrics import (
    ChecklistScores,
    ClassificationScores,
    checklist_iou,
    checklist_scores,
    classification_scores,
    radio_iou,
)


def _assert_equals_sklearn(
    ours: ClassificationScores, y_true: list[str], y_pred: list[str]
) -> None:
    labels = sorted(set(y_true) | set(y_pred))
    assert ours.labels == labels
    assert ours.accuracy == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)
    p, r, f, s = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=None, zero_division=0
    )
    np.testing.assert_allclose(ours.precision, p, atol=1e-12)
    np.testing.assert_allclose(ours.recall, r, atol=1e-12)
    np.testing.assert_allclose(ours.f1, f, atol=1e-12)
    np.testing.assert_array_equal(ours.support, s)
    for name, avg in (("micro", ours.micro), ("macro", ours.macro), ("weighted", ours.weighted)):
        p, r, f, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=name, zero_division=0
        )
        assert (avg["precision"], avg["recall"], avg["f1"]) == pytest.approx((p, r, f), abs=1e-12)
    with warnings.catch_warnings():
        # sklearn warns when only one label occurs although `labels` is given; not our concern.
        warnings.filterwarnings("ignore", message="A single label was found", category=UserWarning)
        reference = confusion_matrix(y_true, y_pred, labels=labels)
    np.testing.assert_array_equal(ours.confusion_matrix, reference)


def test_digits_logistic_regression_equals_sklearn() -> None:
    digits = load_digits()
    x_train, x_test, t_train, t_test = train_test_split(
        digits.data, digits.target, test_size=0.3, random_state=0, stratify=digits.target
    )
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    model.fit(x_train, t_train)
    names = np.array([f"digit-{d}" for d in range(10)])
    y_true = names[t_test].tolist()
    y_pred = names[model.predict(x_test)].tolist()
    assert y_true != y_pred  # a real classifier makes some mistakes
    scores = classification_scores(y_true, y_pred)
    _assert_equals_sklearn(scores, y_true, y_pred)
    assert 0.9 < scores.accuracy < 1.0
    assert scores.micro["f1"] == pytest.approx(scores.accuracy)
    # Off-diagonal cells are exactly the mistakes; per-class counts are consistent.
    assert int(scores.confusion_matrix.sum() - np.trace(scores.confusion_matrix)) == sum(
        a != b for a, b in zip(y_true, y_pred, strict=True)
    )
    table = scores.per_class()
    for name in scores.labels:
        row = table[name]
        assert row["tp"] + row["fn"] == row["support"] == y_true.count(name)
        assert row["tp"] + row["fp"] == y_pred.count(name)


def test_labels_missing_on_one_side_and_explicit_order() -> None:
    y_true = ["cat", "cat", "dog", "bird", "dog"]
    y_pred = ["cat", "fox", "dog", "dog", "dog"]  # "fox" never true, "bird" never predicted
    scores = classification_scores(y_true, y_pred)
    _assert_equals_sklearn(scores, y_true, y_pred)
    assert scores.labels == ["bird", "cat", "dog", "fox"]
    assert scores.per_class()["fox"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "tp": 0,
        "fp": 1,
        "fn": 0,
        "support": 0,
    }
    order = ["dog", "cat", "bird", "fox", "eel"]
    ordered = classification_scores(y_true, y_pred, labels=order)
    assert ordered.labels == order
    np.testing.assert_array_equal(
        ordered.confusion_matrix, confusion_matrix(y_true, y_pred, labels=order)
    )
    p, _, _, _ = precision_recall_fscore_support(
        y_true, y_pred, labels=order, average="macro", zero_division=0
    )
    assert ordered.macro["precision"] == pytest.approx(p)
    with pytest.raises(ValueError, match="fox"):
        classification_scores(y_true, y_pred, labels=["dog", "cat", "bird"])
    # Non-string labels are compared as their str(); None becomes "None".
    assert classification_scores([1, 2, 10], [2, 2, 10]).labels == ["1", "10", "2"]
    mixed = classification_scores(["a", None, 3], ["a", "None", "3"])
    assert (mixed.labels, mixed.accuracy) == (["3", "None", "a"], 1.0)
    with pytest.raises(ValueError, match="5 labels"):
        classification_scores(y_true, y_pred[:4])


def test_empty_input() -> None:
    scores = classification_scores([], [])
    assert scores.labels == []
    assert scores.accuracy == 0.0
    assert scores.confusion_matrix.shape == (0, 0)
    multi = checklist_scores([], [])
    assert (multi.options, multi.subset_accuracy, multi.jaccard) == ([], 0.0, 0.0)
    with pytest.raises(ValueError, match="y_pred has 1"):
        checklist_scores([["a"], []], [["a"]])


def test_radio_and_checklist_iou_by_hand() -> None:
    assert radio_iou(["a", "b", None, None], ["a", "c", None, "a"]).tolist() == [1, 0, 1, 0]
    got = checklist_iou(
        [["a", "b"], ["a"], [], ["a", "a", "c"], []], [["b"], ["b"], [], ["c"], ["x"]]
    )
    assert got.tolist() == pytest.approx([0.5, 0.0, 1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="equal lengths"):
        checklist_iou([["a"]], [])
    with pytest.raises(ValueError, match="equal lengths"):
        radio_iou(["a"], [])


# -- properties ---------------------------------------------------------------------------

_labels = st.sampled_from(["a", "b", "c", "d", "e"])


@settings(deadline=None, max_examples=150)
@given(st.lists(st.tuples(_labels, _labels), min_size=1, max_size=60), st.randoms())
def test_equals_sklearn_and_order_invariant(
    pairs: list[tuple[str, str]], rnd: random.Random
) -> None:
    y_true, y_pred = [t for t, _ in pairs], [p for _, p in pairs]
    scores = classification_scores(y_true, y_pred)
    _assert_equals_sklearn(scores, y_true, y_pred)
    assert int(scores.tp.sum() + scores.fn.sum()) == len(y_true)
    assert int(scores.tp.sum() + scores.fp.sum()) == len(y_pred)
    shuffled = list(pairs)
    rnd.shuffle(shuffled)
    again = classification_scores([t for t, _ in shuffled], [p for _, p in shuffled])
    np.testing.assert_array_equal(again.confusion_matrix, scores.confusion_matrix)
    assert again.macro == scores.macro
    assert again.accuracy == scores.accuracy


_options = st.lists(st.sampled_from(["x", "y", "z", "w"]), max_size=5)


@settings(deadline=None, max_examples=150)
@given(st.lists(st.tuples(_options, _options), max_size=30))
def test_checklist_iou_is_jaccard(pairs: list[tuple[list[str], list[str]]]) -> None:
    a, b = [x for x, _ in pairs], [y for _, y in pairs]
    ab, ba = checklist_iou(a, b), checklist_iou(b, a)
    np.testing.assert_array_equal(ab, ba)
    assert ((ab >= 0) & (ab <= 1)).all()
    expected = [len(set(x) & set(y)) / len(set(x) | set(y)) if x or y else 1.0 for x, y in pairs]
    assert ab.tolist() == pytest.approx(expected)
    np.testing.assert_array_equal(checklist_iou(a, a), np.ones(len(a)))


def _assert_checklist_equals_sklearn(
    ours: ChecklistScores, y_true: list[list[str]], y_pred: list[list[str]]
) -> None:
    binarizer = MultiLabelBinarizer(classes=ours.options)
    t, p = binarizer.fit_transform(y_true), binarizer.transform(y_pred)
    assert ours.options == sorted({o for x in y_true + y_pred for o in x})
    assert ours.subset_accuracy == pytest.approx(accuracy_score(t, p), abs=1e-12)
    assert ours.jaccard == pytest.approx(
        jaccard_score(t, p, average="samples", zero_division=1.0), abs=1e-12
    )
    pr, rc, f, s = precision_recall_fscore_support(t, p, average=None, zero_division=0)
    np.testing.assert_allclose(ours.precision, pr, atol=1e-12)
    np.testing.assert_allclose(ours.recall, rc, atol=1e-12)
    np.testing.assert_allclose(ours.f1, f, atol=1e-12)
    np.testing.assert_array_equal(ours.support, s)
    for name, avg in (("micro", ours.micro), ("macro", ours.macro), ("weighted", ours.weighted)):
        pr, rc, f, _ = precision_recall_fscore_support(t, p, average=name, zero_division=0)
        assert (avg["precision"], avg["recall"], avg["f1"]) == pytest.approx((pr, rc, f), abs=1e-12)


def test_digits_checklist_equals_sklearn() -> None:
    # A checklist per image: which of "even", "prime", "round" (0, 6, 8, 9) the digit is.
    digits = load_digits()
    attrs = {
        "even": np.isin(digits.target, [0, 2, 4, 6, 8]),
        "prime": np.isin(digits.target, [2, 3, 5, 7]),
        "round": np.isin(digits.target, [0, 6, 8, 9]),
    }
    names = list(attrs)
    y = np.stack([attrs[a] for a in names], axis=1).astype(int)
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, y, test_size=0.3, random_state=0
    )
    model = OneVsRestClassifier(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)))
    model.fit(x_train, y_train)
    predicted = model.predict(x_test)

    def as_lists(m: np.ndarray) -> list[list[str]]:
        return [[names[j] for j in np.flatnonzero(row)] for row in m]

    y_true, y_pred = as_lists(y_test), as_lists(predicted)
    assert [] in y_true  # digits 1 and 4 tick nothing
    scores = checklist_scores(y_true, y_pred)
    _assert_checklist_equals_sklearn(scores, y_true, y_pred)
    assert 0.5 < scores.subset_accuracy < 1.0
    for name, row in scores.per_option().items():
        j = names.index(name)
        assert row["support"] == int(y_test[:, j].sum())
        assert row["tp"] == int((y_test[:, j] & predicted[:, j]).sum())
        assert row["fp"] == int(((1 - y_test[:, j]) & predicted[:, j]).sum())


@settings(deadline=None, max_examples=150)
@given(st.lists(st.tuples(_options, _options), min_size=1, max_size=30))
def test_checklist_scores_equal_sklearn(pairs: list[tuple[list[str], list[str]]]) -> None:
    y_true, y_pred = [x for x, _ in pairs], [y for _, y in pairs]
    # sklearn reads fewer than two indicator columns as binary/empty, not multi-label.
    assume(len({o for x in y_true + y_pred for o in x}) >= 2)
    scores = checklist_scores(y_true, y_pred)
    _assert_checklist_equals_sklearn(scores, y_true, y_pred)
    assert int(scores.tp.sum()) <= min(int(scores.support.sum()), int(scores.n_pred.sum()))
