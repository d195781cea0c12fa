"""Nearest-neighbour search over a space's vectors, by cosine distance.

Two indexes with one interface (``fit(X, ids)``, ``search(q, k, allowed=...)``;
:class:`HnswIndex` also ``save(path)`` / ``load(path, X, ids)``):

* :class:`ExactIndex`: brute force with numpy (one matrix product), exact; used for
  small spaces (:data:`EXACT_MAX` vectors or fewer: nothing to persist, it is built in
  milliseconds).
* :class:`HnswIndex`: a faiss HNSW graph over L2-normalised vectors; ``allowed`` becomes
  a faiss ``IDSelectorBatch``. When the allowed set is small (:data:`EXACT_SUBSET_MAX`)
  or the graph walk finds fewer than ``k`` allowed vectors, the search is exact over the
  allowed vectors instead, so a restricted search is never short of results it could
  have had. Vectors of more than :data:`REDUCE_ABOVE` dimensions are indexed after a PCA
  (``faiss.PCAMatrix`` fitted on a sample of :data:`FIT_SAMPLE` rows) to the fewest
  dimensions, a multiple of 16 and at least :data:`MIN_REDUCED`, that keep
  :data:`KEEP_VARIANCE` of the variance (if that is under 3/4 of the dimensions): the
  graph is built and walked by Euclidean distance in that space (for unit vectors the
  order of cosine similarity), ``max(5 k, 64)`` candidates are taken and re-ranked by
  exact cosine similarity on the stored vectors. At 200k x 384 (128 dims kept) the graph
  was built 2.4x faster than over the full vectors, at the same recall after re-ranking
  (benchmarks/RESULTS.md), and the index file holds 3x smaller vectors (the stored ones
  serve the re-ranking). Smaller vectors: ``IndexHNSWFlat`` by inner product, as the
  first version saved them. Either kind of saved file loads (``load`` tells them apart).

Distances are ``1 - cosine similarity`` (0 = same direction, 2 = opposite); a zero
vector has similarity 0 with everything. Results are best first, ties by id.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "EXACT_MAX",
    "EXACT_SUBSET_MAX",
    "FIT_SAMPLE",
    "KEEP_VARIANCE",
    "MIN_REDUCED",
    "REDUCE_ABOVE",
    "ExactIndex",
    "HnswIndex",
    "Index",
    "build_index",
    "normalize",
]

#: Spaces up to this many vectors are searched exactly.
EXACT_MAX = 20_000
#: Restricted searches over up to this many allowed vectors are exact.
EXACT_SUBSET_MAX = 20_000
#: Vectors of more dimensions than this are indexed after a PCA reduction ...
REDUCE_ABOVE = 128
#: ... to the fewest dimensions keeping this share of the variance ...
KEEP_VARIANCE = 0.95
#: ... but no fewer than these.
MIN_REDUCED = 64
#: The PCA is fitted on a seeded sample of at most this many vectors.
FIT_SAMPLE = 20_000

Hits = tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]


def normalize(x: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    out = np.array(x, dtype=np.float32, copy=True, ndmin=2)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    np.divide(out, norms, out=out, where=norms > 0)
    return out


def _top_k(sims: npt.NDArray[np.float32], ids: npt.NDArray[np.int64], k: int) -> Hits:
    """The ``k`` best of one query's similarities, best first, ties by smaller id."""
    k = min(k, len(sims))
    if k <= 0:
        return np.empty(0, np.int64), np.empty(0, np.float32)
    part = np.argpartition(-sims, k - 1)[:k] if k < len(sims) else np.arange(len(sims))
    order = np.lexsort((ids[part], -sims[part]))
    best = part[order]
    return ids[best].astype(np.int64), (1.0 - sims[best]).astype(np.float32)


class ExactIndex:
    """Brute-force cosine search (numpy)."""

    kind = "exact"

    def __init__(self) -> None:
        self.ids: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self.vectors: npt.NDArray[np.float32] = np.empty((0, 0), np.float32)

    def fit(self, x: npt.NDArray[Any], ids: npt.NDArray[np.int64]) -> ExactIndex:
        self.vectors = normalize(x)
        self.ids = np.asarray(ids, dtype=np.int64)
        return self

    def __len__(self) -> int:
        return len(self.ids)

    def search(
        self, q: npt.NDArray[Any], k: int, *, allowed: npt.NDArray[np.int64] | None = None
    ) -> list[Hits]:
        """The ``k`` nearest (among ``allowed`` ids, if given) of each query row."""
        queries = normalize(q)
        if allowed is None:
            vectors, ids = self.vectors, self.ids
        else:
            pos = _positions(self.ids, allowed)
            vectors, ids = self.vectors[pos], self.ids[pos]
        sims = queries @ vectors.T
        return [_top_k(row, ids, k) for row in sims]


def _positions(ids: npt.NDArray[np.int64], allowed: npt.NDArray[np.int64]) -> npt.NDArray[Any]:
    """Positions in ``ids`` (ascending) of the ``allowed`` ids that are there, ascending."""
    allowed = np.asarray(allowed, dtype=np.int64)
    pos = np.searchsorted(ids, allowed)
    ok = pos < len(ids)
    ok[ok] = ids[pos[ok]] == allowed[ok]
    return np.unique(pos[ok])


def reduced_dims(sample: npt.NDArray[np.float32]) -> int:
    """The dimensions the HNSW graph of vectors like ``sample`` (unit rows) is built in."""
    d = int(sample.shape[1])
    if d <= REDUCE_ABOVE or len(sample) < 2:
        return d
    centred = sample - sample.mean(axis=0, dtype=np.float64).astype(np.float32)
    values = np.linalg.eigvalsh((centred.T @ centred).astype(np.float64))[::-1]
    share = np.cumsum(values) / max(float(values.sum()), 1e-30)
    dims = int(np.searchsorted(share, KEEP_VARIANCE)) + 1
    dims = max(MIN_REDUCED, -(-dims // 16) * 16)
    return d if dims * 4 > d * 3 else dims


class HnswIndex:
    """Approximate cosine search with a faiss HNSW graph (``M`` links per node), over a
    PCA reduction with exact re-ranking for wide vectors (see the module docstring)."""

    kind = "hnsw"

    def __init__(
        self, m: int = 32, ef_construction: int = 128, ef_search: int = 64, *, seed: int = 0
    ) -> None:
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.seed = seed
        self.ids: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self.index: Any = None
        self.reduced = False  # a PCA graph whose candidates are re-ranked
        self.graph: Any = None  # the HNSW index searched (``index`` without the PCA)
        self.pca_a: npt.NDArray[np.float32] = np.empty((0, 0), np.float32)  # dims x d
        self.pca_b: npt.NDArray[np.float32] = np.empty(0, np.float32)
        self.raw: npt.NDArray[Any] = np.empty((0, 0), np.float32)  # as given, for subsets

    def fit(self, x: npt.NDArray[Any], ids: npt.NDArray[np.int64]) -> HnswIndex:
        faiss = _faiss()

        self.raw = x
        self.ids = np.asarray(ids, dtype=np.int64)
        n, d = x.shape
        pick = np.arange(n)
        if n > FIT_SAMPLE:
            pick = np.sort(np.random.default_rng(self.seed).choice(n, FIT_SAMPLE, replace=False))
        sample = normalize(x[pick])
        dims = reduced_dims(sample)
        self.reduced = dims < d
        if self.reduced:
            pca = faiss.PCAMatrix(d, dims)
            pca.train(sample)
            graph = faiss.IndexHNSWFlat(dims, self.m)  # Euclidean, in the PCA space
            graph.hnsw.efConstruction = self.ef_construction
            index = faiss.IndexPreTransform(pca, graph)  # keeps references to both
        else:
            index = faiss.IndexHNSWFlat(d, self.m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = self.ef_construction
        step = 100_000
        _progress("building index", 0, n)
        for start in range(0, n, step):
            index.add(normalize(x[start : start + step]))
            _progress("building index", min(start + step, n), n)
        self._set(index)
        return self

    def _set(self, index: Any) -> None:
        """Use ``index`` (an ``IndexHNSWFlat``, or one after a ``PCAMatrix``)."""
        faiss = _faiss()

        self.index = index
        self.reduced = isinstance(index, faiss.IndexPreTransform)
        if not self.reduced:
            self.graph = index
            return
        # the PCA is applied with numpy: faiss's OpenMP/BLAS call for one query costs
        # ~15 ms when the cores are busy, numpy's matrix-vector product microseconds
        pca = faiss.downcast_VectorTransform(index.chain.at(0))
        self.graph = faiss.downcast_index(index.index)
        a = faiss.vector_to_array(pca.A).reshape(pca.d_out, pca.d_in)
        self.pca_a = np.ascontiguousarray(a.T, dtype=np.float32)
        self.pca_b = faiss.vector_to_array(pca.b).astype(np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def _vectors(self, pos: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """The normalised vectors at ``pos``."""
        return normalize(self.raw[pos])

    def _params(self, k: int, selector: Any = None) -> tuple[int, Any]:
        """How many candidates to ask the graph for, and the faiss search parameters."""
        faiss = _faiss()

        wanted = max(5 * k, 64) if self.reduced else k
        ef = max(self.ef_search, wanted + 64) if self.reduced else max(self.ef_search, 2 * k)
        hnsw = faiss.SearchParametersHNSW(efSearch=ef)
        if selector is not None:
            hnsw.sel = selector
        return wanted, hnsw

    def _walk(self, queries: npt.NDArray[np.float32], k: int, selector: Any = None) -> list[Hits]:
        """The graph's ``k`` best for each query (re-ranked exactly if reduced)."""
        wanted, params = self._params(k, selector)
        inputs = queries @ self.pca_a + self.pca_b if self.reduced else queries
        sims, pos = self.graph.search(inputs, min(wanted, len(self.ids)), params=params)
        if not self.reduced:
            return [self._hits(s, p, k) for s, p in zip(sims, pos, strict=True)]
        out = []
        for qv, p in zip(queries, pos, strict=True):
            p = p[p >= 0]
            exact = (self._vectors(p) @ qv).astype(np.float32)
            out.append(self._hits(exact, p, k))
        return out

    def search(
        self, q: npt.NDArray[Any], k: int, *, allowed: npt.NDArray[np.int64] | None = None
    ) -> list[Hits]:
        faiss = _faiss()

        queries = normalize(q)
        k = min(k, len(self.ids))
        if k <= 0:
            return [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in queries]
        if allowed is None:
            return self._walk(queries, k)
        positions = _positions(self.ids, allowed)
        if len(positions) <= EXACT_SUBSET_MAX:
            return self._exact(queries, k, positions)
        selector = faiss.IDSelectorBatch(positions.astype(np.int64))
        out = []
        for qi, found in enumerate(self._walk(queries, k, selector)):
            if len(found[0]) < min(k, len(positions)):
                found = self._exact(queries[qi : qi + 1], k, positions)[0]
            out.append(found)
        return out

    def _hits(self, sims: npt.NDArray[np.float32], pos: npt.NDArray[np.int64], k: int) -> Hits:
        """The ``k`` best of candidates at ``pos`` with cosine similarities ``sims``."""
        keep = pos >= 0
        ids, dist = self.ids[pos[keep]], (1.0 - sims[keep]).astype(np.float32)
        order = np.lexsort((ids, dist))[:k]
        return ids[order], dist[order]

    def _exact(
        self, queries: npt.NDArray[np.float32], k: int, positions: npt.NDArray[Any]
    ) -> list[Hits]:
        vectors = self._vectors(positions)
        ids = self.ids[positions]
        return [_top_k(row, ids, k) for row in queries @ vectors.T]

    def save(self, path: Path) -> None:
        faiss = _faiss()

        faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: Path, x: npt.NDArray[Any], ids: npt.NDArray[np.int64]) -> HnswIndex:
        """The index saved at ``path`` for the vectors ``x`` with ``ids``."""
        faiss = _faiss()

        out = cls()
        index = faiss.read_index(str(path))
        if index.ntotal != len(ids):
            raise ValueError(f"{path} indexes {index.ntotal} vectors, not {len(ids)}")
        out._set(index)
        out.raw = x
        out.ids = np.asarray(ids, dtype=np.int64)
        return out


Index = ExactIndex | HnswIndex


def _faiss() -> Any:
    """faiss (faiss-cpu), imported on first use."""
    return importlib.import_module("faiss")


def _progress(stage: str, done: int, total: int) -> None:
    from errorscope.core.progress import report

    report(stage, done, total)


def build_index(x: npt.NDArray[Any], ids: npt.NDArray[np.int64]) -> Index:
    """Exact for small spaces (:data:`EXACT_MAX`), HNSW otherwise."""
    if len(ids) <= EXACT_MAX:
        return ExactIndex().fit(x, ids)
    return HnswIndex().fit(x, ids)
