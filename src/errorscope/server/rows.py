"""The gallery query: ``GET`` and ``POST /api/runs/{run}/rows`` over ``Workspace.query``.

``GET`` takes the filter as a JSON string in ``?filter=``; ``POST`` takes a JSON body
``{"filter": {...}, "sort": "iou:asc", "limit": 50, "cursor": null}`` (unknown keys are
a 400). Both answer ``{"rows": [{"id", "global_key", "sort_value"}], "total",
"next_cursor"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any

import orjson
from fastapi import FastAPI, Query
from pydantic import BaseModel, ConfigDict, Field

from errorscope.errors import InvalidQueryError
from errorscope.sdk.query import MAX_LIMIT
from errorscope.sdk.workspace import Workspace

__all__ = ["RowsQuery", "add_rows_routes", "parse_filter_param"]

FILTER_HELP = 'A filter in its JSON form, e.g. {"type": "split", "values": ["valid"]}.'
SORT_HELP = "[CLASS.]METRIC[:asc|:desc], e.g. iou:asc or person.f1:desc; default by id."


class RowsQuery(BaseModel):
    """The body of ``POST /api/runs/{run}/rows``."""

    model_config = ConfigDict(extra="forbid")

    filter: dict[str, Any] | None = Field(default=None, description=FILTER_HELP)
    sort: str | None = Field(default=None, description=SORT_HELP)
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(default=None, description="next_cursor of the previous page")


def parse_filter_param(text: str | None) -> dict[str, Any] | None:
    if text is None or not text.strip():
        return None
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidQueryError(f"filter: malformed JSON: {exc}") from None
    if not isinstance(value, dict):
        raise InvalidQueryError(f"filter: expected a JSON object, got {type(value).__name__}")
    return value


def add_rows_routes(
    app: FastAPI, workspace: Callable[[], AbstractContextManager[Workspace]]
) -> None:
    """Register the two routes; ``workspace()`` lends the open workspace."""

    @app.get("/api/runs/{run}/rows", tags=["rows"])
    def get_rows(
        run: str,
        filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
        sort: Annotated[str | None, Query(description=SORT_HELP)] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
    ) -> dict[str, Any]:
        """The run's data rows matching ``filter``, sorted, one page at a time."""
        where = parse_filter_param(filter)
        with workspace() as ws:
            return ws.query(run, where, sort=sort, limit=limit, cursor=cursor).to_json()

    @app.post("/api/runs/{run}/rows", tags=["rows"])
    def post_rows(run: str, body: RowsQuery) -> dict[str, Any]:
        """As ``GET``, with the query in a JSON body."""
        with workspace() as ws:
            page = ws.query(run, body.filter, sort=body.sort, limit=body.limit, cursor=body.cursor)
        return page.to_json()
