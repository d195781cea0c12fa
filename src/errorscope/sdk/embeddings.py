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

A space can instead hold one vector per object (``level`` ``object``; for crops): per
ground-truth annotation or per prediction of one run (:mod:`errorscope.sdk.objectspaces`:
``embed(..., objects="gt")``, ``import_embeddings(..., objects=...)`` with
``annotation_id``/``uuid``). Its anchors are objects; :meth:`EmbeddingsMixin.similar`
returns the rows containing the nearest objects (each at its nearest object's distance;
the ``similar`` query filter does the same) and :meth:`EmbeddingsMixin.similar_objects`
the objects themselves, with their row, class and distance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from errorscope.core.progress import report
from errorscope.core.query import Filter
from errorscope.embed.models import MODELS, ImageEmbedder, TextEmbedder, get_embedder
from errorscope.embed.projection import METHODS, project
from errorscope.embed.vectors import ID_FIELDS, VectorFile, check_vectors, read_vectors
from errorscope.errors import InvalidInputError, InvalidQueryError, NotFoundError
from errorscope.sdk.objectspaces import (
    DEFAULT_MARGIN,
    SimilarObject,
    crop_vectors,
    local_path,
    object_run_id,
    objects_label,
)
from errorscope.sdk.slices import as_filter, resolve_slices
from errorscope.sdk.spaces import (
    Combine,
    OpenSpace,
    anchor_vectors,
    forget,
    nearest,
    nearest_rows,
    open_space,
)
from errorscope.sdk.spacetypes import EmbeddingSpace, Projection, SimilarRow, describe_spaces
from errorscope.store import catalog
from errorscope.store import embeddings as store
from errorscope.store.database import Database

__all__ = ["EmbeddingSpace", "EmbeddingsMixin", "Projection", "SimilarObject", "SimilarRow"]

MAX_K = 10_000
_SPACE_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_TEXT_MODELS: dict[str, TextEmbedder] = {}


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
        return describe_spaces(self.db, store.list_spaces(self.db))

    def embedding_space(self, name: str) -> EmbeddingSpace:
        """One space (:class:`NotFoundError` if there is none)."""
        return describe_spaces(self.db, [store.get_space(self.db, name)])[0]

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
        objects: Literal["gt", "predictions"] | None = None,
        run: str | None = None,
    ) -> EmbeddingSpace:
        """Import custom vectors into the space ``space`` (created, or with ``replace``
        overwritten): NDJSON lines ``{"id" or "global_key", "vector"}``, a ``.npy``
        matrix with the id list ``ids``, or Parquet (``vector`` + ``id``/``global_key``).
        Every vector must name an existing data row of one dataset (``dataset``, if
        given), once; errors name the file, line and field, and nothing is written.

        With ``objects`` (``gt``, or ``predictions`` of ``run``) it is an object space:
        each vector names a ground-truth annotation (or a prediction of the run) by
        ``annotation_id`` or ``uuid`` instead (the id list of a ``.npy``: annotation ids
        or uuids)."""
        _check_name(space)
        run_id = None if objects is None else object_run_id(self.db, objects, run)
        if objects is None and run is not None:
            raise InvalidInputError("run goes with objects='predictions'", field="run")
        found = read_vectors(path, ids=ids, level="row" if objects is None else "object")
        return self._write(
            space,
            found,
            source="custom",
            dataset=dataset,
            replace=replace,
            dtype=dtype,
            level="row" if objects is None else "object",
            run_id=run_id,
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
        objects: Literal["gt", "predictions"] | None = None,
        run: str | None = None,
    ) -> EmbeddingSpace:
        """Store ``vectors`` (``n x dim``) for the rows ``ids`` (or ``global_keys``); with
        ``objects`` (``gt``, or ``predictions`` of ``run``), for the objects whose
        annotation ids are ``ids`` (or whose uuids are ``global_keys``)."""
        _check_name(space)
        run_id = None if objects is None else object_run_id(self.db, objects, run)
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
        level = "row" if objects is None else "object"
        found = VectorFile(label, matrix, id_arr, keys, lines, "row", id_names=ID_FIELDS[level])
        return self._write(
            space,
            found,
            source=source,
            dataset=dataset,
            replace=replace,
            dtype=dtype,
            level=level,
            run_id=run_id,
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
        objects: Literal["gt", "predictions"] | None = None,
        run: str | None = None,
        margin: float = DEFAULT_MARGIN,
    ) -> EmbeddingSpace:
        """Compute the space ``space`` with a built-in model (``text-minilm`` for text
        rows, ``image-effnet`` for images; offline, CPU, batched, with progress) over the
        rows of ``dataset`` (default: the only dataset) with that model's media type.

        With ``objects`` (``gt``, or ``predictions`` of ``run``; ``image-effnet`` only),
        one vector per object instead: the crop of its box (or of the bounds of its
        polygon or mask) grown to a square with ``margin`` (a share of its longer side)
        of context on each side; each image is decoded once for all its objects."""
        _check_name(space)
        if model not in MODELS:
            raise InvalidInputError(
                f"unknown model {model!r}; models are {', '.join(MODELS)}", field="model"
            )
        info = MODELS[model]
        ds_id, ds_name = self._dataset(dataset)
        if objects is not None or run is not None:
            run_id = object_run_id(self.db, objects or "gt", run)
            if info.media_type != "image":
                raise InvalidInputError(
                    f"objects are embedded from image crops: use image-effnet, not {model!r}",
                    field="model",
                )
            embedder = get_embedder(model, batch_size)
            assert isinstance(embedder, ImageEmbedder)
            crops = crop_vectors(self.db, embedder, ds_id, ds_name, run_id, margin)
            return self._write(
                space,
                crops,
                source=model,
                dataset=ds_name,
                replace=replace,
                dtype=dtype,
                level="object",
                run_id=run_id,
            )
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
            paths = [local_path(uris[i], int(r)) for i, r in zip(keep, ids, strict=True)]
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
        level: str = "row",
        run_id: int | None = None,
    ) -> EmbeddingSpace:
        if dtype not in ("float32", "float16"):
            raise InvalidInputError(f"dtype must be float32 or float16, not {dtype!r}")
        report("resolving rows", 0, 1)
        if level == "object":
            rid, row_ids, dsid = store.resolve_objects(self.db, found.ids, found.keys, run_id)
        else:
            rid, dsid = store.resolve_rows(self.db, found.ids, found.keys)
            row_ids = rid
        unknown = np.flatnonzero(rid < 0)
        if len(unknown):
            i = int(unknown[0])
            field = found.id_field(i)
            if level == "object":
                what = (
                    f"annotation id {int(found.ids[i])}"
                    if found.ids[i] >= 0
                    else f"uuid {found.keys[i]!r}"
                ) + f" (not in the {objects_label(self.db, run_id)})"
            else:
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
                f"{'object' if level == 'object' else 'data row'} {int(rid[i])} has a vector "
                "already (earlier in the input)",
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
            rows=row_ids[order] if level == "object" else None,
            run_id=run_id,
        )
        return describe_spaces(self.db, [row])[0]

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
        objects: Sequence[int] | None = None,
    ) -> list[SimilarRow]:
        """The ``k`` rows of ``space`` nearest to the anchor ``rows`` (1 to 20), a raw
        ``vector`` or a ``text`` (exactly one), best first, among the rows matching
        ``filter`` (evaluated on ``run``'s results if given; without a run, rows have no
        split, metrics or predictions).

        In an object space the anchors are ``objects`` (their ids) instead of rows, and
        the result is the rows containing the objects nearest to them, each row at the
        distance of its nearest object (anchor objects excluded, their rows not)."""
        opened, queries, exclude = self._query(space, rows, objects, vector, text, k)
        allowed = self._allowed(opened, filter, run)
        if opened.rows is not None:
            hits = nearest_rows(
                opened, queries, k, combine=combine, exclude=exclude, allowed=allowed
            )
            found = store.row_keys(self.db, [i for i, _ in hits])
            return [SimilarRow(i, found.get(i), float(d)) for i, d in hits]
        hits = nearest(opened, queries, k, combine=combine, exclude=exclude, allowed=allowed)
        keys = opened.global_keys(self.db, [i for i, _ in hits])
        return [SimilarRow(i, key, float(d)) for (i, d), key in zip(hits, keys, strict=True)]

    def similar_objects(
        self,
        space: str,
        *,
        objects: Sequence[int] | None = None,
        vector: npt.ArrayLike | None = None,
        k: int = 20,
        filter: Filter | Mapping[str, Any] | None = None,
        run: str | None = None,
        combine: Combine = "mean",
        other_rows: bool = False,
    ) -> list[SimilarObject]:
        """The ``k`` objects of the object space ``space`` nearest to the anchor
        ``objects`` (1 to 20 annotation or prediction ids; never in their own results) or
        a raw ``vector``, best first, each with its data row, class and distance; only
        objects on rows matching ``filter`` (on ``run``'s results) and, with
        ``other_rows``, not on the anchors' rows."""
        opened, queries, exclude = self._query(space, None, objects, vector, None, k)
        if opened.rows is None:
            raise InvalidQueryError(
                f"space {space!r} has a vector per data row, not per object: use similar()"
            )
        keep = np.ones(len(opened.ids), dtype=bool)
        allowed_rows = self._allowed(opened, filter, run)
        if allowed_rows is not None:
            keep &= np.isin(opened.rows, allowed_rows)
        if other_rows and exclude:
            keep &= ~np.isin(opened.rows, opened.rows_of(exclude))
        allowed = None if keep.all() else opened.ids[keep]
        hits = nearest(opened, queries, k, combine=combine, exclude=exclude, allowed=allowed)
        ids = [i for i, _ in hits]
        row_ids = opened.rows_of(ids).tolist()
        keys = store.row_keys(self.db, row_ids)
        info = store.object_info(self.db, store.object_run(self.db, opened.space), ids)
        return [
            SimilarObject(
                i,
                info.get(i, (None, None))[0],
                r,
                keys.get(r),
                info.get(i, (None, None))[1],
                float(d),
            )
            for (i, d), r in zip(hits, row_ids, strict=True)
        ]

    def _query(
        self,
        space: str,
        rows: Sequence[int] | None,
        objects: Sequence[int] | None,
        vector: npt.ArrayLike | None,
        text: str | None,
        k: int,
    ) -> tuple[OpenSpace, npt.NDArray[np.float32], list[int]]:
        """The open space, the query vectors and the anchors to exclude."""
        given = [x is not None for x in (rows, objects, vector, text)]
        if sum(given) != 1:
            raise InvalidQueryError("give exactly one of rows, objects, vector and text")
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise InvalidQueryError(f"k must be an integer in [1, {MAX_K}], not {k!r}")
        opened = open_space(self.db, space)
        per_object = opened.rows is not None
        if rows is not None and per_object:
            raise InvalidQueryError(
                f"space {space!r} has a vector per object: give anchor objects (their ids), "
                "not rows"
            )
        if objects is not None and not per_object:
            raise InvalidQueryError(
                f"space {space!r} has a vector per data row: give anchor rows, not objects"
            )
        anchors = rows if rows is not None else objects
        if anchors is not None:
            return opened, anchor_vectors(opened, list(anchors)), [int(a) for a in anchors]
        if vector is not None:
            try:
                queries = np.asarray(vector, dtype=np.float32).reshape(1, -1)
            except (TypeError, ValueError):
                raise InvalidQueryError("the query vector must be a list of numbers") from None
            return opened, queries, []
        return opened, self._embed_text(opened.space, str(text)), []

    def _allowed(
        self, opened: OpenSpace, filter: Filter | Mapping[str, Any] | None, run: str | None
    ) -> npt.NDArray[np.int64] | None:
        """The data rows matching ``filter`` (on ``run``), or None for no filter."""
        if filter is None:
            return None
        run_id = None if run is None else catalog.get_run(self.db, run).id
        where = resolve_slices(self.db, as_filter(filter))
        return store.filter_row_ids(self.db, opened.space.dataset_id, run_id, where)

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
        rows = store.load_rows(self.db, row) if row.level == "object" else None
        if path.exists() and not recompute:
            xy = np.load(path)
        else:
            xy = project(vectors, method)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, xy)
            tmp.replace(path)
        return Projection(
            space,
            method,
            np.asarray(ids),
            np.asarray(xy, dtype=np.float32),
            None if rows is None else np.asarray(rows, dtype=np.int64),
        )


def _embed_images(
    embedder: ImageEmbedder, paths: list[Path], ids: npt.NDArray[np.int64]
) -> npt.NDArray[np.float32]:
    try:
        return embedder.embed(paths)
    except OSError as exc:
        raise InvalidInputError(f"cannot read an image ({exc})", field="uri") from None
