"""Label-mistake detection benchmark: errorscope vs ``cleanlab.find_label_issues``.

scikit-learn's bundled digits (1,797 real 8x8 images, 10 classes), a known fraction of
ground-truth labels flipped to another random class (seeded), out-of-sample predicted
probabilities from 5-fold ``cross_val_predict`` of a logistic regression trained on the
*noisy* labels. errorscope imports the rows (JSONL, probabilities as ``scores``),
evaluates the run and scores label issues (confident learning); its flagged rows are the
top ``--fraction`` by score (the known noise rate). cleanlab flags with its defaults
(``filter_by="prune_by_noise_rate"``) on the same labels and probabilities.

    python benchmarks/label_errors.py [--noise 0.05] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import errorscope as es


def digits_pixels() -> np.ndarray:
    """The digits' 64 pixel values: an 'embedding' for neighbour agreement."""
    return np.asarray(load_digits().data, np.float32)


def noisy_digits(noise: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(noisy labels, out-of-sample probabilities, flipped mask)."""
    digits = load_digits()
    y = digits.target.copy()
    rng = np.random.default_rng(seed)
    n_flip = round(noise * len(y))
    flipped = np.zeros(len(y), bool)
    flipped[rng.choice(len(y), n_flip, replace=False)] = True
    y[flipped] = (y[flipped] + rng.integers(1, 10, n_flip)) % 10
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    probs = cross_val_predict(model, digits.data, y, cv=5, method="predict_proba")
    return y, probs, flipped


def errorscope_flags(
    y: np.ndarray,
    probs: np.ndarray,
    fraction: float,
    workdir: Path,
    vectors: np.ndarray | None = None,
) -> tuple[list[int], float]:
    """Rows flagged by errorscope (top ``fraction``); with ``vectors``, neighbour
    agreement in that embedding space is blended in."""
    workdir.mkdir(parents=True, exist_ok=True)
    gold = workdir / "gold.jsonl"
    pred = workdir / "pred.jsonl"
    gold.write_text(
        "".join(
            json.dumps({"global_key": f"d{i}", "text": f"digit image {i}", "label": str(c)}) + "\n"
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
    with es.open_workspace(workdir / "ws") as ws:
        ws.import_jsonl(gold)
        ws.import_jsonl(pred, run="cv")
        ws.evaluate("cv", confidence=0.0)
        if vectors is not None:
            ws.add_embeddings("pixels", vectors, global_keys=[f"d{i}" for i in range(len(y))])
        start = time.perf_counter()
        issues = ws.label_issues("cv", space="pixels" if vectors is not None else None)
        secs = time.perf_counter() - start
        keys = {r["id"]: r["global_key"] for r in ws.data_rows().to_pylist()}
        flagged = [int(keys[i][1:]) for i in issues.flagged(fraction)]
    return flagged, secs


def prf(flagged: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    tp = float((flagged & truth).sum())
    p = tp / max(flagged.sum(), 1)
    r = tp / max(truth.sum(), 1)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def main() -> None:
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--noise", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    y, probs, flipped = noisy_digits(args.noise, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ours, secs = errorscope_flags(y, probs, args.noise, Path(tmp))
        near, near_secs = errorscope_flags(y, probs, args.noise, Path(tmp) / "nn", digits_pixels())
    mine = np.zeros(len(y), bool)
    mine[ours] = True
    blended = np.zeros(len(y), bool)
    blended[near] = True
    start = time.perf_counter()
    theirs = find_label_issues(y, probs)
    cl_secs = time.perf_counter() - start
    ranked = np.argsort(get_label_quality_scores(y, probs), kind="stable")[: len(ours)]
    cl_top = np.zeros(len(y), bool)
    cl_top[ranked] = True
    n_flip = int(flipped.sum())
    print(f"digits: {len(y)} rows, {n_flip} flipped ({args.noise:.0%}), seed {args.seed}")
    print(f"machine: {platform.machine()}, Python {platform.python_version()}")
    print("| method | flagged | precision | recall | F1 | seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, flags, s in (
        (f"errorscope label_issues, top {args.noise:.0%}", mine, secs),
        (f"errorscope + pixel-neighbour agreement, top {args.noise:.0%}", blended, near_secs),
        ("cleanlab.find_label_issues (defaults)", theirs, cl_secs),
        (f"cleanlab get_label_quality_scores, top {args.noise:.0%}", cl_top, float("nan")),
    ):
        p, r, f = prf(flags, flipped)
        print(f"| {name} | {int(flags.sum())} | {p:.3f} | {r:.3f} | {f:.3f} | {s:.2f} |")


if __name__ == "__main__":
    main()
