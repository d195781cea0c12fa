"""2-D projections of a space for the projector view: PCA and UMAP (fit/transform style).

* :class:`Pca`: PCA with numpy (eigenvectors of the covariance matrix, in chunks so no
  float64 copy of the input is made; fitted on a seeded sample of at most
  :data:`FIT_SAMPLE` rows); always available, the default.
* :class:`Umap`: UMAP (the optional ``umap-learn`` package) fed a precomputed
  neighbour graph: the vectors are first reduced to :data:`PRE_DIMS` dimensions with
  PCA, their ``n_neighbors`` nearest neighbours found with a faiss HNSW index (exact
  for small inputs), and that graph handed to UMAP (``precomputed_knn``), which skips
  UMAP's own NN-descent, the slow part at 100k+ points. ``init="pca"`` replaces the
  spectral initialisation (another slow step at that size). With a ``seed`` the result
  is deterministic: the neighbour graph is then built on one thread (faiss adds points
  to an HNSW graph in a thread-dependent order otherwise) and UMAP itself runs its
  seeded, single-threaded optimisation; without one both use every core.

Both return float32 ``n x 2`` coordinates.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.core.progress import report

__all__ = ["FIT_SAMPLE", "METHODS", "PRE_DIMS", "Pca", "Umap", "project"]

METHODS = ("pca", "umap")
#: UMAP works on a PCA reduction to this many dimensions.
PRE_DIMS = 50
_CHUNK = 65_536


#: PCA is fitted on at most this many rows (a seeded random sample beyond that): the
#: leading axes of 20,000 points are those of the whole to within sampling noise, and
#: the fit then costs the same at 100k or 10M rows (the transform is one pass).
FIT_SAMPLE = 20_000


class Pca:
    """Principal component analysis to ``n_components`` dimensions (fitted on at most
    :data:`FIT_SAMPLE` rows)."""

    def __init__(self, n_components: int = 2, *, seed: int = 0) -> None:
        self.n_components = n_components
        self.seed = seed
        self.mean_: npt.NDArray[np.float64] = np.empty(0)
        self.components_: npt.NDArray[np.float64] = np.empty((0, 0))
        self.explained_variance_: npt.NDArray[np.float64] = np.empty(0)

    def fit(self, x: npt.NDArray[Any]) -> Pca:
        if len(x) > FIT_SAMPLE:
            rng = np.random.default_rng(self.seed)
            x = x[np.sort(rng.choice(len(x), FIT_SAMPLE, replace=False))]
        n, d = x.shape
        total = np.zeros(d)
        for start in range(0, n, _CHUNK):
            total += x[start : start + _CHUNK].sum(axis=0, dtype=np.float64)
        mean = total / max(n, 1)
        cov = np.zeros((d, d))
        mean32 = mean.astype(np.float32)
        for start in range(0, n, _CHUNK):
            block = np.asarray(x[start : start + _CHUNK], dtype=np.float32) - mean32
            cov += (block.T @ block).astype(np.float64)
        cov /= max(n - 1, 1)
        values, vectors = np.linalg.eigh(cov)
        order = np.argsort(values)[::-1][: self.n_components]
        comps = vectors[:, order].T
        # a deterministic sign: the largest component of each axis is positive
        signs = np.sign(comps[np.arange(len(comps)), np.argmax(np.abs(comps), axis=1)])
        signs[signs == 0] = 1
        self.mean_ = mean
        self.components_ = comps * signs[:, None]
        self.explained_variance_ = values[order]
        return self

    def transform(self, x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        out = np.empty((len(x), self.components_.shape[0]), dtype=np.float32)
        comps = self.components_.T.astype(np.float32)
        mean = self.mean_.astype(np.float32)
        for start in range(0, len(x), _CHUNK):
            block = np.asarray(x[start : start + _CHUNK], dtype=np.float32) - mean
            out[start : start + _CHUNK] = block @ comps
        return out

    def fit_transform(self, x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        return self.fit(x).transform(x)


def _knn(
    x: npt.NDArray[np.float32], k: int, *, deterministic: bool = False
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """Each row's ``k`` nearest rows (itself first) by Euclidean distance: exact for up
    to 20,000 rows, from a faiss HNSW graph beyond (built on one thread if
    ``deterministic``)."""
    faiss: Any = importlib.import_module("faiss")

    n, d = x.shape
    if n <= 20_000:
        index: Any = faiss.IndexFlatL2(d)
        index.add(x)
    else:
        index = faiss.IndexHNSWFlat(d, 16)
        index.hnsw.efConstruction = 40
        index.hnsw.efSearch = max(2 * k, 32)
        threads = faiss.omp_get_max_threads()
        if deterministic:
            faiss.omp_set_num_threads(1)
        try:
            index.add(x)
        finally:
            faiss.omp_set_num_threads(threads)
    report("neighbour graph", 0, n)
    dist = np.empty((n, k), dtype=np.float32)
    idx = np.empty((n, k), dtype=np.int64)
    for start in range(0, n, _CHUNK):
        d2, i = index.search(x[start : start + _CHUNK], k)
        dist[start : start + _CHUNK] = d2
        idx[start : start + _CHUNK] = i
        report("neighbour graph", min(start + _CHUNK, n), n)
    # make every row its own first neighbour (as UMAP's own search does)
    rows = np.arange(n)
    self_first = idx[:, 0] == rows
    fix = ~self_first
    if fix.any():
        idx[fix, 1:] = idx[fix, :-1]
        dist[fix, 1:] = dist[fix, :-1]
        idx[fix, 0] = rows[fix]
        dist[fix, 0] = 0
    missing = idx < 0  # HNSW may return fewer than k: repeat the last neighbour found
    if missing.any():
        for r in np.flatnonzero(missing.any(axis=1)):
            good = idx[r] >= 0
            last = np.flatnonzero(good)[-1]
            idx[r, ~good] = idx[r, last]
            dist[r, ~good] = dist[r, last]
    return idx, np.sqrt(np.maximum(dist, 0))


class Umap:
    """UMAP to 2-D over a PCA pre-reduction and a faiss neighbour graph."""

    def __init__(self, n_neighbors: int = 15, min_dist: float = 0.1, seed: int | None = 0):
        self.n_neighbors = n_neighbors
        self.min_dist = min_dist
        self.seed = seed

    def fit_transform(self, x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        n = len(x)
        if n < 4:
            return Pca(2).fit_transform(x) if n else np.empty((0, 2), np.float32)
        with warnings.catch_warnings():  # "Tensorflow not installed; ParametricUMAP ..."
            warnings.simplefilter("ignore", ImportWarning)
            umap: Any = importlib.import_module("umap")

        report("umap", 0, 3)
        dims = min(PRE_DIMS, x.shape[1])
        reduced = Pca(dims).fit_transform(x) if x.shape[1] > dims else np.asarray(x, np.float32)
        k = min(self.n_neighbors, n - 1)
        report("umap", 1, 3)
        idx, dist = _knn(
            np.ascontiguousarray(reduced, dtype=np.float32), k, deterministic=self.seed is not None
        )
        report("umap", 2, 3)
        model = umap.UMAP(
            n_neighbors=k,
            min_dist=self.min_dist,
            n_components=2,
            init="pca" if n > 10 else "random",
            precomputed_knn=(idx, dist, None),
            random_state=self.seed,
            n_jobs=1 if self.seed is not None else -1,
            verbose=False,
        )
        with warnings.catch_warnings():  # "transform will be unavailable": not used
            warnings.filterwarnings("ignore", category=UserWarning, module="umap")
            out = np.asarray(model.fit_transform(reduced), dtype=np.float32)
        report("umap", 3, 3)
        return out


def project(x: npt.NDArray[Any], method: str) -> npt.NDArray[np.float32]:
    """2-D coordinates of the rows of ``x`` by ``method`` (one of :data:`METHODS`)."""
    if method == "pca":
        return Pca(2).fit_transform(x)
    if method == "umap":
        return Umap(seed=None).fit_transform(x)
    raise ValueError(f"unknown projection method {method!r}; methods are {', '.join(METHODS)}")
