"""Per-row scores of a run (store.rowscores): the label-mistake score ``mislabel`` is stored
by every evaluation and replaced by label_issues(store=True) (a plain label_issues call is
a read), on real digits (out-of-sample probabilities) and the real voc100 detector."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import errorscope as es
from errorscope.errors import ErrorscopeError
from errorscope.store import rowscores
from tests.conftest import shared_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from label_errors import digits_pixels, noisy_digits


def _run_id(ws: es.Workspace, run: str) -> int:
    return int(ws.db.scalar("SELECT id FROM runs WHERE name = ?", [run]))


def _stored(ws: es.Workspace, run: str) -> dict[str, float]:
    ids, values = rowscores.read_row_scores(ws.db, _run_id(ws, run), rowscores.MISLABEL)
    keys = {r["id"]: r["global_key"] for r in ws.data_rows().to_pylist()}
    return {keys[int(i)]: float(v) for i, v in zip(ids, values, strict=True)}


def _digits(ws: es.Workspace, tmp: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y, probs, flipped = noisy_digits(0.05, 0)
    gold, pred = tmp / "gold.jsonl", tmp / "pred.jsonl"
    gold.write_text(
        "".join(
            json.dumps({"global_key": f"d{i}", "text": f"digit {i}", "label": str(c)}) + "\n"
            for i, c in enumerate(y.tolist())
        )
    )
    pred.write_text(
        "".join(
            json.dumps(
                {
                    "global_key": f"d{i}",
                    "label": str(int(np.argmax(p))),
                    "scores": {str(k): float(v) for k, v in enumerate(p)},
                }
            )
            + "\n"
            for i, p in enumerate(probs)
        )
    )
    ws.import_jsonl(gold)
    ws.import_jsonl(pred, run="cv")
    return y, probs, flipped


def test_digits_scores_stored_by_evaluate_and_replaced_by_stored_label_issues(
    ws: es.Workspace, tmp_path: Path
) -> None:
    y, probs, flipped = _digits(ws, tmp_path)
    assert rowscores.read_row_scores(ws.db, _run_id(ws, "cv"), rowscores.MISLABEL)[0].size == 0
    ws.evaluate("cv", confidence=0.0)
    stored = _stored(ws, "cv")
    # one score per row: confident learning's 1 - p(given label), computed here
    assert len(stored) == len(y)
    expected = 1.0 - probs[np.arange(len(y)), y] / probs.sum(axis=1)
    got = np.array([stored[f"d{i}"] for i in range(len(y))])
    assert got == pytest.approx(expected, abs=1e-9)
    assert ((got >= 0.0) & (got <= 1.0)).all()
    # the top 5 % by the stored score are mostly the flipped labels
    top = np.argsort(-got, kind="stable")[: int(flipped.sum())]
    assert flipped[top].mean() > 0.7
    assert rowscores.row_score_names(ws.db, _run_id(ws, "cv")) == ["mislabel"]
    # the same scores again, even when asked to store: nothing is written, caches stay valid
    generation = ws.db.generation
    plain = ws.label_issues("cv", store=True)
    assert ws.db.generation == generation
    assert _stored(ws, "cv") == stored
    assert {r["global_key"]: r["score"] for r in plain.rows.to_pylist()} == stored
    # with neighbour agreement in the pixels' space: replaced, one row each, in [0, 1]
    ws.add_embeddings("pixels", digits_pixels(), global_keys=[f"d{i}" for i in range(len(y))])
    generation = ws.db.generation
    near = ws.label_issues("cv", space="pixels", store=True)
    assert ws.db.generation > generation
    blended = _stored(ws, "cv")
    assert blended == {r["global_key"]: r["score"] for r in near.rows.to_pylist()}
    assert len(blended) == len(y)
    assert blended != stored
    assert all(0.0 <= v <= 1.0 for v in blended.values())
    ids, _ = rowscores.read_row_scores(ws.db, _run_id(ws, "cv"), rowscores.MISLABEL)
    assert np.unique(ids).size == ids.size == len(y)
    # a new evaluation stores the evaluation's own scores again
    ws.evaluate("cv", confidence=0.0)
    assert _stored(ws, "cv") == stored


def test_plain_label_issues_is_a_read(ws: es.Workspace, tmp_path: Path) -> None:
    y, _probs, _flipped = _digits(ws, tmp_path)
    ws.add_embeddings("pixels", digits_pixels(), global_keys=[f"d{i}" for i in range(len(y))])
    ws.evaluate("cv", confidence=0.0)
    # scores blended with the embedding space, stored on request
    near = ws.label_issues("cv", space="pixels", store=True)
    blended = _stored(ws, "cv")
    assert blended == {r["global_key"]: r["score"] for r in near.rows.to_pylist()}
    # a plain call (what the HTTP route and the CLI without --store make) computes other
    # scores but leaves the stored ones and the database generation alone
    generation = ws.db.generation
    plain = ws.label_issues("cv")
    assert {r["global_key"]: r["score"] for r in plain.rows.to_pylist()} != blended
    assert _stored(ws, "cv") == blended
    assert ws.db.generation == generation
    # the same for a call with the space but without store
    again = ws.label_issues("cv", space="pixels")
    assert {r["global_key"]: r["score"] for r in again.rows.to_pylist()} == blended
    assert ws.db.generation == generation
    # the same vectors given as a mapping (data row id -> vector) blend the same way
    ids = {r["global_key"]: r["id"] for r in ws.data_rows().to_pylist()}
    pixels = digits_pixels()
    mapped = ws.label_issues("cv", embeddings={ids[f"d{i}"]: pixels[i] for i in range(len(y))})
    assert {r["global_key"]: r["score"] for r in mapped.rows.to_pylist()} == pytest.approx(
        blended, abs=1e-6
    )
    assert ws.db.generation == generation


@pytest.mark.shared_data
def test_voc_detector_scores_follow_the_evaluation(ws: es.Workspace) -> None:
    voc = shared_path("voc100")
    ws.import_voc(voc / "gts" / "pascalvoc_format", images_dir=voc / "images")
    ws.import_yolo(
        voc / "dets" / "abs_xywh",
        names=voc / "voc.names",
        images_dir=voc / "images",
        layout="ltwh",
        run="det",
    )
    ws.evaluate("det", mode="labelbox", cross_class=True)
    stored = _stored(ws, "det")
    images = {p.name for p in (voc / "images").glob("*.jpg")}
    assert set(stored) == images
    assert all(0.0 <= v <= 1.0 for v in stored.values())
    # images the detector made no box on have nothing but missed labels: model errors
    boxed = {f"{f.stem}.jpg" for f in (voc / "dets" / "abs_xywh").glob("*.txt") if f.read_text()}
    assert images - boxed
    assert all(stored[k] == 0.0 for k in images - boxed)
    # a row's score is at most its most confident detection's confidence (every kind of
    # issue is scaled by a prediction's confidence), read from the detection files
    best = {
        f"{f.stem}.jpg": max(float(line.split()[1]) for line in f.read_text().splitlines())
        for f in (voc / "dets" / "abs_xywh").glob("*.txt")
        if f.read_text().strip()
    }
    assert all(stored[k] <= best[k] + 1e-9 for k in boxed)
    assert sum(v > 0 for v in stored.values()) >= 20
    assert stored == {r["global_key"]: r["score"] for r in ws.label_issues("det").rows.to_pylist()}
    # re-evaluated at a stricter IoU: more boxes are badly located, the scores are replaced
    ws.evaluate("det", mode="labelbox", cross_class=True, iou=0.9)
    strict = _stored(ws, "det")
    assert set(strict) == images
    assert strict != stored
    assert strict == {r["global_key"]: r["score"] for r in ws.label_issues("det").rows.to_pylist()}


def test_write_row_scores_checks_its_input(ws: es.Workspace) -> None:
    with pytest.raises(ErrorscopeError, match="2 data row ids but 1"):
        rowscores.write_row_scores(ws.db, 1, "x", [1, 2], [0.5])
    with pytest.raises(ErrorscopeError, match="finite"):
        rowscores.write_row_scores(ws.db, 1, "x", [1], [float("nan")])
    with pytest.raises(ErrorscopeError, match="twice"):
        rowscores.write_row_scores(ws.db, 1, "x", [1, 1], [0.5, 0.6])
    assert rowscores.write_row_scores(ws.db, 1, "x", [3, 1], [0.3, 0.1])
    assert not rowscores.write_row_scores(ws.db, 1, "x", [1, 3], [0.1, 0.3])
    ids, values = rowscores.read_row_scores(ws.db, 1, "x")
    assert ids.tolist() == [1, 3]
    assert values.tolist() == [0.1, 0.3]
    rowscores.delete_row_scores(ws.db, 1, "x")
    assert rowscores.read_row_scores(ws.db, 1, "x")[0].size == 0
