"""Embedding spaces of a workspace: import or compute vectors, search, project to 2-D.

A space belongs to one dataset and holds at most one vector per data row. Vectors come
from the user's own model (:meth:`EmbeddingsMixin.import_embeddings`: NDJSON, ``.npy`` +
ids, Parquet; or :meth:`EmbeddingsMixin.add_embeddings` from arrays) or from a built-in
model (:meth:`EmbeddingsMixin.embed`: ``text-minilm`` or ``image-effnet``, the ``embed``
extra). Every write is all-or-nothing.

Search (:meth:`EmbeddingsMixin.similar`) is by cosine distance, from up to 20 anchor
rows, a raw vector or a text (spaces made by ``text-minilm``), and combines with any
query filter: the filter's rows are found first and the search is restricted to them.
Several anchors are combined by ``mean`` (default: rows like all of them, one search for
the mean of their unit vectors) or ``union`` (rows like any of them: each row at its
smallest distance to an anchor). Anchors are never in their own results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from errorscope.core.progress import report
from errorscope.core.query import Filter
from errorscope.embed.models import MODELS, ImageEmbedder, TextEmbedder, get_embedder
from errorscope.embed.projection import METHODS, project
from errorscope.embed.vectors import VectorFile, check_vectors, read_vectors
from errorscope.errors import InvalidInputError, InvalidQueryError, NotFoundError
from errorscope.sdk.slices import as_filter, resolve_slices
from errorscope.sdk.spaces import Combine, anchor_vectors, forget, nearest, open_space
from errorscope.store import catalog
from errorscope.store import embeddings as store
from errorscope.store.database import Database

__all__ = ["EmbeddingSpace", "EmbeddingsMixin", "Projection", "SimilarRow"]

MAX_K = 10_000
_SPACE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_TEXT_MODELS: dict[str, TextEmbedder] = {}


@dataclass(frozen=True)
class EmbeddingSpace:
    name: str
    dataset: str
    dim: int
    source: str  # "custom" or the built-in model's name
    dtype: str  # "float32" or "float16"
    count: int
    created_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dataset": self.dataset,
            "dim": self.dim,
            "source": self.source,
            "dtype": self.dtype,
            "count": self.count,
            "created_at": self.created_at.isoformat(),
        }


@dataclass(frozen=True)
class SimilarRow:
    id: int
    global_key: str | None
    distance: float  # 1 - cosine similarity

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "global_key": self.global_key, "distance": self.distance}


@dataclass(frozen=True)
class Projection:
    """2-D coordinates of a space's rows: ``xy[i]`` is data row ``ids[i]``."""

    space: str
    method: str
    ids: npt.NDArray[np.int64]
    xy: npt.NDArray[np.float32]

    def to_bytes(self) -> bytes:
        """``n`` little-endian int64 ids, then ``n`` (x, y) float32 pairs."""
        return self.ids.astype("<i8").tobytes() + self.xy.astype("<f4").tobytes()


def _space(row: store.SpaceRow) -> EmbeddingSpace:
    return EmbeddingSpace(
        row.name, row.dataset, row.dim, row.source, row.dtype, row.count, row.created_at
    )


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not name or not set(name) <= _SPACE_CHARS:
        raise InvalidInputError(
            f"invalid space name {name!r}: use letters, digits, '_', '.' and '-'",
            field="space",
        )


class EmbeddingsMixin:
    """The embedding methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    # -- spaces ----------------------------------------------------------------------------
    def embedding_spaces(self) -> list[EmbeddingSpace]:
        """Every embedding space, by name."""
        return [_space(s) for s in store.list_spaces(self.db)]

    def embedding_space(self, name: str) -> EmbeddingSpace:
        """One space (:class:`NotFoundError` if there is none)."""
        return _space(store.get_space(self.db, name))

    def delete_embedding_space(self, name: str) -> None:
        """Delete a space with its vectors, index and projections."""
        forget(self.db, name)
        store.delete_space(self.db, name)

    # -- writing ---------------------------------------------------------------------------
    def import_embeddings(
        self,
        path: str | Path,
        *,
        space: str,
        ids: str | Path | None = None,
        dataset: str | None = None,
        replace: bool = False,
        dtype: Literal["float32", "float16"] = "float32",
    ) -> EmbeddingSpace:
        """Import custom vectors into the space ``space`` (created, or with ``replace``
        overwritten): NDJSON lines ``{"id" or "global_key", "vector"}``, a ``.npy``
        matrix with the id list ``ids``, or Parquet (``vector`` + ``id``/``global_key``).
        Every vector must name an existing data row of one dataset (``dataset``, if
        given), once; errors name the file, line and field, and nothing is written."""
        _check_name(space)
        found = read_vectors(path, ids=ids)
        return self._write(
            space, found, source="custom", dataset=dataset, replace=replace, dtype=dtype
        )

    def add_embeddings(
        self,
        space: str,
        vectors: npt.ArrayLike,
        *,
        ids: Sequence[int] | None = None,
        global_keys: Sequence[str] | None = None,
        dataset: str | None = None,
        replace: bool = False,
        dtype: Literal["float32", "float16"] = "float32",
        source: str = "custom",
    ) -> EmbeddingSpace:
        """Store ``vectors`` (``n x dim``) for the rows ``ids`` (or ``global_keys``)."""
        _check_name(space)
        label = "<sdk>"
        matrix = check_vectors(
            np.asarray(vectors), label, lambda i: {"path": label, "location": f"row {i + 1}"}
        )
        n = len(matrix)
        if (ids is None) == (global_keys is None):
            raise InvalidInputError("give exactly one of ids and global_keys", path=label)
        if ids is not None:
            id_arr = np.asarray(list(ids), dtype=np.int64)
            keys: list[str | None] = [None] * len(id_arr)
        else:
            keys = [str(k) for k in global_keys or []]
            id_arr = np.full(len(keys), -1, dtype=np.int64)
        if len(id_arr) != n:
            raise InvalidInputError(f"{len(id_arr)} rows for {n} vectors", path=label)
        lines = np.arange(1, n + 1, dtype=np.int64)
        found = VectorFile(label, matrix, id_arr, keys, lines, "row")
        return self._write(
            space, found, source=source, dataset=dataset, replace=replace, dtype=dtype
        )

    def embed(
        self,
        space: str,
        model: str,
        *,
        dataset: str | None = None,
        batch_size: int | None = None,
        replace: bool = False,
        dtype: Literal["float32", "float16"] = "float32",
    ) -> EmbeddingSpace:
        """Compute the space ``space`` with a built-in model (``text-minilm`` for text
        rows, ``image-effnet`` for images; offline, CPU, batched, with progress) over the
        rows of ``dataset`` (default: the only dataset) with that model's media type."""
        _check_name(space)
        if model not in MODELS:
            raise InvalidInputError(
                f"unknown model {model!r}; models are {', '.join(MODELS)}", field="model"
            )
        info = MODELS[model]
        ds_id, ds_name = self._dataset(dataset)
        rows = store.row_media(self.db, ds_id)
        media = np.asarray(rows.column("media_type").to_pylist(), dtype=object)
        keep = np.flatnonzero(media == info.media_type)
        if not len(keep):
            raise InvalidInputError(
                f"dataset {ds_name!r} has no {info.media_type} rows for model {model!r}",
                field="model",
            )
        ids = rows.column("id").to_numpy()[keep].astype(np.int64)
        embedder = get_embedder(model, batch_size)
        if isinstance(embedder, TextEmbedder):
            texts = rows.column("text").to_pylist()
            vectors = embedder.embed([texts[i] or "" for i in keep])
        else:
            uris = rows.column("uri").to_pylist()
            paths = [_local(uris[i], int(r)) for i, r in zip(keep, ids, strict=True)]
            vectors = _embed_images(embedder, paths, ids)
        found = VectorFile(
            f"<{model}>",
            vectors,
            ids,
            [None] * len(ids),
            np.arange(1, len(ids) + 1, dtype=np.int64),
            "row",
        )
        return self._write(
            space, found, source=model, dataset=ds_name, replace=replace, dtype=dtype
        )

    def _dataset(self, name: str | None) -> tuple[int, str]:
        datasets = store.datasets(self.db)
        if name is None:
            if len(datasets) != 1:
                raise InvalidInputError(
                    f"the workspace has {len(datasets)} datasets: name one (dataset=)",
                    field="dataset",
                )
            name = next(iter(datasets))
        if name not in datasets:
            raise NotFoundError(f"no dataset named {name!r}")
        return int(datasets[name]), name

    def _write(
        self,
        space: str,
        found: VectorFile,
        *,
        source: str,
        dataset: str | None,
        replace: bool,
        dtype: str,
    ) -> EmbeddingSpace:
        if dtype not in ("float32", "float16"):
            raise InvalidInputError(f"dtype must be float32 or float16, not {dtype!r}")
        report("resolving rows", 0, 1)
        rid, dsid = store.resolve_rows(self.db, found.ids, found.keys)
        unknown = np.flatnonzero(rid < 0)
        if len(unknown):
            i = int(unknown[0])
            field = found.id_field(i)
            what = (
                f"data row id {int(found.ids[i])}"
                if field == "id"
                else (f"global key {found.keys[i]!r}")
            )
            raise InvalidInputError(f"unknown {what}", field=field, **found.where(i))
        if dataset is not None:
            want, _ = self._dataset(dataset)
        else:
            want = int(dsid[0])
        other = np.flatnonzero(dsid != want)
        if len(other):
            i = int(other[0])
            raise InvalidInputError(
                "all vectors of a space must belong to data rows of one dataset"
                + ("" if dataset is None else f" ({dataset!r})"),
                field=found.id_field(i),
                **found.where(i),
            )
        order = np.argsort(rid, kind="stable")
        sorted_ids = rid[order]
        dup = np.flatnonzero(sorted_ids[1:] == sorted_ids[:-1])
        if len(dup):
            i = int(order[dup[0] + 1])
            raise InvalidInputError(
                f"data row {int(rid[i])} has a vector already (earlier in the input)",
                field=found.id_field(i),
                **found.where(i),
            )
        vectors = found.vectors[order]
        if dtype == "float16":
            big = np.abs(vectors) > np.finfo(np.float16).max
            if big.any():
                i = int(order[int(np.argmax(big.any(axis=1)))])
                raise InvalidInputError(
                    "a component is too large for float16; import as float32",
                    field="vector",
                    **found.where(i),
                )
            vectors = vectors.astype(np.float16)
        report("resolving rows", 1, 1)
        forget(self.db, space)
        row = store.write_space(
            self.db,
            name=space,
            dataset_id=want,
            source=source,
            ids=sorted_ids,
            vectors=vectors,
            replace=replace,
        )
        return _space(row)

    # -- search ----------------------------------------------------------------------------
    def build_embedding_index(self, space: str) -> str:
        """Build (or load) the space's search index now; returns its kind (exact/hnsw)."""
        return open_space(self.db, space).index.kind

    def similar(
        self,
        space: str,
        *,
        rows: Sequence[int] | None = None,
        vector: npt.ArrayLike | None = None,
        text: str | None = None,
        k: int = 20,
        filter: Filter | Mapping[str, Any] | None = None,
        run: str | None = None,
        combine: Combine = "mean",
    ) -> list[SimilarRow]:
        """The ``k`` rows of ``space`` nearest to the anchor ``rows`` (1 to 20), a raw
        ``vector`` or a ``text`` (exactly one), best first, among the rows matching
        ``filter`` (evaluated on ``run``'s results if given; without a run, rows have no
        split, metrics or predictions)."""
        if sum(x is not None for x in (rows, vector, text)) != 1:
            raise InvalidQueryError("give exactly one of rows, vector and text")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidQueryError(f"k must be an integer in [1, {MAX_K}], not {k!r}")
        opened = open_space(self.db, space)
        exclude: Sequence[int] = ()
        if rows is not None:
            queries = anchor_vectors(opened, list(rows))
            exclude = [int(r) for r in rows]
        elif vector is not None:
            try:
                queries = np.asarray(vector, dtype=np.float32).reshape(1, -1)
            except (TypeError, ValueError):
                raise InvalidQueryError("the query vector must be a list of numbers") from None
        else:
            queries = self._embed_text(opened.space, str(text))
        allowed = None
        if filter is not None:
            run_id = None if run is None else catalog.get_run(self.db, run).id
            where = resolve_slices(self.db, as_filter(filter))
            allowed = store.filter_row_ids(self.db, opened.space.dataset_id, run_id, where)
        hits = nearest(opened, queries, k, combine=combine, exclude=exclude, allowed=allowed)
        keys = opened.global_keys(self.db, [i for i, _ in hits])
        return [SimilarRow(i, key, float(d)) for (i, d), key in zip(hits, keys, strict=True)]

    def _embed_text(self, space: store.SpaceRow, text: str) -> npt.NDArray[np.float32]:
        if space.source != "text-minilm":
            raise InvalidQueryError(
                f"space {space.name!r} was not made by the text model (text-minilm): "
                "query it by rows or by a vector"
            )
        if "text-minilm" not in _TEXT_MODELS:
            _TEXT_MODELS["text-minilm"] = TextEmbedder()
        return _TEXT_MODELS["text-minilm"].embed([text])

    # -- projections -----------------------------------------------------------------------
    def projection(self, space: str, method: str = "pca", *, recompute: bool = False) -> Projection:
        """The space's 2-D projection by ``method`` (``pca`` or ``umap``), computed once
        and cached in the workspace (``recompute`` computes it again)."""
        if method not in METHODS:
            raise InvalidQueryError(
                f"unknown projection method {method!r}; methods are {', '.join(METHODS)}"
            )
        row = store.get_space(self.db, space)
        path = store.space_dir(self.db, row) / f"projection-{method}.npy"
        ids, vectors = store.load_space(self.db, row)
        if path.exists() and not recompute:
            xy = np.load(path)
        else:
            xy = project(vectors, method)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, xy)
            tmp.replace(path)
        return Projection(space, method, np.asarray(ids), np.asarray(xy, dtype=np.float32))


def _local(uri: str | None, row_id: int) -> Path:
    if not uri:
        raise InvalidInputError(f"data row {row_id} has no image uri", field="uri")
    text = uri[len("file://") :] if uri.startswith("file://") else uri
    if "://" in text:
        raise InvalidInputError(
            f"data row {row_id}: only local image files can be embedded, not {uri!r}",
            field="uri",
        )
    return Path(text)


def _embed_images(
    embedder: ImageEmbedder, paths: list[Path], ids: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    for path, row_id in zip(paths, ids, strict=True):
        if not path.is_file():
            raise InvalidInputError(
                f"data row {int(row_id)}: image file not found", path=path, field="uri"
            )
    try:
        return embedder.embed(paths)
    except OSError as exc:
        raise InvalidInputError(f"cannot read an image ({exc})", field="uri") from None
