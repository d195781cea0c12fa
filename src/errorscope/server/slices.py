"""Slices CRUD: ``GET``/``POST /api/slices`` and ``GET``/``DELETE /api/slices/{name}``.

A slice is ``{"name", "description", "filter", "run", "ready_made"}``; a duplicate
name is a 409, an unknown one a 404, a bad filter a 400 (the standard error shape)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from errorscope.sdk.workspace import Workspace
from errorscope.server.errors import ErrorBody
from errorscope.server.rows import FILTER_HELP

__all__ = ["NewSlice", "add_slice_routes"]


class NewSlice(BaseModel):
    """The body of ``POST /api/slices``."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Unique name of the slice.")
    filter: dict[str, Any] = Field(description=FILTER_HELP)
    description: str = ""
    run: str | None = Field(default=None, description="The run the slice is meant for.")


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "A slice of that name exists"}
}


def add_slice_routes(
    app: FastAPI, workspace: Callable[[], AbstractContextManager[Workspace]]
) -> None:
    """Register the slice routes; ``workspace()`` lends the open workspace."""

    @app.get("/api/slices", tags=["slices"])
    def list_slices(
        ready_made: Annotated[bool, Query(description="Include the ready-made slices.")] = False,
    ) -> dict[str, Any]:
        """The saved slices by name (and the ready-made ones first, if asked)."""
        with workspace() as ws:
            return {"slices": [s.to_json() for s in ws.slices(ready_made=ready_made)]}

    @app.post("/api/slices", tags=["slices"], status_code=201, responses=CONFLICT)
    def create_slice(body: NewSlice) -> dict[str, Any]:
        """Save a slice; its filter may refer to other slices but not back to itself."""
        with workspace() as ws:
            found = ws.save_slice(
                body.name, body.filter, description=body.description, run=body.run
            )
        return found.to_json()

    @app.get("/api/slices/{name}", tags=["slices"])
    def get_slice(name: str) -> dict[str, Any]:
        """One saved or ready-made slice."""
        with workspace() as ws:
            return ws.get_slice(name).to_json()

    @app.delete("/api/slices/{name}", tags=["slices"])
    def delete_slice(name: str) -> dict[str, Any]:
        """Delete a saved slice."""
        with workspace() as ws:
            ws.delete_slice(name)
        return {"deleted": name}
