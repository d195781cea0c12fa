"""Open embedding spaces and their search indexes, shared by the embedding methods and by
the query engine (a :class:`~errorscope.core.query.Similar` filter becomes the
:class:`~errorscope.core.query.Ids` it stands for here, before the filter is compiled).

A space's index is built on first use and kept: spaces of up to
:data:`~errorscope.embed.index.EXACT_MAX` vectors are searched exactly (numpy), larger
ones with a faiss HNSW graph saved as ``index.faiss`` in the space's directory and
loaded from there next time. Open indexes are cached per process (a few, least recently
used first out), keyed by the space's directory, which a replaced space never reuses.

In an object space (one vector per annotation or prediction) the index is over object
ids and anchors are objects; :func:`nearest_rows` turns the nearest objects into the
rows that contain them (each row at its nearest object's distance), which is what a
:class:`Similar` filter on an object space stands for.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from errorscope.core.query import And, Filter, Ids, Not, Or, Similar
from errorscope.embed.index import EXACT_MAX, ExactIndex, HnswIndex, Index, normalize
from errorscope.errors import InvalidQueryError
from errorscope.store import embeddings as store
from errorscope.store.database import Database

__all__ = [
    "Combine",
    "OpenSpace",
    "anchor_vectors",
    "forget",
    "nearest",
    "nearest_rows",
    "open_space",
    "resolve_similar",
]

Combine = Literal["mean", "union"]
MAX_ANCHORS = 20
_CACHE_SIZE = 4
_CACHE: OrderedDict[tuple[str, str], OpenSpace] = OrderedDict()
#: Space rows by name, per open database (a workspace has one writer: this process).
_ROWS: weakref.WeakKeyDictionary[Database, dict[str, store.SpaceRow]] = weakref.WeakKeyDictionary()


@dataclass
class OpenSpace:
    space: store.SpaceRow
    ids: npt.NDArray[np.int64]
    vectors: npt.NDArray[Any]
    index: Index
    keys: pa.Array | None = None  # global keys aligned with ids, loaded on first use
    rows: npt.NDArray[np.int64] | None = None  # object spaces: data row of each vector

    def rows_of(self, ids: Sequence[int]) -> npt.NDArray[np.int64]:
        """The data rows of some of the space's vectors (their own ids in a row space)."""
        wanted = np.asarray(ids, dtype=np.int64)
        if self.rows is None:
            return wanted
        return np.asarray(self.rows[np.searchsorted(self.ids, wanted)], dtype=np.int64)

    def global_keys(self, db: Database, ids: Sequence[int]) -> list[str | None]:
        """The global keys of some of the space's rows (of a row space)."""
        if self.rows is not None:
            found = store.row_keys(db, [int(r) for r in self.rows_of(ids)])
            return [found.get(int(r)) for r in self.rows_of(ids)]
        if self.keys is None:
            self.keys = store.space_keys(db, self.ids)
        pos = np.searchsorted(self.ids, np.asarray(ids, dtype=np.int64))
        out: list[str | None] = self.keys.take(pa.array(pos, pa.int64())).to_pylist()
        return out


def forget(db: Database, name: str) -> None:
    """Drop what is cached about the space ``name`` (it was written or deleted)."""
    _ROWS.get(db, {}).pop(name, None)


def _space_row(db: Database, name: str) -> store.SpaceRow:
    rows = _ROWS.setdefault(db, {})
    if name not in rows:
        rows[name] = store.get_space(db, name)
    return rows[name]


def open_space(db: Database, name: str) -> OpenSpace:
    """The space ``name`` with its index (built, or loaded from the workspace)."""
    space = _space_row(db, name)
    key = (str(db.directory), space.directory)
    found = _CACHE.get(key)
    if found is not None:
        _CACHE.move_to_end(key)
        return found
    ids, vectors = store.load_space(db, space)
    index: Index
    if len(ids) <= EXACT_MAX:
        index = ExactIndex().fit(vectors, ids)
    else:
        path = store.space_dir(db, space) / "index.faiss"
        if path.exists():
            index = HnswIndex.load(path, vectors, ids)
        else:
            index = HnswIndex().fit(vectors, ids)
            tmp = path.with_suffix(".tmp")
            index.save(tmp)
            tmp.replace(path)
    rows = store.load_rows(db, space) if space.level == "object" else None
    out = OpenSpace(space, ids, vectors, index, rows=rows)
    _CACHE[key] = out
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return out


def anchor_vectors(opened: OpenSpace, anchors: Sequence[int]) -> npt.NDArray[np.float32]:
    """The vectors of the anchor rows; a row without a vector is an InvalidQueryError."""
    if not 1 <= len(anchors) <= MAX_ANCHORS:
        what = "objects" if opened.rows is not None else "rows"
        raise InvalidQueryError(f"give 1 to {MAX_ANCHORS} anchor {what}, not {len(anchors)}")
    wanted = np.asarray([int(a) for a in anchors], dtype=np.int64)
    pos = np.searchsorted(opened.ids, wanted)
    for a, p in zip(wanted, pos, strict=True):
        if p >= len(opened.ids) or opened.ids[p] != a:
            what = "object" if opened.rows is not None else "data row"
            raise InvalidQueryError(
                f"{what} {int(a)} has no vector in embedding space {opened.space.name!r}"
            )
    return np.asarray(opened.vectors[pos], dtype=np.float32)


def nearest(
    opened: OpenSpace,
    queries: npt.NDArray[np.float32],
    k: int,
    *,
    combine: Combine = "mean",
    exclude: Sequence[int] = (),
    allowed: npt.NDArray[np.int64] | None = None,
) -> list[tuple[int, float]]:
    """The ``k`` rows nearest to the query vectors, best first, as ``(id, distance)``.

    Several query vectors are combined by ``mean`` (one search for the mean of the unit
    query vectors: rows like all of them) or ``union`` (one search per vector, each row
    at its smallest distance to any of them: rows like any of them). ``exclude`` rows
    (the anchors) are never returned; with ``allowed``, only those rows are.
    """
    if combine not in ("mean", "union"):
        raise InvalidQueryError(f"combine must be 'mean' or 'union', not {combine!r}")
    if queries.shape[1] != opened.space.dim:
        raise InvalidQueryError(
            f"the query vector has {queries.shape[1]} dimensions, space "
            f"{opened.space.name!r} has {opened.space.dim}"
        )
    if not np.isfinite(queries).all():
        raise InvalidQueryError("the query vector has NaN or infinite components")
    if combine == "mean" and len(queries) > 1:
        queries = normalize(normalize(queries).mean(axis=0, keepdims=True))
    skip = {int(x) for x in exclude}
    found = opened.index.search(queries, k + len(skip), allowed=allowed)
    best: dict[int, float] = {}
    for ids, dists in found:
        for i, d in zip(ids.tolist(), dists.tolist(), strict=True):
            if i not in skip and (i not in best or d < best[i]):
                best[i] = d
    ranked = sorted(best.items(), key=lambda item: (item[1], item[0]))
    return ranked[:k]


def nearest_rows(
    opened: OpenSpace,
    queries: npt.NDArray[np.float32],
    k: int,
    *,
    combine: Combine = "mean",
    exclude: Sequence[int] = (),
    allowed: npt.NDArray[np.int64] | None = None,
) -> list[tuple[int, float]]:
    """The ``k`` data rows of an object space whose objects are nearest to the queries,
    best first, as ``(row id, distance of its nearest object)``; ``exclude`` objects (the
    anchors) are skipped, and with ``allowed`` (data row ids) only objects of those rows
    are searched. The object search widens until it has ``k`` distinct rows."""
    if opened.rows is None:
        return nearest(opened, queries, k, combine=combine, exclude=exclude, allowed=allowed)
    objects = None
    total = len(opened.ids)
    if allowed is not None:
        objects = opened.ids[np.isin(opened.rows, np.asarray(allowed, dtype=np.int64))]
        total = len(objects)
    want = min(total, max(4 * k, 64))
    while True:
        hits = nearest(opened, queries, want, combine=combine, exclude=exclude, allowed=objects)
        rows = opened.rows_of([i for i, _ in hits])
        best: dict[int, float] = {}
        for r, (_, d) in zip(rows.tolist(), hits, strict=True):
            best.setdefault(int(r), d)
        if len(best) >= k or want >= total:
            break
        want = min(total, want * 4)
    ranked = sorted(best.items(), key=lambda item: (item[1], item[0]))
    return ranked[:k]


def resolve_similar(db: Database, f: Filter) -> Filter:
    """``f`` with every :class:`Similar` replaced by the :class:`Ids` of its rows (the
    ``k`` nearest to the mean of its anchors, anchors excluded; in an object space the
    anchors are objects and the rows those containing the nearest other objects)."""
    if isinstance(f, And | Or):
        return type(f)(tuple(resolve_similar(db, x) for x in f.filters))
    if isinstance(f, Not):
        return Not(resolve_similar(db, f.filter))
    if not isinstance(f, Similar):
        return f
    opened = open_space(db, f.space)
    queries = anchor_vectors(opened, f.anchors)
    hits = nearest_rows(opened, queries, f.k, exclude=f.anchors)
    return Ids(tuple(sorted(i for i, _ in hits)))
