"""Label mistake or model error? Scores in [0, 1] that a disagreement is a labeling mistake.

Every score follows one convention: **0 = the label is fine (or the disagreement is the
model's fault), 1 = almost surely a labeling mistake**; rank descending to review.

Classification (one label per row, out-of-sample predicted probabilities)
    Confident learning's label-quality ranking (Northcutt, Jiang & Chuang 2021;
    cleanlab's ``rank.get_label_quality_scores`` default): the score is ``1 - p(given
    label)``, one minus the *self-confidence*. With ``adjust=True`` probabilities are
    first adjusted by the per-class *confident thresholds* ``t_k`` (the mean predicted
    probability of class ``k`` over the rows labelled ``k``: ``p_ik - t_k``, shifted to be
    non-negative and renormalised, cleanlab's ``adjust_pred_probs``), which removes
    per-class over/under-confidence; on digits with 5 % flipped labels the plain
    self-confidence ranks better (benchmarks/label_errors.py), so it is the default. The
    probabilities must be out-of-sample (cross-validated or held-out), else every
    training label looks right.

Neighbour agreement (optional, any task with an embedding of the rows)
    :func:`neighbour_disagreement`: the fraction of a row's ``k`` nearest neighbours
    (cosine) whose given label differs from the row's, weighted by similarity. A label
    that disagrees with its neighbourhood is suspicious whatever the model says.

Detection and spans (cleanlab's object-detection issue types)
    From the evaluation's per-object matches (:func:`object_issue_scores`):

    * ``overlooked`` — a confident prediction with no ground truth near it (TIDE
      ``background``, span ``spurious``): probably a missing label; score = the
      prediction's confidence.
    * ``swapped`` — a confident prediction of another class on a ground-truth object
      (TIDE ``classification``, span ``wrong_type``, or a cross-class match): probably a
      wrong class label; score = the prediction's confidence, given to both the
      prediction and, when matched, the label it overlaps.
    * ``badly_located`` — a confident prediction of the right class overlapping the
      label too little (TIDE ``localisation``, span ``boundary``): score = confidence x
      (1 - IoU), or confidence / 2 when the IoU is unknown.
    * everything else (true positives, duplicates, plainly missed objects, ``both``
      errors) scores 0: those are model errors.

    A data row's score is the maximum of its objects' scores (:func:`row_scores`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = [
    "ISSUE_KINDS",
    "confident_thresholds",
    "label_quality_scores",
    "neighbour_disagreement",
    "object_issue_scores",
    "row_scores",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Obj = npt.NDArray[np.object_]

#: Issue kinds of :func:`object_issue_scores` ("" = no label issue).
ISSUE_KINDS = ("overlooked", "swapped", "badly_located")

_OVERLOOKED = frozenset({"background", "spurious"})
_SWAPPED = frozenset({"classification", "wrong_type"})
_BADLY_LOCATED = frozenset({"localisation", "localization", "boundary"})


def confident_thresholds(labels: npt.ArrayLike, pred_probs: npt.ArrayLike) -> F64:
    """Per-class confident thresholds: mean ``pred_probs[:, k]`` over rows labelled
    ``k``. ``labels``: (N,) ints in ``0..K-1``; ``pred_probs``: (N, K) rows summing
    to 1. A class no row is labelled with gets threshold 1 (never confident)."""
    y = np.asarray(labels, np.int64)
    p = np.asarray(pred_probs, np.float64)
    k = p.shape[1]
    sums = np.zeros(k)
    np.add.at(sums, y, p[np.arange(len(y)), y])
    counts = np.bincount(y, minlength=k).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts > 0, sums / counts, 1.0)


def label_quality_scores(
    labels: npt.ArrayLike, pred_probs: npt.ArrayLike, *, adjust: bool = False
) -> F64:
    """Score per row that its given label is a mistake (confident learning, see the
    module docstring).

    ``labels``: (N,) given class indices in ``0..K-1``; ``pred_probs``: (N, K)
    out-of-sample predicted probabilities. Returns (N,) in [0, 1]; **higher is worse**
    (1 - self-confidence, threshold-adjusted with ``adjust``)."""
    y = np.asarray(labels, np.int64)
    p = np.asarray(pred_probs, np.float64)
    if p.ndim != 2 or len(y) != p.shape[0]:
        raise ValueError("pred_probs must be (N, K) with one row per label")
    if not len(y):
        return np.zeros(0)
    if not adjust:
        return np.asarray(np.clip(1.0 - p[np.arange(len(y)), y], 0.0, 1.0))
    t = confident_thresholds(y, p)
    adj = p - t[None, :]
    adj = adj - adj.min(axis=1, keepdims=True)  # non-negative per row (cleanlab's shift)
    total = adj.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        adj = np.where(total > 0, adj / total, 1.0 / p.shape[1])
    return np.asarray(np.clip(1.0 - adj[np.arange(len(y)), y], 0.0, 1.0))


def neighbour_disagreement(labels: npt.ArrayLike, vectors: npt.ArrayLike, *, k: int = 10) -> F64:
    """Similarity-weighted share of each row's ``k`` nearest neighbours (cosine, itself
    excluded) whose label differs. ``labels``: (N,) hashable labels; ``vectors``:
    (N, D). Returns (N,) in [0, 1]; higher is worse. Brute force in blocks (N x N
    similarities, 1024 rows at a time)."""
    y = np.asarray(labels)
    v = np.asarray(vectors, np.float64)
    n = len(y)
    if n < 2:
        return np.zeros(n)
    k = max(1, min(k, n - 1))
    norm = np.linalg.norm(v, axis=1, keepdims=True)
    v = v / np.where(norm > 0, norm, 1.0)
    out = np.zeros(n)
    for start in range(0, n, 1024):
        sim = v[start : start + 1024] @ v.T
        idx = np.arange(start, min(n, start + 1024))
        sim[np.arange(len(idx)), idx] = -np.inf
        nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        w = np.clip(np.take_along_axis(sim, nn, axis=1), 0.0, None) + 1e-9
        differ = y[nn] != y[idx][:, None]
        out[idx] = (w * differ).sum(axis=1) / w.sum(axis=1)
    return out


def object_issue_scores(
    *,
    is_label: npt.ArrayLike,
    status: npt.ArrayLike,
    error_type: npt.ArrayLike,
    confidence: npt.ArrayLike,
    iou: npt.ArrayLike,
    other_class_confidence: npt.ArrayLike,
) -> tuple[F64, Obj]:
    """Label-issue score and kind of each evaluated object (see the module docstring).

    One entry per object of the evaluation: ``is_label`` (ground truth or prediction),
    ``status`` (TP/FP/FN/ignored), ``error_type`` (TIDE or span error, "" or None when
    none), ``confidence`` (the prediction's; NaN for labels), ``iou`` (with its match;
    NaN when none) and ``other_class_confidence`` (for a label: the confidence of a
    prediction of another class matched or blamed on it, NaN if none). Returns
    ``(score, kind)``: scores in [0, 1] (higher = more likely a labeling mistake), kinds
    in :data:`ISSUE_KINDS` or ""."""
    lab = np.asarray(is_label, bool)
    st = np.asarray(status, dtype=object)
    err = np.array(["" if e is None else str(e) for e in np.asarray(error_type, object)], object)
    conf = np.nan_to_num(np.asarray(confidence, np.float64), nan=0.0)
    ov = np.asarray(iou, np.float64)
    other = np.asarray(other_class_confidence, np.float64)
    n = len(lab)
    score = np.zeros(n)
    kind = np.full(n, "", dtype=object)
    fp = ~lab & (st == "FP")
    over = fp & np.isin(err, list(_OVERLOOKED))
    score[over], kind[over] = conf[over], "overlooked"
    swap = fp & np.isin(err, list(_SWAPPED))
    score[swap], kind[swap] = conf[swap], "swapped"
    bad = fp & np.isin(err, list(_BADLY_LOCATED))
    loc = np.where(np.isfinite(ov), 1.0 - np.clip(ov, 0.0, 1.0), 0.5)
    score[bad], kind[bad] = conf[bad] * loc[bad], "badly_located"
    lab_swap = lab & (st == "FN") & np.isfinite(other)
    score[lab_swap], kind[lab_swap] = np.clip(other[lab_swap], 0.0, 1.0), "swapped"
    return np.clip(score, 0.0, 1.0), kind


def row_scores(rows: npt.ArrayLike, scores: npt.ArrayLike, n_rows: int) -> F64:
    """Per-row maximum of object scores: ``rows`` (M,) row indices in ``0..n_rows-1``,
    ``scores`` (M,). Returns (n_rows,) in [0, 1], 0 for rows without objects."""
    out = np.zeros(n_rows)
    np.maximum.at(out, np.asarray(rows, np.int64), np.asarray(scores, np.float64))
    return out
