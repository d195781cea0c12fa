"""The search indexes and projections of errorscope.embed on their own: HNSW against
exact search (unrestricted, restricted to a large and a small allowed set, after a save
and load; wide vectors over a PCA space with exact re-ranking), and UMAP keeping clusters
apart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from errorscope.embed.index import EXACT_SUBSET_MAX, MIN_REDUCED, ExactIndex, HnswIndex
from errorscope.embed.projection import Umap

pytest.importorskip("faiss")

N, DIM, K = 30_000, 16, 10


def clustered(n: int, seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, DIM))
    return (centres[rng.integers(0, 50, n)] + 0.3 * rng.normal(size=(n, DIM))).astype(np.float32)


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], HnswIndex, ExactIndex]:
    x = clustered(N + 100, 0)
    ids = np.arange(N, dtype=np.int64) * 7 + 3  # ascending, not positions
    return x[:N], x[N:], HnswIndex().fit(x[:N], ids), ExactIndex().fit(x[:N], ids)


def recall(a: list[Any], b: list[Any]) -> float:
    return float(np.mean([len(set(x[0]) & set(y[0])) / K for x, y in zip(a, b, strict=True)]))


def test_hnsw_recall_against_exact(data: Any) -> None:
    _, q, hnsw, exact = data
    got, ref = hnsw.search(q, K), exact.search(q, K)
    assert recall(got, ref) >= 0.99
    for _ids, dist in got:
        assert list(dist) == sorted(dist)


def test_restricted_search_returns_only_allowed_rows(data: Any) -> None:
    _, q, hnsw, exact = data
    everything = hnsw.ids
    large = everything[: int(0.8 * N)]
    assert len(large) > EXACT_SUBSET_MAX  # the graph walk with a faiss IDSelector
    got, ref = hnsw.search(q, K, allowed=large), exact.search(q, K, allowed=large)
    allowed = set(large.tolist())
    assert all(set(ids.tolist()) <= allowed for ids, _ in got)
    assert recall(got, ref) >= 0.99
    small = everything[::97]  # exact over the subset: identical to brute force
    got, ref = hnsw.search(q, K, allowed=small), exact.search(q, K, allowed=small)
    for (gi, gd), (ri, rd) in zip(got, ref, strict=True):
        assert gi.tolist() == ri.tolist()
        assert np.allclose(gd, rd, atol=1e-5)


def test_saved_index_answers_the_same(data: Any, tmp_path: Path) -> None:
    x, q, hnsw, _ = data
    hnsw.save(tmp_path / "index.faiss")
    again = HnswIndex.load(tmp_path / "index.faiss", x, hnsw.ids)
    for (a, _), (b, _) in zip(hnsw.search(q, K), again.search(q, K), strict=True):
        assert a.tolist() == b.tolist()
    with pytest.raises(ValueError, match="indexes"):
        HnswIndex.load(tmp_path / "index.faiss", x[:10], hnsw.ids[:10])


def test_umap_keeps_clusters_apart() -> None:
    pytest.importorskip("umap")
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 40)) * 4
    labels = rng.integers(0, 3, 600)
    x = (centres[labels] + rng.normal(size=(600, 40))).astype(np.float32)
    xy = Umap(seed=0).fit_transform(x)
    assert xy.shape == (600, 2)
    # each point's nearest 2-D neighbour is of its own cluster
    d = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    assert np.mean(labels[d.argmin(axis=1)] == labels) >= 0.98


def test_wide_vectors_are_searched_in_a_pca_space_and_reranked(tmp_path: Path) -> None:
    """Over REDUCE_ABOVE dimensions the graph is built after a PCA; candidates are
    re-ranked by exact cosine, so distances are exact and recall stays >= 0.99."""
    rng = np.random.default_rng(3)
    dim, n = 256, 25_000
    basis = np.linalg.qr(rng.normal(size=(dim, 24)))[0].T
    centres = rng.normal(size=(200, 24))
    x = centres[rng.integers(0, 200, n + 100)] + 0.5 * rng.normal(size=(n + 100, 24))
    x = (x @ basis + 0.03 * rng.normal(size=(n + 100, dim))).astype(np.float32)
    base, q = x[:n], x[n:]
    ids = np.arange(n, dtype=np.int64) * 2 + 5
    hnsw, exact = HnswIndex().fit(base, ids), ExactIndex().fit(base, ids)
    assert hnsw.reduced
    assert hnsw.graph.d == MIN_REDUCED < dim
    got, ref = hnsw.search(q, K), exact.search(q, K)
    assert recall(got, ref) >= 0.99
    for (gi, gd), (ri, rd) in zip(got, ref, strict=True):
        if gi.tolist() == ri.tolist():
            assert np.allclose(gd, rd, atol=1e-5)  # exact distances after re-ranking
    allowed = ids[: int(0.9 * n)]
    got = hnsw.search(q, K, allowed=allowed)
    assert recall(got, exact.search(q, K, allowed=allowed)) >= 0.99
    assert all(set(g.tolist()) <= set(allowed.tolist()) for g, _ in got)
    hnsw.save(tmp_path / "index.faiss")
    again = HnswIndex.load(tmp_path / "index.faiss", base, ids)
    assert again.reduced
    for (a, da), (b, db) in zip(hnsw.search(q, K), again.search(q, K), strict=True):
        assert a.tolist() == b.tolist()
        assert np.allclose(da, db)
