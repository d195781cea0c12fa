"""Classification metrics (radio / checklist answers): agreement, accuracy, P/R/F1, confusion.

Radio (single-label): :func:`classification_scores` equals scikit-learn's ``accuracy_score``,
``precision_recall_fscore_support`` (``average=None/"micro"/"macro"/"weighted"``,
``zero_division=0``) and ``confusion_matrix``. Checklist (multi-label):
:func:`checklist_scores` equals the same functions on ``MultiLabelBinarizer`` indicator
matrices, with ``jaccard`` = the mean of :func:`checklist_iou`. Labels are dictionary-encoded
with Arrow, then everything is sorts, ``np.intersect1d`` and ``np.bincount`` on
integer codes (no per-sample Python loops).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

__all__ = [
    "ChecklistScores",
    "ClassificationScores",
    "checklist_iou",
    "checklist_scores",
    "classification_scores",
    "radio_iou",
]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]


def radio_iou(a: Sequence[str | None], b: Sequence[str | None]) -> FloatArray:
    """Element-wise agreement of two radio answers: 1.0 if equal, else 0.0 (bad).

    ``a`` and ``b``: ``n`` answers each (``None`` = no answer; two ``None`` agree).
    """
    if len(a) != len(b):
        raise ValueError(f"radio_iou needs equal lengths, got {len(a)} and {len(b)}")
    x = np.asarray(a, dtype=object).reshape(-1)
    y = np.asarray(b, dtype=object).reshape(-1)
    same: npt.NDArray[np.bool_] = np.equal(x, y)
    return same.astype(np.float64)


def _encode(values: Sequence[object] | pa.Array) -> tuple[list[str], IntArray]:
    """Sorted distinct values as ``str`` (``None`` -> ``"None"``) and each value's index."""
    if not isinstance(values, pa.Array):
        try:
            values = pa.array(values)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            values = pa.array([str(v) for v in values], type=pa.string())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())
    encoded = values.fill_null("None").dictionary_encode()
    names: list[str] = encoded.dictionary.to_pylist()
    by_name = sorted(range(len(names)), key=names.__getitem__)
    rank = np.empty(len(names), dtype=np.int64)
    rank[by_name] = np.arange(len(names), dtype=np.int64)
    codes = rank[encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)]
    return [names[i] for i in by_name], codes


def _sorted_unique(x: IntArray) -> IntArray:
    """``np.unique`` for int64 by one sort (numpy's hash-based unique is slower here)."""
    x = np.sort(x)
    return x[np.concatenate([[True], x[1:] != x[:-1]])] if len(x) else x


def _options(
    a: Sequence[Sequence[str]], b: Sequence[Sequence[str]]
) -> tuple[list[str], IntArray, IntArray]:
    """Sorted option names and, per side, unique ``sample * k + option`` codes."""
    la = pa.array(list(a), type=pa.list_(pa.string()))
    lb = pa.array(list(b), type=pa.list_(pa.string()))
    fa, fb = la.flatten(), lb.flatten()
    names, codes = _encode(pa.concat_arrays([fa, fb]))
    split = len(fa)
    k = max(len(names), 1)
    pa_ = la.value_parent_indices().to_numpy().astype(np.int64)
    pb = lb.value_parent_indices().to_numpy().astype(np.int64)
    return names, _sorted_unique(pa_ * k + codes[:split]), _sorted_unique(pb * k + codes[split:])


def checklist_iou(a: Sequence[Sequence[str]], b: Sequence[Sequence[str]]) -> FloatArray:
    """Element-wise Jaccard index of two checklist answers (sets of option names).

    ``a`` and ``b``: ``n`` answer lists each (duplicates inside a list are ignored; ``None``
    = empty). Result in ``[0, 1]``: ``|a & b| / |a | b|``; 1 = same options, 0 = disjoint
    (bad); two empty answers agree (1.0).
    """
    n = len(a)
    if n != len(b):
        raise ValueError(f"checklist_iou needs equal lengths, got {n} and {len(b)}")
    names, ca, cb = _options(a, b)
    k = max(len(names), 1)
    inter = np.bincount(np.intersect1d(ca, cb, assume_unique=True) // k, minlength=n)
    union = np.bincount(ca // k, minlength=n) + np.bincount(cb // k, minlength=n) - inter
    out = np.ones(n, dtype=np.float64)
    np.divide(inter, union, out=out, where=union > 0)
    return out


@dataclass(frozen=True)
class ClassificationScores:
    """Scores of ``n`` predicted labels against ``n`` true labels.

    Per-class arrays are aligned with ``labels`` (sorted union of true and predicted labels,
    as scikit-learn orders them). Precision/recall/F1/accuracy lie in ``[0, 1]``, higher is
    better; a zero denominator gives 0 (``zero_division=0``).
    ``confusion_matrix[i, j]``: samples of true label ``labels[i]`` predicted as
    ``labels[j]`` (off-diagonal = errors).
    """

    labels: list[str]
    accuracy: float
    precision: FloatArray
    recall: FloatArray
    f1: FloatArray
    support: IntArray  # true samples per label
    n_pred: IntArray  # predicted samples per label
    tp: IntArray
    confusion_matrix: IntArray  # (K, K), rows = true, columns = predicted
    micro: dict[str, float]
    macro: dict[str, float]
    weighted: dict[str, float]

    @property
    def fp(self) -> IntArray:
        return self.n_pred - self.tp

    @property
    def fn(self) -> IntArray:
        return self.support - self.tp

    def per_class(self) -> dict[str, dict[str, float]]:
        """``label -> {precision, recall, f1, tp, fp, fn, support}`` (JSON-ready)."""
        fp, fn = self.fp, self.fn
        return {
            name: {
                "precision": float(self.precision[i]),
                "recall": float(self.recall[i]),
                "f1": float(self.f1[i]),
                "tp": int(self.tp[i]),
                "fp": int(fp[i]),
                "fn": int(fn[i]),
                "support": int(self.support[i]),
            }
            for i, name in enumerate(self.labels)
        }


def _prf(
    tp: FloatArray, n_true: FloatArray, n_pred: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    precision = np.divide(tp, n_pred, out=np.zeros_like(tp), where=n_pred > 0)
    recall = np.divide(tp, n_true, out=np.zeros_like(tp), where=n_true > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def _scores(
    tp: IntArray, support: IntArray, n_pred: IntArray
) -> tuple[FloatArray, FloatArray, FloatArray, dict[str, dict[str, float]]]:
    """Per-label precision, recall and F1, and their ``micro``, ``macro`` and
    support-``weighted`` averages (scikit-learn's definitions, 0 where undefined)."""
    precision, recall, f1 = _prf(
        tp.astype(np.float64), support.astype(np.float64), n_pred.astype(np.float64)
    )
    mp, mr, mf = _prf(
        np.asarray([tp.sum()], dtype=np.float64),
        np.asarray([support.sum()], dtype=np.float64),
        np.asarray([n_pred.sum()], dtype=np.float64),
    )
    total = float(support.sum())
    k = len(tp)

    def weighted(v: FloatArray) -> float:
        return float((v * support).sum() / total) if total > 0 else 0.0

    averages = {
        "micro": {"precision": float(mp[0]), "recall": float(mr[0]), "f1": float(mf[0])},
        "macro": {
            "precision": float(precision.mean()) if k else 0.0,
            "recall": float(recall.mean()) if k else 0.0,
            "f1": float(f1.mean()) if k else 0.0,
        },
        "weighted": {
            "precision": weighted(precision),
            "recall": weighted(recall),
            "f1": weighted(f1),
        },
    }
    return precision, recall, f1, averages


def classification_scores(
    y_true: Sequence[str], y_pred: Sequence[str], *, labels: Sequence[str] | None = None
) -> ClassificationScores:
    """Accuracy, micro/macro/weighted and per-class P/R/F1, support and confusion matrix.

    ``y_true``, ``y_pred``: ``n`` labels each (any values comparable as ``str``).
    ``labels``: optional label order (must contain every label present); default = the
    sorted union of ``y_true`` and ``y_pred``. ``micro`` precision = recall = F1 =
    accuracy for single-label data; ``macro`` averages over ``labels``; ``weighted`` weights
    by support. Low recall of a class = its samples are missed; low precision = other
    classes are predicted as it.
    """
    n = len(y_true)
    if n != len(y_pred):
        raise ValueError(f"y_true has {n} labels but y_pred has {len(y_pred)}")
    uniq, inverse = _encode([*y_true, *y_pred])
    if labels is None:
        names = uniq
        code = inverse
    else:
        names = [str(x) for x in labels]
        position = {name: i for i, name in enumerate(names)}
        missing = [u for u in uniq if u not in position]
        if missing:
            raise ValueError(f"labels lacks {missing}")
        code = np.asarray([position[u] for u in uniq], dtype=np.int64)[inverse]
    k = len(names)
    t, p = code[:n], code[n:]
    cm = np.bincount(t * k + p, minlength=k * k).astype(np.int64).reshape(k, k)
    tp = np.diag(cm).astype(np.int64)
    support = cm.sum(axis=1).astype(np.int64)
    n_pred = cm.sum(axis=0).astype(np.int64)
    precision, recall, f1, averages = _scores(tp, support, n_pred)
    accuracy = float(tp.sum() / n) if n else 0.0
    return ClassificationScores(
        labels=names,
        accuracy=accuracy,
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        n_pred=n_pred,
        tp=tp,
        confusion_matrix=cm,
        micro=averages["micro"],
        macro=averages["macro"],
        weighted=averages["weighted"],
    )


@dataclass(frozen=True)
class ChecklistScores:
    """Multi-label scores of ``n`` predicted option sets against ``n`` true option sets.

    Per-option arrays are aligned with ``options`` (sorted union of all selected options).
    ``subset_accuracy``: share of samples whose option set is exactly right; ``jaccard``: mean
    per-sample Jaccard index (two empty sets count 1). All values lie in ``[0, 1]``, higher
    is better; a zero denominator gives 0.
    """

    options: list[str]
    subset_accuracy: float
    jaccard: float
    precision: FloatArray
    recall: FloatArray
    f1: FloatArray
    support: IntArray  # samples where the option is truly selected
    n_pred: IntArray  # samples where the option is predicted
    tp: IntArray
    micro: dict[str, float]
    macro: dict[str, float]
    weighted: dict[str, float]

    def per_option(self) -> dict[str, dict[str, float]]:
        """``option -> {precision, recall, f1, tp, fp, fn, support}`` (JSON-ready)."""
        return {
            name: {
                "precision": float(self.precision[i]),
                "recall": float(self.recall[i]),
                "f1": float(self.f1[i]),
                "tp": int(self.tp[i]),
                "fp": int(self.n_pred[i] - self.tp[i]),
                "fn": int(self.support[i] - self.tp[i]),
                "support": int(self.support[i]),
            }
            for i, name in enumerate(self.options)
        }


def checklist_scores(
    y_true: Sequence[Sequence[str]], y_pred: Sequence[Sequence[str]]
) -> ChecklistScores:
    """Per-option and averaged P/R/F1, subset accuracy and mean Jaccard of checklist answers.

    ``y_true``, ``y_pred``: ``n`` option lists each (duplicates inside a list are ignored).
    Equal to scikit-learn on ``MultiLabelBinarizer`` indicator matrices: ``micro`` pools all
    (sample, option) decisions, ``macro`` averages over ``options``, ``weighted`` weights by
    support. Low recall of an option = it is missed; low precision = it is ticked wrongly.
    """
    n = len(y_true)
    if n != len(y_pred):
        raise ValueError(f"y_true has {n} answers but y_pred has {len(y_pred)}")
    options, ct, cp = _options(y_true, y_pred)
    k = len(options)
    kk = max(k, 1)
    both = np.intersect1d(ct, cp, assume_unique=True)
    tp = np.bincount(both % kk, minlength=k).astype(np.int64)
    support = np.bincount(ct % kk, minlength=k).astype(np.int64)
    n_pred = np.bincount(cp % kk, minlength=k).astype(np.int64)
    inter = np.bincount(both // kk, minlength=n)
    n_t, n_p = np.bincount(ct // kk, minlength=n), np.bincount(cp // kk, minlength=n)
    exact = (inter == n_t) & (inter == n_p)
    union = n_t + n_p - inter
    jaccard = np.ones(n, dtype=np.float64)
    np.divide(inter, union, out=jaccard, where=union > 0)
    precision, recall, f1, averages = _scores(tp, support, n_pred)

    return ChecklistScores(
        options=options,
        subset_accuracy=float(exact.mean()) if n else 0.0,
        jaccard=float(jaccard.mean()) if n else 0.0,
        precision=precision,
        recall=recall,
        f1=f1,
        support=support,
        n_pred=n_pred,
        tp=tp,
        micro=averages["micro"],
        macro=averages["macro"],
        weighted=averages["weighted"],
    )
