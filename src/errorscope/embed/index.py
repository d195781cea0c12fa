"""Nearest-neighbour search over a space's vectors, by cosine distance.

Two indexes with one interface (``fit(X, ids)``, ``search(q, k, allowed=...)``;
:class:`HnswIndex` also ``save(path)`` / ``load(path, X, ids)``):

* :class:`ExactIndex`: brute force with numpy (one matrix product), exact; used for
  small spaces (:data:`EXACT_MAX` vectors or fewer: nothing to persist, it is built in
  milliseconds).
* :class:`HnswIndex`: faiss ``IndexHNSWFlat`` over L2-normalised vectors with inner
  product (= cosine similarity); ``allowed`` becomes a faiss ``IDSelectorBatch``. When
  the allowed set is small (:data:`EXACT_SUBSET_MAX`) or the graph walk finds fewer than
  ``k`` allowed vectors, the search is exact over the allowed vectors instead, so a
  restricted search is never short of results it could have had.

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


class HnswIndex:
    """Approximate cosine search with a faiss HNSW graph (``M`` links per node)."""

    kind = "hnsw"

    def __init__(self, m: int = 32, ef_construction: int = 80, ef_search: int = 64) -> None:
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.ids: npt.NDArray[np.int64] = np.empty(0, np.int64)
        self.index: Any = None
        self.raw: npt.NDArray[Any] = np.empty((0, 0), np.float32)  # as given, for subsets

    def fit(self, x: npt.NDArray[Any], ids: npt.NDArray[np.int64]) -> HnswIndex:
        faiss = _faiss()

        self.raw = x
        self.ids = np.asarray(ids, dtype=np.int64)
        index = faiss.IndexHNSWFlat(x.shape[1], self.m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = self.ef_construction
        step = 100_000
        for start in range(0, len(x), step):
            index.add(normalize(x[start : start + step]))
            _progress("building index", min(start + step, len(x)), len(x))
        self.index = index
        return self

    def __len__(self) -> int:
        return len(self.ids)

    def _vectors(self, pos: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        """The normalised vectors at ``pos``."""
        return normalize(self.raw[pos])

    def search(
        self, q: npt.NDArray[Any], k: int, *, allowed: npt.NDArray[np.int64] | None = None
    ) -> list[Hits]:
        faiss = _faiss()

        queries = normalize(q)
        k = min(k, len(self.ids))
        if k <= 0:
            return [(np.empty(0, np.int64), np.empty(0, np.float32)) for _ in queries]
        if allowed is None:
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
            sims, pos = self.index.search(queries, k, params=params)
            return [self._hits(s, p) for s, p in zip(sims, pos, strict=True)]
        positions = _positions(self.ids, allowed)
        if len(positions) <= EXACT_SUBSET_MAX:
            return self._exact(queries, k, positions)
        selector = faiss.IDSelectorBatch(positions.astype(np.int64))
        params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.ef_search, 2 * k))
        sims, pos = self.index.search(queries, k, params=params)
        out = []
        for qi, (s, p) in enumerate(zip(sims, pos, strict=True)):
            found = self._hits(s, p)
            if len(found[0]) < min(k, len(positions)):
                found = self._exact(queries[qi : qi + 1], k, positions)[0]
            out.append(found)
        return out

    def _hits(self, sims: npt.NDArray[np.float32], pos: npt.NDArray[np.int64]) -> Hits:
        keep = pos >= 0
        ids, dist = self.ids[pos[keep]], (1.0 - sims[keep]).astype(np.float32)
        order = np.lexsort((ids, dist))
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
        out.index = faiss.read_index(str(path))
        if out.index.ntotal != len(ids):
            raise ValueError(f"{path} indexes {out.index.ntotal} vectors, not {len(ids)}")
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
