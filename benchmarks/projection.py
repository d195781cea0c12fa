"""Projection benchmark: PCA and UMAP of N x 384 synthetic clustered vectors.

Same generator as ``benchmarks/similarity.py`` (1,000 clusters, 24-d latent structure,
small noise). Each method runs in a fresh process (so peak RSS is its own) through
:func:`errorscope.embed.projection.project`, the code behind ``Workspace.projection``:

* ``pca``: exact PCA with numpy (the default method);
* ``umap``: PCA to 50 dims, a faiss HNSW 15-NN graph, UMAP on that graph
  (``precomputed_knn``, PCA initialisation).

numba compiles UMAP's kernels on first use in a process; the ``umap`` figure includes
it (``--warm`` runs UMAP once on 2,000 points first and reports the time without it).

    python benchmarks/projection.py [--n 100000] [--methods pca,umap] [--warm]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from similarity import generate


def one(method: str, n: int, seed: int, warm: bool) -> dict[str, float | str]:
    from errorscope.embed.projection import project

    x = generate(n, seed)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    warm_s = 0.0
    if warm and method == "umap":
        t = time.perf_counter()
        project(x[:2000], method)
        warm_s = time.perf_counter() - t
    t = time.perf_counter()
    xy = project(x, method)
    wall = time.perf_counter() - t
    assert xy.shape == (n, 2)
    assert np.isfinite(xy).all()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {
        "method": method,
        "n": n,
        "wall_s": round(wall, 2),
        "warmup_s": round(warm_s, 2),
        "input_rss_gib": round(before, 2),
        "peak_rss_gib": round(peak, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--methods", default="pca,umap")
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
        print(done.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    main()
