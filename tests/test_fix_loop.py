"""A real retraining loop, small and CPU-only, on scikit-learn's bundled digits.

1. 1000 of the 1797 digit images are labeled, but eights are scarce among them (30); the
   other 797 images are an unlabeled pool whose truth is held back.
2. Run 1: logistic regression trained on run 1's train split, predicting every row of the
   run; evaluated. The confusion pattern: the class with the lowest recall on the test
   split, and its test rows the model confused with other digits.
3. Nearest neighbours (cosine, on the pixel features, with numpy: the workspace's
   embedding similarity API is not relied on here) of those confused test rows, taken
   from the unlabeled pool, make a batch.
4. The batch goes out as a Label Studio JSON file, is "labeled" from the held-back truth
   (as an annotator answering in Label Studio would) and is imported back.
5. Run 2 from the labels: run 1's rows keep their splits, the new rows go to train; the
   model is retrained and evaluated.
6. ``errorscope compare`` on the pattern's slice (the test rows whose truth is the
   pattern's class) shows the gain and the flipped objects.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import errorscope as es
from errorscope.cli import cli
from errorscope.labeling.lsformat import LsClass, control_name

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

N_LABELED, SCARCE, SCARCE_KEEP, NEIGHBOURS = 1000, "8", 30, 60


def _setup(ws: es.Workspace, tmp_path: Path) -> tuple[Any, Any, list[int], list[int]]:
    digits = load_digits()
    x, y = digits.data / 16.0, digits.target.astype(str)
    images = tmp_path / "digits"
    images.mkdir()
    keys = []
    for i, img in enumerate(digits.images):
        key = f"digit-{i:04d}.png"
        Image.fromarray((img * 16).clip(0, 255).astype(np.uint8)).save(images / key)
        keys.append(key)
    ids = ws.add_data_rows(
        [
            {
                "global_key": k,
                "media_type": "image",
                "uri": str(images / k),
                "width": 8,
                "height": 8,
            }
            for k in keys
        ]
    )
    ws.add_class("digit", "radio", [str(d) for d in range(10)])
    order = np.random.default_rng(0).permutation(len(y))
    eights = [i for i in order if y[i] == SCARCE][:SCARCE_KEEP]
    others = [i for i in order if y[i] != SCARCE][: N_LABELED - SCARCE_KEEP]
    labeled = sorted(eights + others)
    ws.add_labels(
        [
            {"row_id": ids[i], "class_name": "digit", "kind": "radio", "answers": [y[i]]}
            for i in labeled
        ]
    )
    pool = sorted(set(range(len(y))) - set(labeled))
    return x, y, [ids[i] for i in labeled], [ids[i] for i in pool]


def _ids(ws: es.Workspace, run: str, f: Any) -> list[int]:
    return [r.id for r in ws.query(run, f, limit=10_000).rows]


def _train_and_predict(ws: es.Workspace, run: str, x: Any, first: int) -> list[Any]:
    """Train on the run's train split (truth from the workspace's labels), predict every
    row of the run with the probability as confidence."""
    truth = {r["data_row_id"]: r["answers"][0] for r in ws.labels().to_pylist()}
    rows = sorted(r for r in _ids(ws, run, None) if r in truth)
    train = _ids(ws, run, {"type": "split", "values": ["train"]})
    model = LogisticRegression(max_iter=2000, random_state=0)
    model.fit(x[[r - first for r in train]], [truth[r] for r in train])
    proba = model.predict_proba(x[[r - first for r in rows]])
    best = proba.argmax(axis=1)
    return [
        {
            "row_id": r,
            "class_name": "digit",
            "kind": "radio",
            "answers": [str(model.classes_[b])],
            "confidence": float(p[b]),
        }
        for r, b, p in zip(rows, best, proba, strict=True)
    ]


def test_retraining_loop(ws: es.Workspace, tmp_path: Path) -> None:
    x, y, labeled, pool = _setup(ws, tmp_path)
    first = min(labeled + pool)
    # -- run 1 on the labeled rows: 30/0/70 so the test split is large
    ratios = (0.3, 0.0, 0.7)
    out1 = ws.new_run_from_labels("run1", model="logreg", ratios=ratios, seed=1)
    assert out1["rows"] == len(labeled)
    assert out1["splits"]["train"] == round(0.3 * len(labeled))
    preds1 = _train_and_predict(ws, "run1", x, first)
    ws.add_predictions("run1", preds1)
    ws.evaluate("run1", confidence=0.0)

    # -- the confusion pattern: the largest off-diagonal cell on the test split
    truth = {r["data_row_id"]: r["answers"][0] for r in ws.labels().to_pylist()}
    test = set(_ids(ws, "run1", {"type": "split", "values": ["test"]}))
    missed: dict[str, list[int]] = {}
    total: dict[str, int] = {}
    for p in preds1:
        if p["row_id"] in test:
            t = truth[p["row_id"]]
            total[t] = total.get(t, 0) + 1
            if p["answers"][0] != t:
                missed.setdefault(t, []).append(p["row_id"])
    gt = min(total, key=lambda c: 1 - len(missed.get(c, [])) / total[c])  # lowest recall
    anchors = missed[gt]
    assert gt == SCARCE  # the scarce class has the lowest test recall: the pattern

    # -- pull unlabeled rows like the confused ones: cosine nearest neighbours in the pool
    feats = x / np.linalg.norm(x, axis=1, keepdims=True)
    sims = feats[[p - first for p in pool]] @ feats[[a - first for a in anchors]].T
    nearest = np.argsort(-sims.max(axis=1))[:NEIGHBOURS]
    similar = [pool[i] for i in sorted(nearest)]
    ws.create_labeling_project("digits", backend="files")
    batch = ws.create_batch("like-eights", project="digits", similar=similar, priority=1)
    assert batch.rows == similar

    # -- the file round trip: export, label from the held-back truth, import
    out = tmp_path / "like-eights.json"
    ws.export_batch("like-eights", out, format="labelstudio", prelabels="none")
    tasks = json.loads(out.read_text())
    control = control_name(LsClass("digit", "radio", tuple(str(d) for d in range(10))))
    for t in tasks:
        answer = str(y[t["data"]["errorscope_id"] - first])
        t["annotations"] = [
            {
                "result": [
                    {
                        "from_name": control,
                        "to_name": "image",
                        "type": "choices",
                        "value": {"choices": [answer]},
                    }
                ]
            }
        ]
    out.write_text(json.dumps(tasks))
    report = ws.import_batch("like-eights", out)
    assert sorted(report.rows_changed) == similar
    assert report.labels_added == NEIGHBOURS
    assert sum(y[r - first] == SCARCE for r in similar) > NEIGHBOURS // 2  # mostly eights

    # -- run 2: run 1's rows keep their splits, the new rows go to train
    out2 = ws.new_run_from_labels(
        "run2", model="logreg", previous="run1", batches=["like-eights"], new_rows="train"
    )
    assert out2["new_rows"] == similar
    assert set(_ids(ws, "run2", {"type": "split", "values": ["test"]})) == test
    preds2 = _train_and_predict(ws, "run2", x, first)
    ws.add_predictions("run2", preds2)
    ws.evaluate("run2", confidence=0.0)

    # -- compare on the pattern's slice: test rows whose truth is the pattern's class
    pattern = sorted(r for r in test if truth[r] == gt)
    ws.save_slice("eights-test", {"type": "ids", "ids": pattern}, run="run1")
    cmp = ws.compare("run1", "run2", slice="eights-test")
    assert cmp["rows"] == len(pattern)
    eight = next(c for c in cmp["per_class"] if c["name"] == gt)
    assert eight["delta"]["recall"] > 0
    assert cmp["flips"]["fn_to_tp"] > cmp["flips"]["tp_to_fn"]
    fixed = {f["data_row_id"] for f in cmp["flips"]["objects"] if f["to"] == "TP"}
    p1 = {p["row_id"]: p["answers"][0] for p in preds1}
    p2 = {p["row_id"]: p["answers"][0] for p in preds2}
    assert fixed == {r for r in pattern if p1[r] != gt and p2[r] == gt}

    path = ws.path
    ws.close()
    res = CliRunner().invoke(
        cli, ["compare", "-w", str(path), "--runs", "run1", "run2", "--slice", "eights-test"]
    )
    assert res.exit_code == 0, res.output
    assert "FN->TP" in res.output
    assert f"{len(fixed)} FN->TP (fixed)" in res.output
