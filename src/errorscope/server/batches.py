"""Run comparison and labeling batches over the REST API.

``GET /api/compare?a=&b=&slice=`` answers :meth:`errorscope.sdk.compare.CompareMixin.
compare`; ``GET /api/batches`` lists the labeling batches by priority, ``POST
/api/batches`` creates one (from a gallery selection, a filter, a slice or a similarity
result), ``GET /api/labeling-projects`` lists the projects."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from errorscope.sdk.workspace import Workspace
from errorscope.server.errors import ErrorBody
from errorscope.server.rows import FILTER_HELP

__all__ = ["NewBatch", "add_batch_routes"]


class NewBatch(BaseModel):
    """The body of ``POST /api/batches``: rows by exactly one of ``ids`` (a selection),
    ``filter`` or ``slice`` (on ``run``) or ``similar`` (a similarity result's ids)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="Unique name of the batch.")
    project: str = Field(description="The labeling project the batch goes to.")
    priority: int = Field(default=3, ge=1, le=5, description="1 (highest) to 5.")
    run: str | None = Field(default=None, description="Run of the filter/slice and pre-labels.")
    ids: list[int] | None = None
    filter: dict[str, Any] | None = Field(default=None, description=FILTER_HELP)
    slice: str | None = None
    similar: list[int] | None = None


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "A batch of that name exists"}
}


def add_batch_routes(
    app: FastAPI, workspace: Callable[[], AbstractContextManager[Workspace]]
) -> None:
    """Register the routes; ``workspace()`` lends the open workspace."""

    @app.get("/api/compare", tags=["runs"])
    def get_compare(
        a: Annotated[str, Query(description="The baseline run.")],
        b: Annotated[str, Query(description="The new run.")],
        slice: Annotated[str | None, Query(description="Only rows of this slice (on a).")] = None,
    ) -> dict[str, Any]:
        """Per-class and overall metric deltas (b - a) on the rows both runs evaluated,
        ground-truth objects that flipped TP <-> FN with their error types, and false
        positives and negatives by error type."""
        with workspace() as ws:
            return ws.compare(a, b, slice=slice)

    @app.get("/api/batches", tags=["labeling"])
    def get_batches(
        project: Annotated[str | None, Query(description="Only this project's.")] = None,
    ) -> list[dict[str, Any]]:
        """Labeling batches by priority (1 first), with their project, run and size."""
        with workspace() as ws:
            return [dataclasses.asdict(b) for b in ws.batches(project)]

    @app.post("/api/batches", tags=["labeling"], status_code=201, responses=CONFLICT)
    def create_batch(body: NewBatch) -> dict[str, Any]:
        """Create a batch; rows already in the project are skipped and listed in
        ``skipped_in_project``."""
        with workspace() as ws:
            report = ws.create_batch(
                body.name,
                project=body.project,
                run=body.run,
                ids=body.ids,
                filter=body.filter,
                slice=body.slice,
                similar=body.similar,
                priority=body.priority,
            )
        return report.as_dict()

    @app.get("/api/labeling-projects", tags=["labeling"])
    def get_projects() -> list[dict[str, Any]]:
        """Labeling projects with their backend and settings (never a token)."""
        with workspace() as ws:
            return [dataclasses.asdict(p) for p in ws.labeling_projects()]
