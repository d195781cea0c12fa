"""The catalog over the REST API: every data row of the workspace, beyond one run.

``GET /api/catalog`` summarises the datasets (rows, labeled, unlabeled), the ground-truth
classes and the metadata fields; ``GET`` and ``POST /api/catalog/rows`` page through the
rows matching a run-less filter (:meth:`~errorscope.sdk.catalog.CatalogMixin.catalog`)
with the shape of ``/api/runs/{run}/rows``: ``{"rows": [{"id", "global_key",
"sort_value"}], "total", "next_cursor"}``. A filter that needs a run is a 400.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from errorscope.sdk.query import MAX_LIMIT
from errorscope.sdk.workspace import Workspace
from errorscope.server.rows import FILTER_HELP, parse_filter_param

__all__ = ["CatalogQuery", "add_catalog_routes"]

SORT_HELP = "id (default) or meta(FIELD)[:asc|:desc]: the catalog has no run metrics."
DATASET_HELP = "Only rows of these datasets (default: every dataset)."
UNLABELED_HELP = "Only rows without any ground truth."


class CatalogQuery(BaseModel):
    """The body of ``POST /api/catalog/rows``."""

    model_config = ConfigDict(extra="forbid")

    filter: dict[str, Any] | None = Field(default=None, description=FILTER_HELP)
    datasets: list[str] | None = Field(default=None, description=DATASET_HELP)
    unlabeled: bool = Field(default=False, description=UNLABELED_HELP)
    sort: str | None = Field(default=None, description=SORT_HELP)
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")


def add_catalog_routes(
    app: FastAPI, workspace: Callable[[], AbstractContextManager[Workspace]]
) -> None:
    """Register the routes; ``workspace()`` lends the open workspace."""

    @app.get("/api/catalog", tags=["catalog"])
    def get_catalog() -> dict[str, Any]:
        """Per dataset its rows (total, labeled, unlabeled), the ground-truth classes and
        the metadata fields."""
        with workspace() as ws:
            return ws.catalog_summary()

    @app.get("/api/catalog/rows", tags=["catalog"])
    def get_catalog_rows(
        filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
        dataset: Annotated[list[str] | None, Query(description=DATASET_HELP)] = None,
        unlabeled: Annotated[bool, Query(description=UNLABELED_HELP)] = False,
        sort: Annotated[str | None, Query(description=SORT_HELP)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    ) -> dict[str, Any]:
        """Data rows of every dataset (or ``dataset``) matching ``filter``, one page at a
        time."""
        where = parse_filter_param(filter)
        with workspace() as ws:
            page = ws.catalog(
                where, datasets=dataset, unlabeled=unlabeled, sort=sort, limit=limit, cursor=cursor
            )
        return page.to_json()

    @app.post("/api/catalog/rows", tags=["catalog"])
    def post_catalog_rows(body: CatalogQuery) -> dict[str, Any]:
        """As ``GET``, with the query in a JSON body."""
        with workspace() as ws:
            page = ws.catalog(
                body.filter,
                datasets=body.datasets,
                unlabeled=body.unlabeled,
                sort=body.sort,
                limit=body.limit,
                cursor=body.cursor,
            )
        return page.to_json()
