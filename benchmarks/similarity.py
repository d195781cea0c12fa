"""Similarity search benchmark: N x 384 synthetic clustered vectors in a real workspace.

The vectors (default N = 1,000,000, plus held-out queries) have the structure of real
sentence embeddings, not uniform noise (in which every neighbour is equidistant):

* a random 64-d subspace of the 384-d space holds 3,000 cluster centres (standard
  normal in the subspace's coordinates), with uneven cluster sizes (Dirichlet(0.7)
  weights: a few large topics, many small ones);
* each cluster varies along its own random 12 directions inside that subspace (a low
  local intrinsic dimension), with a per-cluster spread (2 x U(0.5, 1.5));
* isotropic Gaussian noise (sigma 0.15 per dimension) over all 384 dimensions;
* every vector L2-normalised (as sentence-transformers models output them).

At 100k points this gives a median cosine similarity of 0.80 to the nearest neighbour,
0.68 to the 10th and 0.00 (5-95%: -0.19..0.19) between random pairs, close to what
MiniLM gives on real text. The top 64 principal axes hold ~94% of the variance, the
rest is spread evenly (the noise). The matrix is cached under ``benchmarks/_data``.

Adds N text data rows to a fresh workspace, stores the vectors as a space (SDK
``add_embeddings``), builds the search index (``build_embedding_index``: the faiss HNSW
graph, over a PCA reduction with exact re-ranking, see errorscope.embed.index) and
saves it, then times k=10 queries by raw vector (held-out points of the distribution):

* through the SDK (``Workspace.similar``), and
* through the API: the real server (``errorscope serve``, uvicorn) in its own process on
  loopback, ``POST /api/embeddings/{space}/similar`` with httpx and keep-alive;

recall@10 against exact search (faiss ``IndexFlatIP`` brute force over the unit
vectors) on the same queries, and a filtered search (an id filter holding 30% of the
rows) against exact search over that subset. Reports build time, index file size,
p50/p95 latency, recall and peak RSS (of this process, and of the server).

    python benchmarks/similarity.py [--n 1000000] [--queries 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

import errorscope as es
from errorscope.core.progress import progress_to
from liveserver import serve

DIM = 384
RANK, CLUSTERS, LOCAL, SPREAD, NOISE = 64, 3000, 12, 2.0, 0.15
DATA = Path(__file__).resolve().parent / "_data"


def generate(n: int, seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """``n`` unit vectors of the distribution described in the module docstring."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(DIM, RANK)))[0].T.astype(np.float32)
    centres = rng.normal(size=(CLUSTERS, RANK)).astype(np.float32)
    local = (rng.normal(size=(CLUSTERS, LOCAL, RANK)) / np.sqrt(RANK)).astype(np.float32)
    spread = (SPREAD * rng.uniform(0.5, 1.5, CLUSTERS)).astype(np.float32)
    weights = rng.dirichlet(np.full(CLUSTERS, 0.7))
    out = np.empty((n, DIM), dtype=np.float32)
    step = 50_000
    for s in range(0, n, step):
        m = min(step, n - s)
        c = rng.choice(CLUSTERS, m, p=weights)
        z = rng.normal(size=(m, LOCAL)).astype(np.float32) * spread[c, None]
        latent = centres[c] + np.einsum("mi,mij->mj", z, local[c])
        x = latent @ basis + NOISE * rng.normal(size=(m, DIM)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        out[s : s + m] = x
    return out


def cached(n: int, seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """:func:`generate`, kept in ``benchmarks/_data`` (memory-mapped when read back)."""
    path = DATA / f"vectors-{n}x{DIM}-seed{seed}-v2.npy"
    if not path.exists():
        DATA.mkdir(exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, generate(n, seed))
        tmp.replace(path)
    out: np.ndarray[Any, np.dtype[np.float32]] = np.load(path, mmap_mode="r")
    return out


def exact_top(
    x: np.ndarray[Any, Any], q: np.ndarray[Any, Any], k: int, ids: np.ndarray[Any, Any]
) -> list[set[int]]:
    """The ids of each query's ``k`` most cosine-similar rows (faiss brute force)."""
    import faiss

    index = faiss.IndexFlatIP(x.shape[1])
    for s in range(0, len(x), 200_000):
        block = np.asarray(x[s : s + 200_000], dtype=np.float32)
        index.add(block / np.linalg.norm(block, axis=1, keepdims=True))
    qu = np.asarray(q, dtype=np.float32)
    _, pos = index.search(qu / np.linalg.norm(qu, axis=1, keepdims=True), k)
    return [set(ids[p[p >= 0]].tolist()) for p in pos]


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def percentiles(times: list[float]) -> tuple[float, float]:
    arr = np.asarray(times) * 1000
    return round(float(np.percentile(arr, 50)), 3), round(float(np.percentile(arr, 95)), 3)


def build(ws: es.Workspace, x: np.ndarray[Any, Any], out: dict[str, Any]) -> np.ndarray[Any, Any]:
    """Add the rows and store the vectors as space ``bench``; returns the row ids."""
    n = len(x)
    t = time.perf_counter()
    rows = pa.table(
        {
            "global_key": [f"r{i}" for i in range(n)],
            "media_type": ["text"] * n,
            "text": [""] * n,
        }
    )
    ids = np.asarray(ws.add_data_rows(rows), dtype=np.int64)
    out["add_rows_s"] = round(time.perf_counter() - t, 1)
    t = time.perf_counter()
    ws.add_embeddings("bench", np.asarray(x), ids=ids.tolist())
    out["store_vectors_s"] = round(time.perf_counter() - t, 1)
    print(f"rows {out['add_rows_s']:.1f} s, vectors {out['store_vectors_s']:.1f} s", flush=True)
    return ids


def _printer() -> Callable[[str, int, int], None]:
    last: dict[str, float] = {}

    def show(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last.get(stage, 0.0) > 30 or done == total:
            last[stage] = now
            print(f"  {stage}: {done:,}/{total:,} ({time.strftime('%H:%M:%S')})", flush=True)

    return show


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workspace",
        type=Path,
        help="Keep the workspace here (and reuse its space and index if it has them).",
    )
    args = parser.parse_args()
    n, k = args.n, 10
    print(f"python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    t = time.perf_counter()
    both = cached(n + args.queries, args.seed)
    x, queries = both[:n], np.asarray(both[n:])
    print(f"{n:,} x {DIM} vectors ready in {time.perf_counter() - t:.1f} s", flush=True)
    out: dict[str, Any] = {"n": n, "dim": DIM, "queries": args.queries}
    tmp = tempfile.TemporaryDirectory()
    path = args.workspace or Path(tmp.name) / "ws"
    reuse = path.exists()
    with es.open_workspace(path) as ws, progress_to(_printer()):
        if reuse:
            ids = np.asarray(ws.data_rows().column("id").to_numpy(), dtype=np.int64)
        else:
            ids = build(ws, x, out)
        t = time.perf_counter()
        kind = ws.build_embedding_index("bench")
        out["index"] = kind
        out["build_or_load_index_s"] = round(time.perf_counter() - t, 1)
        files = list(path.rglob("index.faiss"))
        out["index_file_gib"] = round(sum(f.stat().st_size for f in files) / 2**30, 3)
        print(
            f"{kind} index ready in {out['build_or_load_index_s']:.1f} s; "
            f"peak RSS {rss_gib():.2f} GiB",
            flush=True,
        )

        ws.similar("bench", vector=queries[0], k=k)  # warm: one untimed query first
        sdk_times, found = [], []
        for q in queries:
            t = time.perf_counter()
            hits = ws.similar("bench", vector=q, k=k)
            sdk_times.append(time.perf_counter() - t)
            found.append({h.id for h in hits})
        out["sdk_p50_ms"], out["sdk_p95_ms"] = percentiles(sdk_times)

        t = time.perf_counter()
        truth = exact_top(x, queries, k, ids)
        out["exact_s"] = round(time.perf_counter() - t, 1)
        out["recall_at_10"] = round(
            float(np.mean([len(a & b) / k for a, b in zip(found, truth, strict=True)])), 4
        )
        print(
            f"SDK p50/p95 {out['sdk_p50_ms']}/{out['sdk_p95_ms']} ms, recall@10 "
            f"{out['recall_at_10']}",
            flush=True,
        )

        # filtered: rows in the lowest 30% of ids, exact reference over that subset
        cut = int(ids[int(0.3 * n)])
        sel = ids < cut
        flt = {"type": "ids", "ids": ids[sel].tolist()}
        fq = queries[:20]
        t = time.perf_counter()
        fh = [{h.id for h in ws.similar("bench", vector=q, k=k, filter=flt)} for q in fq]
        out["filtered_ms_per_query"] = round((time.perf_counter() - t) / len(fq) * 1000, 1)
        ftruth = exact_top(x[sel], fq, k, ids[sel])
        out["filtered_recall_at_10"] = round(
            float(np.mean([len(a & b) / k for a, b in zip(fh, ftruth, strict=True)])), 4
        )
        out["filtered_only_allowed"] = all(max(h) < cut for h in fh)
    out["peak_rss_gib"] = round(rss_gib(), 2)
    # API latency: the real server in its own process (it loads the saved index)
    api = api_latency(path, queries, k)
    out.update(api)
    tmp.cleanup()
    out["machine"] = f"{platform.node()} {platform.processor() or platform.machine()}"
    print(json.dumps(out, indent=2))


def _peak_rss_gib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 2**20, 2)
    return float("nan")


def api_latency(path: Path, queries: np.ndarray[Any, Any], k: int) -> dict[str, float]:
    import httpx

    with serve(path) as (base, pid), httpx.Client(base_url=base, timeout=600) as client:
        url = "/api/embeddings/bench/similar"
        t = time.perf_counter()
        client.post(url, json={"vector": queries[0].tolist(), "k": k}).raise_for_status()
        load = time.perf_counter() - t  # the server opens the space and loads its index
        times = []
        for q in queries:
            body = {"vector": q.tolist(), "k": k}
            t = time.perf_counter()
            r = client.post(url, json=body)
            times.append(time.perf_counter() - t)
            r.raise_for_status()
        p50, p95 = percentiles(times)
        rss = _peak_rss_gib(pid)
    return {
        "api_p50_ms": p50,
        "api_p95_ms": p95,
        "api_first_query_s": round(load, 2),
        "server_peak_rss_gib": rss,
    }


if __name__ == "__main__":
    sys.exit(main())
