"""Embedding routes: the spaces, similarity search and 2-D projections.

* ``GET /api/embeddings``: the spaces.
* ``POST /api/embeddings/{space}/similar``: ``{"anchors": [ids] | "objects": [ids] |
  "vector": [...] | "text": "...", "k": 20, "filter": {...}, "run": null, "combine":
  "mean"}`` -> ``{"rows": [{"id", "global_key", "distance"}]}``, best first (an object
  space takes anchor ``objects`` and returns the rows containing the nearest objects).
* ``POST /api/embeddings/{space}/similar-objects`` (object spaces): ``{"objects": [ids] |
  "vector": [...], "k", "filter", "run", "combine", "other_rows": false}`` ->
  ``{"objects": [{"id", "uuid", "data_row_id", "global_key", "class_name",
  "distance"}]}``, best first.
* ``GET /api/embeddings/{space}/projection?method=pca``: the projection as
  ``application/octet-stream``: ``n`` little-endian int64 ids, then ``n`` float32
  ``(x, y)`` pairs (``X-Points: n``); computed on first request, then cached. The ids
  are data row ids, or in an object space (``X-Level: object``) object ids, followed
  after the pairs by the ``n`` int64 data row ids of the objects.
* ``POST /api/embeddings/{space}/projection?method=umap``: compute it again.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from errorscope.sdk.embeddings import MAX_K
from errorscope.sdk.workspace import Workspace
from errorscope.server.rows import FILTER_HELP

__all__ = ["SimilarObjectsQuery", "SimilarQuery", "add_embedding_routes"]

METHOD_HELP = "pca (always available) or umap (the embed extra)."


class SimilarQuery(BaseModel):
    """The body of ``POST /api/embeddings/{space}/similar`` (exactly one of ``anchors``,
    ``vector`` and ``text``)."""

    model_config = ConfigDict(extra="forbid")

    anchors: list[int] | None = Field(
        default=None, min_length=1, max_length=20, description="Anchor data row ids."
    )
    objects: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Object spaces: anchor annotation (or prediction) ids.",
    )
    vector: list[float] | None = Field(default=None, description="A raw query vector.")
    text: str | None = Field(default=None, description="A text (text-minilm spaces).")
    k: int = Field(default=20, ge=1, le=MAX_K)
    filter: dict[str, Any] | None = Field(default=None, description=FILTER_HELP)
    run: str | None = Field(default=None, description="The run whose results filters see.")
    combine: Literal["mean", "union"] = Field(
        default="mean", description="Several anchors: rows like all (mean) or any (union)."
    )


class SimilarObjectsQuery(BaseModel):
    """The body of ``POST /api/embeddings/{space}/similar-objects`` (exactly one of
    ``objects`` and ``vector``)."""

    model_config = ConfigDict(extra="forbid")

    objects: list[int] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="Anchor annotation (or prediction) ids.",
    )
    vector: list[float] | None = Field(default=None, description="A raw query vector.")
    k: int = Field(default=20, ge=1, le=MAX_K)
    filter: dict[str, Any] | None = Field(
        default=None, description="Only objects on the rows it matches. " + FILTER_HELP
    )
    run: str | None = Field(default=None, description="The run whose results filters see.")
    combine: Literal["mean", "union"] = Field(
        default="mean", description="Several anchors: objects like all (mean) or any (union)."
    )
    other_rows: bool = Field(default=False, description="Skip objects on the anchors' rows.")


def add_embedding_routes(
    app: FastAPI, workspace: Callable[[], AbstractContextManager[Workspace]]
) -> None:
    """Register the embedding routes; ``workspace()`` lends the open workspace."""

    @app.get("/api/embeddings", tags=["embeddings"])
    def list_spaces() -> dict[str, Any]:
        """The embedding spaces by name."""
        with workspace() as ws:
            return {"spaces": [s.to_json() for s in ws.embedding_spaces()]}

    @app.post("/api/embeddings/{space}/similar", tags=["embeddings"])
    def similar(space: str, body: SimilarQuery) -> dict[str, Any]:
        """The ``k`` rows nearest to the anchors, vector or text, among the filter's rows."""
        with workspace() as ws:
            found = ws.similar(
                space,
                rows=body.anchors,
                vector=body.vector,
                text=body.text,
                k=body.k,
                filter=body.filter,
                run=body.run,
                combine=body.combine,
                objects=body.objects,
            )
        return {"rows": [r.to_json() for r in found]}

    @app.post("/api/embeddings/{space}/similar-objects", tags=["embeddings"])
    def similar_objects(space: str, body: SimilarObjectsQuery) -> dict[str, Any]:
        """The ``k`` objects of an object space nearest to the anchor objects or vector,
        each with its data row, class and distance, on the filter's rows."""
        with workspace() as ws:
            found = ws.similar_objects(
                space,
                objects=body.objects,
                vector=body.vector,
                k=body.k,
                filter=body.filter,
                run=body.run,
                combine=body.combine,
                other_rows=body.other_rows,
            )
        return {"objects": [o.to_json() for o in found]}

    @app.get(
        "/api/embeddings/{space}/projection",
        tags=["embeddings"],
        response_class=Response,
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    def get_projection(
        space: str, method: Annotated[str, Query(description=METHOD_HELP)] = "pca"
    ) -> Response:
        """The space's 2-D points: int64 ids then float32 (x, y) pairs, little-endian; an
        object space's (``X-Level: object``) then the int64 data row id of each object."""
        with workspace() as ws:
            proj = ws.projection(space, method)
        level = "row" if proj.rows is None else "object"
        return Response(
            proj.to_bytes(),
            media_type="application/octet-stream",
            headers={"X-Points": str(len(proj.ids)), "X-Method": method, "X-Level": level},
        )

    @app.post("/api/embeddings/{space}/projection", tags=["embeddings"])
    def recompute_projection(
        space: str, method: Annotated[str, Query(description=METHOD_HELP)] = "pca"
    ) -> dict[str, Any]:
        """Compute the projection again (and cache it); fetch it with ``GET``."""
        with workspace() as ws:
            proj = ws.projection(space, method, recompute=True)
        return {"space": space, "method": method, "points": len(proj.ids)}
