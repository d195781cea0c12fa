"""Demo case ``digits``: scikit-learn's bundled handwritten digits (1,797 8x8 images,
written as 32x32 PNGs, each pixel a 4x4 block) with their true digit, and a linear
discriminant analysis's 5-fold cross-validated predictions (every prediction is out of sample),
with the full probability vector as ``p(<digit>)`` custom metrics. The embedding space
is the raw 64 pixel values (EfficientNet features of 8x8 digits are poor and slow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from errorscope.core.progress import report
from errorscope.sdk.workspace import Workspace

__all__ = ["DATASET", "RUN", "SPACE", "build"]

DATASET = "digits"
RUN = "digits-lda"
SPACE = "digits-pixels"
SCALE = 4


def build(ws: Workspace, media: Path) -> dict[str, Any]:
    from PIL import Image
    from sklearn.datasets import load_digits
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    digits = load_digits()
    x = np.asarray(digits.data, dtype=np.float64) / 16.0
    y = np.asarray(digits.target).astype(str)
    media.mkdir(parents=True, exist_ok=True)
    keys = [f"digit-{i:04d}.png" for i in range(len(y))]
    for i, img in enumerate(digits.images):
        if i % 200 == 0:
            report("digits: images", i, len(keys))
        pixels = (255 - np.asarray(img) * 255 / 16).clip(0, 255).astype(np.uint8)
        big = np.kron(pixels, np.ones((SCALE, SCALE), dtype=np.uint8))
        Image.fromarray(big).save(media / keys[i])
    side = 8 * SCALE
    ids = ws.add_data_rows(
        [
            {
                "global_key": k,
                "media_type": "image",
                "uri": str(media / k),
                "width": side,
                "height": side,
            }
            for k in keys
        ],
        dataset=DATASET,
        source="sklearn.datasets.load_digits",
    )
    names = [str(d) for d in range(10)]
    ws.add_class("digit", "radio", names)
    ws.add_labels(
        [
            {"row_id": r, "class_name": "digit", "kind": "radio", "answers": [t]}
            for r, t in zip(ids, y, strict=True)
        ],
        source="sklearn.datasets.load_digits",
    )
    report("digits: 5-fold linear discriminant analysis", 0, 1)
    model = LinearDiscriminantAnalysis()
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
    proba = cross_val_predict(model, x, y, cv=folds, method="predict_proba")
    report("digits: 5-fold linear discriminant analysis", 1, 1)
    best = proba.argmax(axis=1)
    metrics = pa.array(
        [[(f"p({n})", float(v)) for n, v in zip(names, p, strict=True)] for p in proba],
        pa.map_(pa.string(), pa.float64()),
    )
    predictions = pa.table(
        {
            "row_id": pa.array(ids, pa.int64()),
            "class_name": pa.array(["digit"] * len(ids)),
            "kind": pa.array(["radio"] * len(ids)),
            "answers": pa.array([[names[b]] for b in best], pa.list_(pa.string())),
            "confidence": pa.array(proba.max(axis=1), pa.float64()),
            "custom_metrics": metrics,
        }
    )
    ws.create_run(RUN, model="sklearn-lda", config={"cv": 5, "features": "64 pixels / 16"})
    ws.add_predictions(
        RUN, predictions, source="sklearn LinearDiscriminantAnalysis, cross_val_predict(cv=5)"
    )
    ws.assign_splits(RUN, seed=0)
    summary = ws.evaluate(RUN, confidence=0.0)
    ws.add_embeddings(SPACE, x.astype(np.float32), ids=ids, dataset=DATASET, source="pixels")
    ws.projection(SPACE, "pca")
    return {
        "dataset": DATASET,
        "run": RUN,
        "rows": len(ids),
        "accuracy": float((best == y.astype(int)).mean()),
        "spaces": [SPACE],
        "metrics": summary.get("classification", {}),
    }
