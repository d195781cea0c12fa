"""Classification metrics (radio / checklist answers): agreement, accuracy, P/R/F1, confusion.

The scores equal scikit-learn's ``accuracy_score``, ``precision_recall_fscore_support``
(``average=None/"micro"/"macro"/"weighted"``, ``zero_division=0``) and ``confusion_matrix``
for single-label multiclass inputs; everything is computed with ``np.unique`` and
``np.bincount`` (no per-sample Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "ClassificationScores",
    "checklist_iou",
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


def _pair_codes(answers: Sequence[Sequence[str]], names: dict[str, int]) -> IntArray:
    """Unique ``pair_index * n_names + option_code`` for every (pair, selected option)."""
    lengths = np.fromiter((len(x) for x in answers), dtype=np.int64, count=len(answers))
    flat = [names[o] for opts in answers for o in opts]
    pair = np.repeat(np.arange(len(answers), dtype=np.int64), lengths)
    return np.unique(pair * max(len(names), 1) + np.asarray(flat, dtype=np.int64))


def checklist_iou(a: Sequence[Sequence[str]], b: Sequence[Sequence[str]]) -> FloatArray:
    """Element-wise Jaccard index of two checklist answers (sets of option names).

    ``a`` and ``b``: ``n`` answer lists each (duplicates inside a list are ignored).
    Result in ``[0, 1]``: ``|a & b| / |a | b|``; 1 = same options, 0 = disjoint (bad); two
    empty answers agree (1.0).
    """
    n = len(a)
    if n != len(b):
        raise ValueError(f"checklist_iou needs equal lengths, got {n} and {len(b)}")
    names = {o: i for i, o in enumerate(sorted({o for x in (*a, *b) for o in x}))}
    ca, cb = _pair_codes(a, names), _pair_codes(b, names)
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
    both = np.asarray([*y_true, *y_pred], dtype=object).astype(str)
    uniq, inverse = np.unique(both, return_inverse=True)
    inverse = inverse.astype(np.int64).reshape(-1)
    if labels is None:
        names = [str(x) for x in uniq]
        code = inverse
    else:
        names = [str(x) for x in labels]
        position = {name: i for i, name in enumerate(names)}
        missing = [str(u) for u in uniq if str(u) not in position]
        if missing:
            raise ValueError(f"labels lacks {missing}")
        code = np.asarray([position[str(u)] for u in uniq], dtype=np.int64)[inverse]
    k = len(names)
    t, p = code[:n], code[n:]
    cm = np.bincount(t * k + p, minlength=k * k).astype(np.int64).reshape(k, k)
    tp = np.diag(cm).astype(np.int64)
    support = cm.sum(axis=1).astype(np.int64)
    n_pred = cm.sum(axis=0).astype(np.int64)
    precision, recall, f1 = _prf(
        tp.astype(np.float64), support.astype(np.float64), n_pred.astype(np.float64)
    )
    accuracy = float(tp.sum() / n) if n else 0.0
    mp, mr, mf = _prf(
        np.asarray([tp.sum()], dtype=np.float64),
        np.asarray([support.sum()], dtype=np.float64),
        np.asarray([n_pred.sum()], dtype=np.float64),
    )
    total = float(support.sum())

    def weighted(v: FloatArray) -> float:
        return float((v * support).sum() / total) if total > 0 else 0.0

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
        micro={"precision": float(mp[0]), "recall": float(mr[0]), "f1": float(mf[0])},
        macro={
            "precision": float(precision.mean()) if k else 0.0,
            "recall": float(recall.mean()) if k else 0.0,
            "f1": float(f1.mean()) if k else 0.0,
        },
        weighted={"precision": weighted(precision), "recall": weighted(recall), "f1": weighted(f1)},
    )
