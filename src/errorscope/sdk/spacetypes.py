"""What the embedding methods return (:mod:`errorscope.sdk.embeddings`): a space's
description, a similar row and a 2-D projection, and how a stored space is described
(the run names of object spaces looked up once for a whole listing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.store import catalog
from errorscope.store import embeddings as store
from errorscope.store.database import Database

__all__ = ["EmbeddingSpace", "Projection", "SimilarRow", "describe_spaces"]


@dataclass(frozen=True)
class EmbeddingSpace:
    name: str
    dataset: str
    dim: int
    source: str  # "custom" or the built-in model's name
    dtype: str  # "float32" or "float16"
    count: int
    created_at: datetime
    level: str = "row"  # "row" (a vector per data row) or "object" (per object)
    run: str | None = None  # object spaces of predictions: their run

    @property
    def objects(self) -> str | None:
        """Object spaces: ``gt`` or ``predictions``."""
        if self.level != "object":
            return None
        return "gt" if self.run is None else "predictions"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dataset": self.dataset,
            "dim": self.dim,
            "source": self.source,
            "dtype": self.dtype,
            "count": self.count,
            "created_at": self.created_at.isoformat(),
            "level": self.level,
            "objects": self.objects,
            "run": self.run,
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
    """2-D coordinates of a space's vectors: ``xy[i]`` is data row ``ids[i]`` or, in an
    object space, object ``ids[i]`` on data row ``rows[i]``."""

    space: str
    method: str
    ids: npt.NDArray[np.int64]
    xy: npt.NDArray[np.float32]
    rows: npt.NDArray[np.int64] | None = None

    def to_bytes(self) -> bytes:
        """``n`` little-endian int64 ids, then ``n`` (x, y) float32 pairs; an object
        space's points are followed by their ``n`` int64 data row ids."""
        out = self.ids.astype("<i8").tobytes() + self.xy.astype("<f4").tobytes()
        if self.rows is not None:
            out += self.rows.astype("<i8").tobytes()
        return out


def describe_spaces(db: Database, rows: Sequence[store.SpaceRow]) -> list[EmbeddingSpace]:
    """The descriptions of stored spaces; the runs are listed once (only if an object
    space of predictions needs its run's name), not once per space."""
    runs: dict[int, str] | None = None
    out = []
    for row in rows:
        run = None
        if row.level == "object":
            run_id = store.object_run(db, row)
            if run_id is not None:
                if runs is None:
                    runs = {r.id: r.name for r in catalog.list_runs(db)}
                run = runs.get(run_id, str(run_id))
        out.append(
            EmbeddingSpace(
                row.name,
                row.dataset,
                row.dim,
                row.source,
                row.dtype,
                row.count,
                row.created_at,
                row.level,
                run,
            )
        )
    return out
