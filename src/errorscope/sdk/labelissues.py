"""``Workspace.label_issues``: per object and per data row, how likely a disagreement
between label and prediction is a **labeling mistake** rather than a model error.

* Classification runs whose predictions carry class probabilities (``p(<answer>)``
  custom metrics, e.g. JSONL ``scores``) are scored by confident learning on those
  probabilities (:func:`errorscope.core.labelissues.label_quality_scores`; they must be
  out-of-sample, e.g. ``cross_val_predict``), every labelled row.
* Other runs (detection, spans, classifications without probabilities) are scored from
  the evaluation's matches (:func:`errorscope.core.labelissues.object_issue_scores`):
  overlooked, swapped and badly located labels, cleanlab's object-detection issue
  types.
* an embedding space (``space``: the name of one of the workspace's spaces) or an
  ``embeddings`` mapping (data row id -> vector) blends in neighbour disagreement
  (:func:`errorscope.core.labelissues.neighbour_disagreement`: how many of the row's
  nearest neighbours carry another label) by averaging it with the score of each
  labelled object of a row that has a vector (meaningful for classification: one label
  per row).

Scores are in [0, 1], **higher = more likely a labeling mistake**; a row's score is its
highest object score.

The row scores are stored as the run's ``mislabel`` row scores
(:mod:`errorscope.store.rowscores`; the query language's row metric ``mislabel_score``
and the ready-made slice "candidate mislabels" read them): after every
:meth:`~errorscope.sdk.evaluation.EvaluationMixin.evaluate`, in the evaluation's
transaction, from the evaluation alone (the probabilities and matches; no embedding).
:meth:`LabelIssueMixin.label_issues` is a read: it replaces them (e.g. with scores
blended with an embedding space) only when called with ``store=True``
(``errorscope label-issues --store``); the HTTP route never stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from errorscope.core import labelissues as li
from errorscope.core.query import Ids
from errorscope.errors import InvalidQueryError
from errorscope.sdk.attributes import Frame, load_frame
from errorscope.store import analysis, rowscores
from errorscope.store import embeddings as spaces
from errorscope.store.database import Database

__all__ = ["LabelIssueMixin", "LabelIssues"]

_NONE = np.array(None, dtype=object)  # compares elementwise: np.not_equal(values, _NONE)


@dataclass(frozen=True)
class LabelIssues:
    """``objects``: one row per evaluated object with a score (``data_row_id``,
    ``global_key``, ``source``, ``annotation_id``, ``class_name``, ``kind``, ``score``),
    ``rows``: one row per data row of the run (``data_row_id``, ``global_key``,
    ``score``, ``kind``); both sorted by score, highest first. ``method``:
    ``confident_learning`` or ``matches``."""

    objects: pa.Table
    rows: pa.Table
    method: str

    def flagged(self, fraction: float) -> list[int]:
        """Ids of the top ``fraction`` of rows by score (at least one row)."""
        n = max(1, round(fraction * self.rows.num_rows))
        return [int(i) for i in self.rows.column("data_row_id").to_pylist()[:n]]

    def filter(self, min_score: float = 0.5) -> Ids:
        """The rows scoring at least ``min_score``, as a query filter (gallery, slices)."""
        ids = self.rows.column("data_row_id").to_pylist()
        scores = self.rows.column("score").to_pylist()
        return Ids(
            tuple(sorted(int(i) for i, s in zip(ids, scores, strict=True) if s >= min_score))
        )


@dataclass(frozen=True)
class _Probabilities:
    """The class probabilities of the rows' (first) classification prediction with any,
    one entry per (row, class): the row's data row id, the class (keyed like the frame's
    classes) and the probability."""

    row_id: npt.NDArray[np.int64]
    key: npt.NDArray[np.str_]
    value: npt.NDArray[np.float64]


def _probabilities(db: Database, frame: Frame) -> _Probabilities:
    """The class probabilities (``p(<answer>)`` custom metrics) of each data row's first
    classification prediction that has any."""
    t = analysis.prediction_probabilities(db, frame.run_id)
    several = pc.count_distinct(t.column("class_name")).as_py() > 1
    keys = pc.list_flatten(t.column("keys"))
    values = pc.list_flatten(t.column("values"))
    parent = pc.list_parent_indices(t.column("keys"))
    ok = pc.and_kleene(
        pc.and_kleene(pc.starts_with(keys, "p("), pc.ends_with(keys, ")")),
        pc.is_valid(values),
    )
    ok = pc.fill_null(ok, False)
    keys, values, parent = keys.filter(ok), values.filter(ok), parent.filter(ok)
    names = pc.utf8_slice_codeunits(keys, 2, -1)
    if several:
        cls = pc.take(t.column("class_name"), parent)
        names = pc.binary_join_element_wise(cls, names, "/")
    parent_np = np.asarray(parent.to_numpy(zero_copy_only=False), np.int64)
    row_id = np.asarray(t.column("data_row_id").to_numpy(zero_copy_only=False), np.int64)
    row_id = row_id[parent_np]
    # predictions come ordered by data row, then id: a row's first entry is its first
    # prediction with probabilities; keep only that prediction's entries
    _, first = np.unique(row_id, return_index=True)
    chosen = np.zeros(row_id.max() + 1 if row_id.size else 0, np.int64)
    chosen[row_id[first]] = parent_np[first]
    keep = parent_np == chosen[row_id]
    return _Probabilities(
        row_id=row_id[keep],
        key=np.asarray(names.to_numpy(zero_copy_only=False), dtype=str)[keep],
        value=np.asarray(values.to_numpy(zero_copy_only=False), np.float64)[keep],
    )


def _confident_learning(
    frame: Frame, probs: _Probabilities
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Confident-learning score of every label object with probabilities (others NaN)."""
    lab = np.nonzero(frame.is_label)[0]
    rows = frame.row_ids[frame.row[lab]]
    has = np.isin(rows, probs.row_id)
    score = np.full(len(frame.row), np.nan)
    if not has.any():
        return score, np.zeros(len(frame.row), bool)
    idx, rows = lab[has], rows[has]
    labels = frame.cls[idx].astype(str)
    used = np.isin(probs.row_id, rows)
    classes = np.unique(np.concatenate([labels, probs.key[used]]))
    distinct, inverse = np.unique(rows, return_inverse=True)
    dense = np.zeros((len(distinct), len(classes)))
    dense[
        np.searchsorted(distinct, probs.row_id[used]), np.searchsorted(classes, probs.key[used])
    ] = probs.value[used]
    p = dense[inverse]
    total = p.sum(axis=1, keepdims=True)
    p = np.where(total > 0, p / np.where(total > 0, total, 1.0), 1.0 / len(classes))
    y = np.searchsorted(classes, labels).astype(np.int64)
    score[idx] = li.label_quality_scores(y, p)
    done = np.zeros(len(frame.row), bool)
    done[idx] = True
    return score, done


class LabelIssueMixin:
    """The label-issue methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def label_issues(
        self,
        run: str,
        *,
        space: str | None = None,
        embeddings: Mapping[int, Any] | None = None,
        neighbours: int = 10,
        store: bool = False,
    ) -> LabelIssues:
        """Label-mistake scores of ``run``'s stored evaluation (module docstring); with
        an embedding ``space`` (or ``embeddings``: data row id -> vector), neighbour
        disagreement of the rows' labels (k = ``neighbours``) is averaged in. With
        ``store``, the rows' scores replace the run's stored ``mislabel`` row scores
        (what ``mislabel_score`` and "candidate mislabels" read); without it nothing is
        written."""
        frame = load_frame(self.db, run)
        if space is not None:
            found = spaces.get_space(self.db, space)
            if found.level != "row":
                raise InvalidQueryError(
                    f"space {space!r} has a vector per object: label issues need one per row"
                )
            ids, vectors = spaces.load_space(self.db, found)
            vecs: tuple[npt.NDArray[np.int64], npt.NDArray[Any]] | None = (
                np.asarray(ids, np.int64),
                np.asarray(vectors),
            )
        elif embeddings:
            vecs = (
                np.fromiter((int(i) for i in embeddings), np.int64, len(embeddings)),
                np.array([np.asarray(v, np.float64) for v in embeddings.values()]),
            )
        else:
            vecs = None
        issues, row_score = _issues(frame, *_object_scores(self.db, frame, vecs, neighbours))
        if store:
            _save(self.db, frame, row_score)
        return issues


def store_mislabel_scores(db: Database, run: str) -> None:
    """Compute ``run``'s label-mistake row scores from its stored evaluation (no
    embedding) and store them as its ``mislabel`` row scores (called by evaluate)."""
    frame = load_frame(db, run)
    score, _, _ = _object_scores(db, frame, None, 10)
    _save(db, frame, li.row_scores(frame.row, score, frame.n_rows))


def _save(db: Database, frame: Frame, row_score: npt.NDArray[np.float64]) -> None:
    values = np.clip(np.nan_to_num(row_score, nan=0.0), 0.0, 1.0)
    rowscores.write_row_scores(db, frame.run_id, rowscores.MISLABEL, frame.row_ids, values)


def _object_scores(
    db: Database,
    frame: Frame,
    embeddings: tuple[npt.NDArray[np.int64], npt.NDArray[Any]] | None,
    neighbours: int,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[Any], str]:
    """Per evaluated object of ``frame``: its score, its issue kind, and the method;
    ``embeddings``: data row ids and their vectors (aligned)."""
    swapped = np.not_equal(frame.other, _NONE) & np.not_equal(frame.other, frame.cls)
    other_conf = np.where(swapped, frame.other_confidence, np.nan)
    score, kind = li.object_issue_scores(
        is_label=frame.is_label,
        status=frame.status,
        error_type=frame.error,
        confidence=np.where(frame.is_label, np.nan, frame.confidence),
        iou=frame.iou,
        other_class_confidence=other_conf,
    )
    method = "matches"
    if frame.classification:
        cl, done = _confident_learning(frame, _probabilities(db, frame))
        if done.any():
            method = "confident_learning"
            score = np.where(done, cl, np.where(frame.is_label, score, 0.0))
            kind = np.where(done, "confident_learning", np.where(frame.is_label, kind, ""))
    if embeddings is not None:
        score = _blend(frame, score, *embeddings, neighbours)
    return score, kind, method


def _issues(
    frame: Frame, score: npt.NDArray[np.float64], kind: npt.NDArray[Any], method: str
) -> tuple[LabelIssues, npt.NDArray[np.float64]]:
    """The label issues of ``frame``'s object scores, and the row scores."""
    row_score = li.row_scores(frame.row, score, frame.n_rows)
    best = np.full(frame.n_rows, "", dtype=object)
    order = np.argsort(score, kind="stable")  # later (higher) scores overwrite
    best[frame.row[order]] = kind[order]
    best[row_score <= 0] = ""
    keys = np.asarray(frame.rows.column("global_key").to_pylist(), dtype=object)
    obj_order = np.argsort(-score, kind="stable")
    objects = pa.table(
        {
            "data_row_id": pa.array(frame.row_ids[frame.row][obj_order], pa.int64()),
            "global_key": pa.array(keys[frame.row][obj_order].tolist(), pa.string()),
            "source": pa.array(
                np.where(frame.is_label, "label", "prediction")[obj_order].tolist(),
                pa.string(),
            ),
            "annotation_id": pa.array(frame.annotation_id[obj_order], pa.int64()),
            "class_name": pa.array([str(c) for c in frame.cls[obj_order]], pa.string()),
            "kind": pa.array(kind[obj_order].tolist(), pa.string()),
            "score": pa.array(score[obj_order], pa.float64()),
        }
    )
    row_order = np.argsort(-row_score, kind="stable")
    rows = pa.table(
        {
            "data_row_id": pa.array(frame.row_ids[row_order], pa.int64()),
            "global_key": pa.array(keys[row_order].tolist(), pa.string()),
            "score": pa.array(row_score[row_order], pa.float64()),
            "kind": pa.array(best[row_order].tolist(), pa.string()),
        }
    )
    return LabelIssues(objects, rows, method), row_score


def _blend(
    frame: Frame,
    score: npt.NDArray[np.float64],
    row_ids: npt.NDArray[np.int64],
    row_vectors: npt.NDArray[Any],
    k: int,
) -> npt.NDArray[np.float64]:
    lab = np.nonzero(frame.is_label)[0]
    ids = frame.row_ids[frame.row[lab]]
    order = np.argsort(row_ids, kind="stable")
    pos = np.clip(np.searchsorted(row_ids, ids, sorter=order), 0, max(len(row_ids) - 1, 0))
    has = row_ids[order][pos] == ids if len(row_ids) else np.zeros(len(ids), bool)
    if has.sum() < 2:
        return score
    idx = lab[has]
    vectors = np.asarray(row_vectors, np.float64)[order[pos[has]]]
    nd = li.neighbour_disagreement(frame.cls[idx], vectors, k=k)
    out = score.copy()
    out[idx] = (score[idx] + nd) / 2.0
    return out
