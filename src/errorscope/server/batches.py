"""Run comparison and labeling batches over the REST API.

``GET /api/compare?a=&b=&slice=`` answers :meth:`errorscope.sdk.compare.CompareMixin.
compare`; ``GET /api/batches`` lists the labeling batches by priority."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import FastAPI, Query

from errorscope.sdk.workspace import Workspace

__all__ = ["add_batch_routes"]


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
