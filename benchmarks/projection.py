"""Projection benchmark: PCA and UMAP of N x 384 synthetic clustered vectors.

Same generator as ``benchmarks/similarity.py`` (3,000 clusters in a 64-d subspace, 12-d
local structure, isotropic noise, unit vectors). Each method runs in a fresh process
(so peak RSS is its own) through :func:`errorscope.embed.projection.project`, the code
behind ``Workspace.projection``, or umap-learn directly for the reference:

* ``pca``: PCA with numpy, fitted on a 20k sample (the default method);
* ``umap``: errorscope's path: PCA to 50 dims, a faiss HNSW 15-NN graph, UMAP on that
  graph (``precomputed_knn``, PCA initialisation, every core);
* ``umap-seeded``: the same with a seed (deterministic: one thread for the graph and
  UMAP's seeded single-threaded optimisation);
* ``umap-plain``: ``umap.UMAP()`` on the 384-d vectors as umap-learn does it alone
  (NN-descent, spectral initialisation), the reference the faster path is measured
  against.

numba compiles UMAP's kernels on first use in a process; the UMAP figures include it
(``--warm`` runs the method once on 2,000 points first and reports the time without
it). Stage times of errorscope's path come from its progress reports. Trustworthiness
(scikit-learn, 10 neighbours, on a 5,000-point sample) says how well each method's 2-D
neighbours were neighbours in 384-d (1 = all).

    python benchmarks/projection.py [--n 100000] [--methods pca,umap,umap-plain] [--warm]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from similarity import generate


def _run(method: str, x: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    from errorscope.embed.projection import Umap, project

    if method == "umap-seeded":
        return Umap(seed=0).fit_transform(x)
    if method != "umap-plain":
        return project(x, method)
    import umap

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(umap.UMAP(n_neighbors=15, min_dist=0.1).fit_transform(x))


def one(method: str, n: int, seed: int, warm: bool) -> dict[str, Any]:
    from errorscope.core.progress import progress_to

    x = generate(n, seed)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    warm_s = 0.0
    if warm and method != "pca":
        t = time.perf_counter()
        _run(method, x[:2000])
        warm_s = time.perf_counter() - t
    stages: dict[str, float] = {}
    t = time.perf_counter()

    def mark(stage: str, done: int, total: int) -> None:
        if stage == "umap":
            stages[f"umap {done}/{total}"] = round(time.perf_counter() - t, 2)

    with progress_to(mark):
        xy = _run(method, x)
    wall = time.perf_counter() - t
    assert xy.shape == (n, 2)
    assert np.isfinite(xy).all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    from sklearn.manifold import trustworthiness

    sample = np.random.default_rng(1).choice(n, min(n, 5000), replace=False)
    trust = trustworthiness(x[sample], xy[sample], n_neighbors=10)
    return {
        "method": method,
        "n": n,
        "wall_s": round(wall, 2),
        "warmup_s": round(warm_s, 2),
        # errorscope's UMAP: seconds at which PCA-50 (1/3), the graph (2/3), UMAP (3/3) ended
        "stages_s": stages,
        "trustworthiness": round(float(trust), 4),
        "input_rss_gib": round(before, 2),
        "peak_rss_gib": round(peak, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--methods", default="pca,umap,umap-plain")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warm", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one(args.child, args.n, args.seed, args.warm)))
        return
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    for method in args.methods.split(","):
        cmd = [sys.executable, __file__, "--child", method, "--n", str(args.n)]
        cmd += ["--seed", str(args.seed)] + (["--warm"] if args.warm else [])
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        print(done.stdout.strip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
