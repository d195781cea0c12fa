"""errorscope.embed.projection on its own: PCA against an SVD, the faiss neighbour graph
against exact neighbours, and the fast UMAP path (PCA to 50 dims + faiss graph fed to
umap-learn as ``precomputed_knn``) against plain UMAP by trustworthiness (how well each
point's 2-D neighbours were its neighbours in the input), seeded runs repeatable."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from errorscope.embed.projection import PRE_DIMS, Pca, Umap, _knn

pytest.importorskip("faiss")


def clustered(n: int, dim: int, seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """Unit vectors in clusters with a low-rank structure plus noise (like sentence
    embeddings): 40 centres in a random 16-d subspace, 4-d spread, isotropic noise."""
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.normal(size=(dim, 16)))[0].T
    centres = rng.normal(size=(40, 16))
    local = rng.normal(size=(40, 4, 16)) / 4
    c = rng.integers(0, 40, n)
    z = rng.normal(size=(n, 4))
    x = (centres[c] + np.einsum("mi,mij->mj", z, local[c])) @ basis
    x += 0.05 * rng.normal(size=(n, dim))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_pca_matches_svd() -> None:
    x = clustered(3000, 64, 0)
    xy = Pca(2).fit_transform(x)
    centred = x.astype(np.float64) - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    ref = centred @ vt[:2].T
    for axis in range(2):  # equal up to the sign of each axis
        corr = np.corrcoef(xy[:, axis], ref[:, axis])[0, 1]
        assert abs(corr) > 0.9999


def test_faiss_graph_finds_the_exact_neighbours() -> None:
    x = Pca(PRE_DIMS).fit_transform(clustered(25_000, 128, 1))  # > 20k rows: HNSW
    k = 15
    idx, dist = _knn(np.ascontiguousarray(x), k, deterministic=True)
    assert idx.shape == dist.shape == (len(x), k)
    assert (idx[:, 0] == np.arange(len(x))).all()
    assert (dist[:, 0] == 0).all()
    assert (np.diff(dist, axis=1) >= -1e-4).all()  # nearest first
    sample = np.random.default_rng(0).choice(len(x), 300, replace=False)
    d2 = (x**2).sum(1)[None, :] - 2 * x[sample] @ x.T  # + |x_sample|^2, same per row
    exact = np.argsort(d2, axis=1)[:, :k]
    recall = np.mean([len(set(a) & set(b)) / k for a, b in zip(idx[sample], exact, strict=True)])
    assert recall >= 0.98
    again, _ = _knn(np.ascontiguousarray(x), k, deterministic=True)
    assert (again == idx).all()  # one thread: the same graph every time


def test_fast_umap_keeps_neighbours_like_plain_umap() -> None:
    umap = pytest.importorskip("umap")
    from sklearn.manifold import trustworthiness

    x = clustered(2500, 384, 2)
    fast = Umap(seed=0).fit_transform(x)
    assert fast.shape == (len(x), 2)
    assert fast.dtype == np.float32
    assert (Umap(seed=0).fit_transform(x) == fast).all()  # seeded: repeatable
    plain = umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=0, n_jobs=1).fit_transform(x)
    t_fast = trustworthiness(x, fast, n_neighbors=10)
    t_plain = trustworthiness(x, plain, n_neighbors=10)
    t_pca = trustworthiness(x, Pca(2).fit_transform(x), n_neighbors=10)
    assert t_fast >= t_plain - 0.02
    assert t_fast > t_pca + 0.05  # UMAP keeps far more local structure than 2 PCA axes
