"""Query benchmark: the gallery, histograms and confusion matrix of a 1M-row, 10M-object run.

Builds (once, cached under ``benchmarks/_data/``) a workspace with 1M image data rows,
5M ground-truth boxes and 5M scored predictions over 20 classes — jittered copies of the
ground truth, a share with the wrong class, missed objects and background boxes — split
80/10/10 and evaluated (COCO mode). Then starts the real server (``errorscope serve``,
uvicorn on loopback) in its own process and times, over HTTP with keep-alive:

(a) a gallery page: split + class + metric-range filter, sorted by a metric, first page
    and page 200 (following ``next_cursor``);
(b) per-class histograms (annotation and prediction counts per class, per-class metric
    bars, a 20-bin histogram of a per-class metric);
(c) the confusion matrix.

Each request is repeated with varying class and range (so no answer comes from a cache
of an identical request) and p50/p95 are printed next to the issue's targets, and next
to the same query through the SDK in-process (the server's overhead).

    python benchmarks/query.py [--rows 1000000] [--per-row 5] [--repeat 40]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from errorscope.sdk.workspace import Workspace
from liveserver import serve

CLASSES = 20
HERE = Path(__file__).resolve().parent


def build(path: Path, rows: int, per_row: int, seed: int = 0) -> None:
    """Create and evaluate the synthetic workspace at ``path``."""
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    with Workspace(path) as ws:
        keys = pa.array([f"img-{i}.jpg" for i in range(rows)])
        ws.add_data_rows(
            pa.table(
                {
                    "global_key": keys,
                    "media_type": pa.array(["image"] * rows),
                    "uri": pa.array([f"images/img-{i}.jpg" for i in range(rows)]),
                    "width": pa.array(np.full(rows, 640, np.int32)),
                    "height": pa.array(np.full(rows, 480, np.int32)),
                }
            )
        )
        n = rows * per_row
        img = np.repeat(np.arange(rows), per_row)
        cls = rng.integers(0, CLASSES, n)
        x1 = rng.uniform(0, 560, n)
        y1 = rng.uniform(0, 400, n)
        w = rng.uniform(8, 80, n)
        h = rng.uniform(8, 80, n)
        names = np.array([f"class_{c}" for c in range(CLASSES)], dtype=object)

        def boxes(ix1: Any, iy1: Any, iw: Any, ih: Any, icls: Any, conf: Any) -> pa.Table:
            cols: dict[str, Any] = {
                "row_key": keys.take(pa.array(img)),
                "class_name": pa.array(names[icls]),
                "kind": pa.array(np.full(len(ix1), "bbox", dtype=object)),
                "x1": ix1,
                "y1": iy1,
                "x2": ix1 + iw,
                "y2": iy1 + ih,
            }
            if conf is not None:
                cols["confidence"] = conf
            return pa.table(cols)

        ws.add_labels(boxes(x1, y1, w, h, cls, None))
        print(f"  labels written ({time.perf_counter() - t0:.0f} s)", flush=True)
        # predictions: 80% jittered copies (10% of them with the wrong class), the rest
        # background boxes; so ~20% of ground truth is missed.
        kind = rng.uniform(size=n)
        copy = kind < 0.8
        jit = rng.normal(0, 4, (4, n))
        px1 = np.where(copy, x1 + jit[0], rng.uniform(0, 560, n))
        py1 = np.where(copy, y1 + jit[1], rng.uniform(0, 400, n))
        pw = np.where(copy, np.maximum(w + jit[2], 2), rng.uniform(8, 80, n))
        ph = np.where(copy, np.maximum(h + jit[3], 2), rng.uniform(8, 80, n))
        wrong = copy & (rng.uniform(size=n) < 0.1)
        pcls = np.where(wrong, (cls + rng.integers(1, CLASSES, n)) % CLASSES, cls)
        conf = np.where(copy, rng.beta(5, 2, n), rng.beta(2, 5, n))
        ws.add_predictions("bench", boxes(px1, py1, pw, ph, pcls, conf))
        print(f"  predictions written ({time.perf_counter() - t0:.0f} s)", flush=True)
        ws.assign_splits("bench", seed=seed)
        ws.evaluate("bench")
        print(f"  evaluated ({time.perf_counter() - t0:.0f} s)", flush=True)


def percentiles(samples: list[float]) -> tuple[float, float]:
    a = np.array(samples) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


def timed(fn: Callable[[int], Any], repeat: int) -> list[float]:
    fn(0)  # warm-up
    out = []
    for i in range(repeat):
        t = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t)
    return out


def gallery_filter(i: int) -> dict[str, Any]:
    c = f"class_{i % CLASSES}"
    return {
        "type": "and",
        "filters": [
            {"type": "split", "values": ["train" if i % 2 else "valid"]},
            {"type": "class", "side": "label", "class_name": c},
            {"type": "metric", "name": "iou", "lo": 0.0, "hi": 0.6 + 0.01 * (i % 10)},
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-row", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--workspace", type=Path, default=None)
    args = parser.parse_args()
    path = args.workspace or HERE / "_data" / f"query-{args.rows}x{args.per_row}"
    if not (path / "errorscope.duckdb").exists():
        print(f"building {path} ...", flush=True)
        t = time.perf_counter()
        build(path, args.rows, args.per_row)
        print(f"built in {time.perf_counter() - t:.0f} s", flush=True)
    import httpx

    results: list[tuple[str, list[float], float]] = []
    with serve(path) as (base, _), httpx.Client(base_url=base, timeout=900) as client:

        def page(i: int, pages: int) -> None:
            body: dict[str, Any] = {"filter": gallery_filter(i), "sort": "iou:asc", "limit": 50}
            for _ in range(pages):
                r = client.post("/api/runs/bench/rows", json=body)
                r.raise_for_status()
                body["cursor"] = r.json()["next_cursor"]

        results.append(("(a) gallery, first page", timed(lambda i: page(i, 1), args.repeat), 50))
        cursors: dict[int, str] = {}
        for i in range(4):
            body: dict[str, Any] = {"filter": gallery_filter(i), "sort": "iou:asc", "limit": 50}
            for _ in range(199):
                data = client.post("/api/runs/bench/rows", json=body).json()
                body["cursor"] = data["next_cursor"]
            cursors[i] = body["cursor"]

        def page200(i: int) -> None:
            body = {
                "filter": gallery_filter(i % 4),
                "sort": "iou:asc",
                "limit": 50,
                "cursor": cursors[i % 4],
            }
            r = client.post("/api/runs/bench/rows", json=body)
            r.raise_for_status()
            assert r.json()["rows"], "page 200 is empty"

        results.append(("(a) gallery, page 200", timed(page200, args.repeat), 50))

        def classes(i: int) -> None:
            f = json.dumps({"type": "split", "values": ["train" if i % 2 else "valid"]})
            client.get("/api/runs/bench/classes", params={"filter": f}).raise_for_status()

        results.append(("(b) per-class counts + metric bars", timed(classes, args.repeat), 100))

        def histogram(i: int) -> None:
            f = json.dumps({"type": "split", "values": ["train" if i % 2 else "valid"]})
            params = {"filter": f, "metric": "iou", "class_name": f"class_{i % CLASSES}"}
            client.get("/api/runs/bench/histogram", params=params).raise_for_status()

        results.append(("(b) per-class 20-bin histogram", timed(histogram, args.repeat), 100))

        def confusion(i: int) -> None:
            f = json.dumps({"type": "split", "values": ["train" if i % 2 else "valid"]})
            client.get("/api/runs/bench/confusion", params={"filter": f}).raise_for_status()

        results.append(("(c) confusion matrix", timed(confusion, args.repeat), 100))

    with Workspace(path) as ws:
        sdk_first = timed(lambda i: ws.query("bench", gallery_filter(i), sort="iou:asc"), 20)
    print()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"workspace: {path}")
    print(f"{'request':40} {'p50 ms':>8} {'p95 ms':>8} {'target p95':>10}")
    for name, samples, target in results:
        p50, p95 = percentiles(samples)
        verdict = "ok" if p95 <= target else "MISSED"
        print(f"{name:40} {p50:8.1f} {p95:8.1f} {target:>8} ms {verdict}")
    p50, p95 = percentiles(sdk_first)
    print(f"{'SDK in-process, gallery first page':40} {p50:8.1f} {p95:8.1f}")


if __name__ == "__main__":
    main()
