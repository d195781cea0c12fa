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

__all__ = ["add_aggregate_routes", "add_breakdown_routes"]


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


def add_breakdown_routes(
    app: FastAPI, workspace: Callable[[], AbstractContextManager[Workspace]]
) -> None:
    """The metrics view's pieces, each on its own route so that it loads on its own."""

    @app.get("/api/runs/{run}/classes", tags=["rows"])
    def get_classes(
        run: str,
        filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
    ) -> dict[str, Any]:
        """Per-class bars of the run's rows matching ``filter``: label and kept-prediction
        counts (``labels``, ``predictions``) and TP/FP/FN, precision, recall, F1 and IoU
        (``metrics``), each bar with the filter selecting its rows."""
        where = parse_filter_param(filter)
        with workspace() as ws:
            counts = ws.class_counts(run, where)
            counts["metrics"] = ws.class_metrics(run, where)["classes"]
        return counts

    @app.get("/api/runs/{run}/confusion", tags=["rows"])
    def get_confusion(
        run: str,
        filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
    ) -> dict[str, Any]:
        """The confusion matrix (with a None class) of the run's rows matching
        ``filter``, each cell with the filter selecting its rows."""
        where = parse_filter_param(filter)
        with workspace() as ws:
            return ws.confusion(run, where)

    @app.get("/api/runs/{run}/histogram", tags=["rows"])
    def get_histogram(
        run: str,
        metric: Annotated[str, Query(description="a row metric, e.g. iou or fp")],
        filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
        class_name: Annotated[
            str | None, Query(description="bin this class's metric in each row")
        ] = None,
        bins: Annotated[int, Query(ge=1, le=1000)] = 20,
    ) -> dict[str, Any]:
        """Equal-width bins of a row metric (or of one class's metric per row) over the
        run's rows matching ``filter``, each bin with the filter selecting its rows."""
        where = parse_filter_param(filter)
        with workspace() as ws:
            return ws.histogram(run, metric, where, bins=bins, class_name=class_name)
