"""Similarity search benchmark: N x 384 synthetic clustered vectors in a real workspace.

Generates N vectors (default 1,000,000) with the structure of real embeddings: 1,000
cluster centres, each point its centre plus a 24-d latent offset mapped through a
random 24 x 384 projection, plus small isotropic noise (isotropic noise alone in 384-d
makes every neighbour equidistant, which no embedding model produces). Adds N text
data rows to a fresh workspace, stores the vectors as a space (SDK ``add_embeddings``),
builds the HNSW index (``build_embedding_index``), then times k=10 queries by raw
vector (held-out points of the same distribution):

* through the SDK (``Workspace.similar``), and
* through the API (``POST /api/embeddings/{space}/similar`` via httpx on the ASGI app
  in-process: routing, validation, JSON, no sockets),

and measures recall@10 against exact search (numpy, cosine) on the same queries, plus
recall of a filtered search (a metadata-free filter: an id range holding 30% of rows).
Reports times, p50/p95 latency, recall and peak RSS.

    python benchmarks/similarity.py [--n 1000000] [--queries 500] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
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

DIM = 384


def generate(n: int, seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(1000, DIM)).astype(np.float32)
    proj = (rng.normal(size=(24, DIM)) / np.sqrt(24)).astype(np.float32)
    out = np.empty((n, DIM), dtype=np.float32)
    step = 100_000
    for s in range(0, n, step):
        m = min(step, n - s)
        c = centres[rng.integers(0, 1000, m)]
        out[s : s + m] = c + 0.8 * (rng.normal(size=(m, 24)).astype(np.float32) @ proj)
        out[s : s + m] += 0.05 * rng.normal(size=(m, DIM)).astype(np.float32)
    return out


def exact_top(
    x: np.ndarray[Any, Any], q: np.ndarray[Any, Any], k: int, ids: np.ndarray[Any, Any]
) -> list[set[int]]:
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    qu = q / np.linalg.norm(q, axis=1, keepdims=True)
    best = np.full((len(q), k), -np.inf, dtype=np.float32)
    best_i = np.zeros((len(q), k), dtype=np.int64)
    for s in range(0, len(x), 200_000):
        sims = qu @ unit[s : s + 200_000].T
        cand = np.concatenate([best, sims], axis=1)
        cand_i = np.concatenate([best_i, np.broadcast_to(ids[s : s + 200_000], sims.shape)], axis=1)
        top = np.argpartition(-cand, k - 1, axis=1)[:, :k]
        best = np.take_along_axis(cand, top, axis=1)
        best_i = np.take_along_axis(cand_i, top, axis=1)
    return [set(r.tolist()) for r in best_i]


def rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def percentiles(times: list[float]) -> tuple[float, float]:
    arr = np.asarray(times) * 1000
    return float(np.percentile(arr, 50)), float(np.percentile(arr, 95))


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
    out["add_rows_s"] = time.perf_counter() - t
    t = time.perf_counter()
    ws.add_embeddings("bench", x, ids=ids.tolist())
    out["store_vectors_s"] = time.perf_counter() - t
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
    parser.add_argument("--queries", type=int, default=500)
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
    x = generate(n + args.queries, args.seed)
    x, queries = x[:n], x[n:]
    print(f"generated {n:,} x {DIM} in {time.perf_counter() - t:.1f} s")
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
        out["open_or_build_index_s"] = time.perf_counter() - t
        print(
            f"{kind} index ready in {out['open_or_build_index_s']:.1f} s; "
            f"peak RSS {rss_gib():.2f} GiB",
            flush=True,
        )

        # SDK latency (warm: one untimed query first)
        ws.similar("bench", vector=queries[0], k=k)
        sdk_times, found = [], []
        for q in queries:
            t = time.perf_counter()
            hits = ws.similar("bench", vector=q, k=k)
            sdk_times.append(time.perf_counter() - t)
            found.append({h.id for h in hits})
        out["sdk_p50_ms"], out["sdk_p95_ms"] = percentiles(sdk_times)

        t = time.perf_counter()
        truth = exact_top(x, queries, k, ids)
        out["exact_s_per_query"] = (time.perf_counter() - t) / len(queries)
        out["recall_at_10"] = float(
            np.mean([len(a & b) / k for a, b in zip(found, truth, strict=True)])
        )

        # filtered: rows in the lowest 30% of ids, exact reference over that subset
        cut = int(ids[int(0.3 * n)])
        subset = ids[ids < cut]
        flt = {"type": "ids", "ids": subset.tolist()}
        fq = queries[:50]
        t = time.perf_counter()
        fh = [{h.id for h in ws.similar("bench", vector=q, k=k, filter=flt)} for q in fq]
        out["filtered_ms_per_query"] = (time.perf_counter() - t) / len(fq) * 1000
        sel = ids < cut
        ftruth = exact_top(x[sel], fq, k, ids[sel])
        out["filtered_recall_at_10"] = float(
            np.mean([len(a & b) / k for a, b in zip(fh, ftruth, strict=True)])
        )
        out["filtered_only_allowed"] = all(h <= set(subset.tolist()) for h in fh)
    # API latency (the workspace reopened by the app; the index loads from disk)
    out["api_p50_ms"], out["api_p95_ms"], out["index_load_s"] = api_latency(path, queries, k)
    out["peak_rss_gib"] = rss_gib()
    tmp.cleanup()
    out["machine"] = f"{platform.node()} {platform.processor() or platform.machine()}"
    print(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


def api_latency(path: Path, queries: np.ndarray[Any, Any], k: int) -> tuple[float, float, float]:
    import httpx

    from errorscope.server import create_app

    app = create_app(path)

    async def run() -> tuple[list[float], float]:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                url = "/api/embeddings/bench/similar"
                t = time.perf_counter()
                r = await client.post(url, json={"vector": queries[0].tolist(), "k": k})
                load = time.perf_counter() - t
                r.raise_for_status()
                times = []
                for q in queries:
                    body = {"vector": q.tolist(), "k": k}
                    t = time.perf_counter()
                    r = await client.post(url, json=body)
                    times.append(time.perf_counter() - t)
                    r.raise_for_status()
                return times, load

    times, load = asyncio.run(run())
    p50, p95 = percentiles(times)
    return p50, p95, load


if __name__ == "__main__":
    sys.exit(main())
