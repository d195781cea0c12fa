"""Aggregations: ``GET /api/runs/{run}/aggregate?filter=<JSON>`` over ``Workspace.aggregate``.

Answers per-class label and kept-prediction counts and the confusion matrix of the rows
matching the filter, each bar and cell with its click-through filter (see
:meth:`errorscope.sdk.aggregate.AggregateMixin.aggregate`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import FastAPI, Query

from errorscope.sdk.workspace import Workspace
from errorscope.server.rows import FILTER_HELP, parse_filter_param

__all__ = ["add_aggregate_routes"]


def add_aggregate_routes(
    app: FastAPI, workspace: Callable[[], AbstractContextManager[Workspace]]
) -> None:
    """Register the route; ``workspace()`` lends the open workspace."""

    @app.get("/api/runs/{run}/aggregate", tags=["rows"])
    def get_aggregate(
        run: str,
        filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
    ) -> dict[str, Any]:
        """Per-class counts of labels and kept predictions and the confusion matrix of the
        run's rows matching ``filter``, each bar and cell with the filter selecting its
        rows."""
        where = parse_filter_param(filter)
        with workspace() as ws:
            return ws.aggregate(run, where)
