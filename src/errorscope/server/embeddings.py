"""Embedding routes: the spaces, similarity search and 2-D projections.

* ``GET /api/embeddings``: the spaces.
* ``POST /api/embeddings/{space}/similar``: ``{"anchors": [ids] | "vector": [...] |
  "text": "...", "k": 20, "filter": {...}, "run": null, "combine": "mean"}`` ->
  ``{"rows": [{"id", "global_key", "distance"}]}``, best first.
* ``GET /api/embeddings/{space}/projection?method=pca``: the projection as
  ``application/octet-stream``: ``n`` little-endian int64 data row ids, then ``n``
  float32 ``(x, y)`` pairs (``X-Points: n``); computed on first request, then cached.
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

__all__ = ["SimilarQuery", "add_embedding_routes"]

METHOD_HELP = "pca (always available) or umap (the embed extra)."


class SimilarQuery(BaseModel):
    """The body of ``POST /api/embeddings/{space}/similar`` (exactly one of ``anchors``,
    ``vector`` and ``text``)."""

    model_config = ConfigDict(extra="forbid")

    anchors: list[int] | None = Field(
        default=None, min_length=1, max_length=20, description="Anchor data row ids."
    )
    vector: list[float] | None = Field(default=None, description="A raw query vector.")
    text: str | None = Field(default=None, description="A text (text-minilm spaces).")
    k: int = Field(default=20, ge=1, le=MAX_K)
    filter: dict[str, Any] | None = Field(default=None, description=FILTER_HELP)
    run: str | None = Field(default=None, description="The run whose results filters see.")
    combine: Literal["mean", "union"] = Field(
        default="mean", description="Several anchors: rows like all (mean) or any (union)."
    )


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
            )
        return {"rows": [r.to_json() for r in found]}

    @app.get(
        "/api/embeddings/{space}/projection",
        tags=["embeddings"],
        response_class=Response,
        responses={200: {"content": {"application/octet-stream": {}}}},
    )
    def get_projection(
        space: str, method: Annotated[str, Query(description=METHOD_HELP)] = "pca"
    ) -> Response:
        """The space's 2-D points: int64 ids then float32 (x, y) pairs, little-endian."""
        with workspace() as ws:
            proj = ws.projection(space, method)
        return Response(
            proj.to_bytes(),
            media_type="application/octet-stream",
            headers={"X-Points": str(len(proj.ids)), "X-Method": method},
        )

    @app.post("/api/embeddings/{space}/projection", tags=["embeddings"])
    def recompute_projection(
        space: str, method: Annotated[str, Query(description=METHOD_HELP)] = "pca"
    ) -> dict[str, Any]:
        """Compute the projection again (and cache it); fetch it with ``GET``."""
        with workspace() as ws:
            proj = ws.projection(space, method, recompute=True)
        return {"space": space, "method": method, "points": len(proj.ids)}
