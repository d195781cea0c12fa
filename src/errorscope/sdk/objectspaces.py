"""Per-object embedding spaces (crops): one vector per ground-truth annotation or per
prediction of one run, instead of one per data row.

The built-in image model embeds each object's crop (:mod:`errorscope.embed.crops`: the
box, or the bounds of a polygon or mask, grown to a square with a context margin); custom
vectors name their object by ``annotation_id`` or ``uuid``. Search over an object space
returns objects (:class:`SimilarObject`: the object, its data row, class and distance) or
the rows containing the nearest objects, which is also what a ``similar`` query filter on
an object space selects. Used by :class:`~errorscope.sdk.embeddings.EmbeddingsMixin`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.embed.crops import DEFAULT_MARGIN, embed_crops, object_boxes
from errorscope.embed.models import ImageEmbedder
from errorscope.embed.vectors import ID_FIELDS, VectorFile
from errorscope.errors import InvalidInputError
from errorscope.store import catalog
from errorscope.store import embeddings as store
from errorscope.store.database import Database

__all__ = [
    "DEFAULT_MARGIN",
    "OBJECT_SOURCES",
    "SimilarObject",
    "crop_vectors",
    "object_run_id",
    "objects_label",
]

#: What an object space holds: ground-truth annotations or one run's predictions.
OBJECT_SOURCES = ("gt", "predictions")


@dataclass(frozen=True)
class SimilarObject:
    """One object found by a search in an object space."""

    id: int  # the annotation's (or prediction's) id
    uuid: str | None
    data_row_id: int
    global_key: str | None
    class_name: str | None  # None if the object was deleted since it was embedded
    distance: float  # 1 - cosine similarity

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "uuid": self.uuid,
            "data_row_id": self.data_row_id,
            "global_key": self.global_key,
            "class_name": self.class_name,
            "distance": self.distance,
        }


def object_run_id(db: Database, objects: str, run: str | None) -> int | None:
    """The run whose predictions ``objects`` means (``None`` for the ground truth)."""
    if objects not in OBJECT_SOURCES:
        raise InvalidInputError(
            f"objects must be 'gt' or 'predictions', not {objects!r}", field="objects"
        )
    if objects == "gt":
        if run is not None:
            raise InvalidInputError(
                "run goes with objects='predictions' (the run whose predictions to embed)",
                field="run",
            )
        return None
    if run is None:
        raise InvalidInputError("objects='predictions' needs the run (run=)", field="run")
    return catalog.get_run(db, run).id


def objects_label(db: Database, run_id: int | None) -> str:
    """``ground truth`` or ``predictions of run 'name'``, for messages."""
    if run_id is None:
        return "ground truth"
    names = {r.id: r.name for r in catalog.list_runs(db)}
    return f"predictions of run {names.get(run_id, run_id)!r}"


def local_path(uri: str | None, row_id: int) -> Path:
    """The local file of an image data row."""
    if not uri:
        raise InvalidInputError(f"data row {row_id} has no image uri", field="uri")
    text = uri[len("file://") :] if uri.startswith("file://") else uri
    if "://" in text:
        raise InvalidInputError(
            f"data row {row_id}: only local image files can be embedded, not {uri!r}",
            field="uri",
        )
    path = Path(text)
    if not path.is_file():
        raise InvalidInputError(f"data row {row_id}: image file not found", path=path, field="uri")
    return path


def crop_vectors(
    db: Database,
    embedder: ImageEmbedder,
    dataset_id: int,
    dataset: str,
    run_id: int | None,
    margin: float = DEFAULT_MARGIN,
) -> VectorFile:
    """Vectors of the crops of the dataset's image objects (``run_id``: that run's
    predictions, else the ground truth) that have a box, polygon or mask."""
    if not 0.0 <= margin <= 2.0:
        raise InvalidInputError(f"margin must be in [0, 2], not {margin!r}", field="margin")
    table = store.objects_to_embed(db, dataset_id, run_id)
    boxes = object_boxes(table)
    keep = np.flatnonzero(~np.isnan(boxes).any(axis=1))
    if not len(keep):
        raise InvalidInputError(
            f"dataset {dataset!r} has no image objects with a box, polygon or mask in the "
            f"{objects_label(db, run_id)}",
            field="objects",
        )
    ids = table.column("id").to_numpy()[keep].astype(np.int64)
    rows = table.column("data_row_id").to_numpy()[keep].astype(np.int64)
    uris = table.column("uri").to_pylist()
    starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
    paths = [local_path(uris[int(keep[s])], int(rows[s])) for s in starts]
    bounds: npt.NDArray[np.int64] = np.r_[starts, len(rows)].astype(np.int64)
    try:
        vectors = embed_crops(
            embedder.embed_arrays,
            embedder.info.dim,
            paths,
            bounds,
            boxes[keep],
            margin=margin,
            batch_size=embedder.batch_size,
        )
    except OSError as exc:
        raise InvalidInputError(f"cannot read an image ({exc})", field="uri") from None
    return VectorFile(
        f"<{embedder.info.name}>",
        vectors,
        ids,
        [None] * len(ids),
        np.arange(1, len(ids) + 1, dtype=np.int64),
        "row",
        id_names=ID_FIELDS["object"],
    )
