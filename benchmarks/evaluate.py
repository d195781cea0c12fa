"""COCO evaluation benchmark: errorscope vs pycocotools vs faster-coco-eval, in one run.

Builds a synthetic COCO set (default 5,000 images, ~35k ground truth, ~100k scored
detections over 10 classes; a few crowd boxes, areas across small/medium/large, up to
~120 detections on some images), evaluates it with all three tools, asserts that the 12
stats agree (1e-6) and prints the times and ratios. Timed: the evaluation proper —
``evaluate() + accumulate() + summarize()`` for the reference tools on their loaded
``COCO`` objects, ``evaluate_coco`` on columnar arrays for errorscope (its input as
read from a workspace); the reference tools' loading is reported separately. numba's
compilation is excluded (it is cached on disk after the first run) and reported.

    python benchmarks/evaluate.py [--images 5000] [--repeat 5] [--seed 0]
    python benchmarks/evaluate.py --scale 1000000   # errorscope alone: wall time, peak RSS

``--scale N`` evaluates N images (~7 N ground truth, ~20 N detections) with errorscope
alone in a fresh process and reports wall time and peak RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

from errorscope.core.cocoeval import STAT_NAMES, CocoObjects, evaluate_coco

CLASSES = 10
SIDE = 640.0


def generate(n_img: int, seed: int) -> tuple[CocoObjects, CocoObjects, np.ndarray]:
    """~7 ground-truth boxes and ~20 detections per image, as columnar arrays."""
    rng = np.random.default_rng(seed)
    n_gt_per = rng.poisson(7.0, n_img)
    g_img = np.repeat(np.arange(1, n_img + 1, dtype=np.int64), n_gt_per)
    n_gt = len(g_img)
    g_cls = rng.integers(1, CLASSES + 1, n_gt).astype(np.int64)
    # sizes log-uniform from 4 to 400 px: all three area ranges are populated
    wh = np.exp(rng.uniform(np.log(4.0), np.log(400.0), (n_gt, 2)))
    xy = rng.uniform(0.0, 1.0, (n_gt, 2)) * (SIDE - wh)
    g_box = np.round(np.concatenate([xy, wh], axis=1), 2)
    g_crowd = rng.random(n_gt) < 0.01
    g_area = g_box[:, 2] * g_box[:, 3] * rng.uniform(0.6, 1.0, n_gt)  # like a mask area

    # detections: jittered copies of ground truth (some with the wrong class) plus
    # background boxes, with continuous scores; true matches score higher on average
    n_true = int(n_gt * 1.3)
    src = rng.integers(0, n_gt, n_true)
    jit = rng.normal(0.0, 0.05, (n_true, 4)) * np.repeat(g_box[src, 2:], 2, axis=1)
    t_box = g_box[src] + jit
    t_box[:, 2:] = np.maximum(t_box[:, 2:], 1.0)
    t_cls = np.where(rng.random(n_true) < 0.1, rng.integers(1, CLASSES + 1, n_true), g_cls[src])
    t_img = g_img[src]
    t_score = np.clip(rng.beta(4, 2, n_true), 0.001, 1.0)
    n_bg = int(n_img * 20 - n_true) if n_img * 20 > n_true else 0
    b_img = rng.integers(1, n_img + 1, n_bg).astype(np.int64)
    b_wh = np.exp(rng.uniform(np.log(4.0), np.log(400.0), (n_bg, 2)))
    b_box = np.concatenate([rng.uniform(0.0, 1.0, (n_bg, 2)) * (SIDE - b_wh), b_wh], axis=1)
    b_cls = rng.integers(1, CLASSES + 1, n_bg)
    b_score = np.clip(rng.beta(1.5, 5, n_bg), 0.001, 1.0)
    # ~1% of the images get a burst of 150 more detections (maxDets 100 matters)
    burst = rng.choice(n_img, max(n_img // 100, 1), replace=False) + 1
    u_img = np.repeat(burst, 150).astype(np.int64)
    u_wh = np.exp(rng.uniform(np.log(8.0), np.log(200.0), (len(u_img), 2)))
    u_box = np.concatenate([rng.uniform(0.0, 1.0, (len(u_img), 2)) * (SIDE - u_wh), u_wh], 1)
    u_cls = rng.integers(1, 3, len(u_img))
    u_score = rng.random(len(u_img))

    d_img = np.concatenate([t_img, b_img, u_img])
    order = np.argsort(d_img, kind="stable")  # results files list images in order
    d_box = np.round(np.concatenate([t_box, b_box, u_box])[order], 2)
    d_score = np.round(np.concatenate([t_score, b_score, u_score])[order], 5)
    d_cls = np.concatenate([t_cls, b_cls, u_cls])[order].astype(np.int64)
    d_img = d_img[order]
    gt = CocoObjects(g_img, g_cls, g_box, g_area, g_crowd, None)
    dt = CocoObjects(
        d_img, d_cls, d_box, d_box[:, 2] * d_box[:, 3], np.zeros(len(d_img), bool), d_score
    )
    return gt, dt, np.arange(1, n_img + 1, dtype=np.int64)


def coco_documents(
    gt: CocoObjects, dt: CocoObjects, images: np.ndarray
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    assert dt.score is not None
    doc = {
        "images": [{"id": int(i), "width": int(SIDE), "height": int(SIDE)} for i in images],
        "categories": [{"id": c, "name": f"class_{c}"} for c in range(1, CLASSES + 1)],
        "annotations": [
            {"id": k + 1, "image_id": i, "category_id": c, "bbox": b, "area": a, "iscrowd": int(z)}
            for k, (i, c, b, a, z) in enumerate(
                zip(
                    gt.image_id.tolist(),
                    gt.class_id.tolist(),
                    gt.boxes.tolist(),
                    gt.area.tolist(),
                    gt.iscrowd.tolist(),
                    strict=True,
                )
            )
        ],
    }
    results = [
        {"image_id": i, "category_id": c, "bbox": b, "score": s}
        for i, c, b, s in zip(
            dt.image_id.tolist(),
            dt.class_id.tolist(),
            dt.boxes.tolist(),
            dt.score.tolist(),
            strict=True,
        )
    ]
    return doc, results


def run_reference(
    name: str, doc: dict[str, Any], results: list[dict[str, Any]]
) -> tuple[np.ndarray, float, float]:
    """(stats, load seconds, evaluate+accumulate+summarize seconds)."""
    if name == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval as Eval
    else:
        from faster_coco_eval import COCO
        from faster_coco_eval import COCOeval_faster as Eval
    with contextlib.redirect_stdout(io.StringIO()):
        t0 = time.perf_counter()
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(doc))
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(json.loads(json.dumps(results)))
        t1 = time.perf_counter()
        ev = Eval(coco_gt, coco_dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        t2 = time.perf_counter()
    return np.asarray(ev.stats, dtype=np.float64), t1 - t0, t2 - t1


def compare(args: argparse.Namespace) -> None:
    gt, dt, images = generate(args.images, args.seed)
    print(
        f"synthetic set: {len(images):,} images, {len(gt):,} ground truth "
        f"({int(gt.iscrowd.sum())} crowd), {len(dt):,} detections, {CLASSES} classes"
    )
    t0 = time.perf_counter()
    evaluate_coco(gt, dt, image_ids=images[:50])  # numba: load or compile the kernels
    warm = time.perf_counter() - t0
    times = []
    ours = None
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ours = evaluate_coco(gt, dt, image_ids=images)
        times.append(time.perf_counter() - t0)
    assert ours is not None
    es_time = min(times)

    doc, results = coco_documents(gt, dt, images)
    rows = [("errorscope", ours.stats, 0.0, es_time)]
    for name in ("pycocotools", "faster-coco-eval"):
        best = None
        for _ in range(1 if name == "pycocotools" else args.repeat):
            stats, load, ev_time = run_reference(name, doc, results)
            if best is None or ev_time < best[2]:
                best = (stats, load, ev_time)
        assert best is not None
        rows.append((name, *best))

    for name, stats, _, _ in rows[1:]:
        diff = float(np.max(np.abs(stats - ours.stats)))
        assert diff <= 1e-6, f"{name} differs from errorscope by {diff}"
    print(f"stats agree within 1e-6 (numba warm-up / compile: {warm:.2f} s, not counted)")
    print(
        "stats: " + ", ".join(f"{n} {v:.4f}" for n, v in zip(STAT_NAMES, ours.stats, strict=True))
    )
    print()
    print("| tool | evaluate s | load s | errorscope speed-up |")
    print("|---|---:|---:|---:|")
    for name, _, load, ev_time in rows:
        ratio = ev_time / es_time
        load_s = "—" if name == "errorscope" else f"{load:.2f}"
        print(f"| {name} | {ev_time:.3f} | {load_s} | {ratio:.1f}x |")
    print(f"\nerrorscope runs: {', '.join(f'{t:.3f}' for t in times)} s")
    print(f"machine: {platform.machine()}, {platform.python_version()}, numpy {np.__version__}")


def scale(args: argparse.Namespace) -> None:
    if not args.child:
        cmd = [sys.executable, __file__, "--scale", str(args.scale), "--child"]
        subprocess.run(cmd, check=True)
        return
    t0 = time.perf_counter()
    gt, dt, images = generate(args.scale, args.seed)
    gen = time.perf_counter() - t0
    rss_gen = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    evaluate_coco(gt, dt, image_ids=images[:50])
    t0 = time.perf_counter()
    result = evaluate_coco(gt, dt, image_ids=images)
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"scale: {len(images):,} images, {len(gt):,} ground truth, {len(dt):,} detections\n"
        f"generate {gen:.1f} s (peak RSS {rss_gen:.2f} GiB); evaluate_coco {wall:.1f} s; "
        f"peak RSS {rss:.2f} GiB; AP {result.stats[0]:.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scale:
        scale(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
