"""``create_app``: the FastAPI app over one workspace.

The workspace is opened once, when the app starts (lifespan), and closed when it stops;
requests use it one at a time (a DuckDB connection is not shared between threads). All
answers are JSON (user text is never rendered as HTML) with ``X-Content-Type-Options:
nosniff``; every error has the shape of :mod:`errorscope.server.errors`.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query
from starlette.responses import FileResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from errorscope.errors import NotFoundError, WorkspaceError
from errorscope.sdk.rows import row_detail
from errorscope.sdk.workspace import Workspace
from errorscope.server.aggregate import add_aggregate_routes, add_breakdown_routes
from errorscope.server.batches import add_batch_routes
from errorscope.server.catalog import add_catalog_routes
from errorscope.server.embeddings import add_embedding_routes
from errorscope.server.errors import ERROR_RESPONSES, install_error_handlers
from errorscope.server.jobs import add_job_routes
from errorscope.server.jsonresponse import JSONResponse
from errorscope.server.media import MediaRoots, thumbnail
from errorscope.server.patterns import add_pattern_routes
from errorscope.server.points import add_points_routes
from errorscope.server.rows import add_rows_routes
from errorscope.server.slices import add_slice_routes
from errorscope.server.ui import add_ui_routes

__all__ = ["THUMBNAIL_DIR", "create_app"]

#: Thumbnails are cached in this directory of the workspace.
THUMBNAIL_DIR = "thumbnails"
MIN_THUMB, MAX_THUMB = 16, 2048


def _version() -> str:
    try:
        return version("errorscope")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


@dataclass
class _State:
    path: Path
    media: MediaRoots
    workspace: Workspace | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def ws(self) -> Iterator[Workspace]:
        if self.workspace is None:
            raise WorkspaceError("the workspace is not open (the server is not running)")
        with self.lock:
            yield self.workspace


class _NoSniff:
    """ASGI middleware: ``X-Content-Type-Options: nosniff`` on every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_header)


def _columns(table: Any) -> dict[str, list[Any]]:
    return {name: table.column(name).to_pylist() for name in table.column_names}


def create_app(workspace_path: str | Path, *, media_roots: list[Path] | None = None) -> FastAPI:
    """The app serving the workspace at ``workspace_path`` (which must exist). Media are
    served from ``media_roots`` and the workspace directory itself."""
    path = Path(workspace_path)
    if not path.is_dir():
        raise WorkspaceError(f"no workspace at {path}")
    state = _State(path=path, media=MediaRoots([*(media_roots or []), path]))

    def warm() -> None:
        # Build the runs' query indexes before the first request needs them. A failure
        # here only means that the first query builds the index (and reports the error).
        with contextlib.suppress(Exception), state.ws() as ws:
            ws.prepare_queries()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.workspace = Workspace(path, create=False)
        threading.Thread(target=warm, name="errorscope-warm-up", daemon=True).start()
        try:
            yield
        finally:
            with state.lock:  # never close the connection under a running request
                workspace, state.workspace = state.workspace, None
            workspace.close()

    app = FastAPI(
        title="errorscope",
        version=_version(),
        summary="Find and fix model errors: the REST API of one errorscope workspace.",
        lifespan=lifespan,
        default_response_class=JSONResponse,
        responses=ERROR_RESPONSES,
    )
    install_error_handlers(app)
    app.add_middleware(_NoSniff)
    app.state.errorscope = state

    @app.get("/api/info", tags=["workspace"])
    def get_info() -> dict[str, Any]:
        """Counts of data rows, labels, classes and runs, and the media roots."""
        with state.ws() as ws:
            info = ws.info()
        info["version"] = _version()
        info["workspace"] = str(state.path)
        info["media_roots"] = [str(r) for r in state.media.roots]
        return info

    @app.get("/api/runs", tags=["runs"])
    def list_runs() -> dict[str, Any]:
        """Every model run with its model, status, config, counts, splits and whether it
        has been evaluated (and with what params)."""
        with state.ws() as ws:
            counts = {r["name"]: r for r in ws.info()["runs"]}
            out = []
            for run in ws.runs():
                try:
                    params = ws.evaluation(run.name)["params"]
                except NotFoundError:
                    params = None
                c = counts.get(run.name, {})
                out.append(
                    {
                        "name": run.name,
                        "model": run.model,
                        "status": run.status,
                        "config": run.config,
                        "predictions": c.get("predictions", 0),
                        "data_rows": c.get("data_rows", 0),
                        "splits": c.get("splits", {}),
                        "evaluated": params is not None,
                        "evaluation_params": params,
                    }
                )
        return {"runs": out}

    @app.get("/api/runs/{run}/evaluation", tags=["runs"])
    def get_evaluation(run: str) -> dict[str, Any]:
        """The stored summary of the run's last evaluation (404 if never evaluated)."""
        with state.ws() as ws:
            return ws.evaluation(run)

    @app.get("/api/runs/{run}/curves", tags=["runs"])
    def get_curves(
        run: str,
        curve: Literal["coco", "voc"] = "coco",
        iou: Annotated[list[float] | None, Query(description="Keep these IoU thresholds.")] = None,
    ) -> dict[str, Any]:
        """The run's precision/recall curves as JSON columns (``class_name``,
        ``class_id``, ``iou``, ``point``, ``recall``, ``precision``, ``score``)."""
        with state.ws() as ws:
            table = ws.pr_curves(run, iou_thresholds=iou, curve=curve)
        return {"run": run, "curve": curve, "count": table.num_rows, "columns": _columns(table)}

    add_rows_routes(app, state.ws)
    add_slice_routes(app, state.ws)
    add_aggregate_routes(app, state.ws)
    add_pattern_routes(app, state.ws)
    add_breakdown_routes(app, state.ws)
    add_batch_routes(app, state.ws)
    add_catalog_routes(app, state.ws)
    add_embedding_routes(app, state.ws)
    add_points_routes(app, state.ws)
    add_job_routes(app, state.ws)

    @app.get("/api/rows/{row_id}", tags=["rows"])
    def get_row(
        row_id: int,
        run: Annotated[str | None, Query(description="Add this run's predictions.")] = None,
    ) -> dict[str, Any]:
        """One data row with its metadata and labels; with ``run``, the run's predictions
        and, if the run was evaluated, each object's result and the row's metrics."""
        with state.ws() as ws:
            out = row_detail(ws, row_id, run=run)
        out["media_url"] = state.media.url_for(out.get("uri"))
        return out

    @app.get(
        "/media/{path:path}",
        tags=["media"],
        response_class=FileResponse,
        responses={200: {"content": {"image/*": {}}, "description": "The image or thumbnail"}},
    )
    def get_media(
        path: str,
        thumb: Annotated[
            int | None,
            Query(ge=MIN_THUMB, le=MAX_THUMB, description="Longest side of a JPEG thumbnail."),
        ] = None,
    ) -> FileResponse:
        """An image file under a media root, or its cached JPEG thumbnail. Paths that
        leave the roots (``..``, absolute paths, symlinks out) are 404."""
        found = state.media.resolve(path)
        if found is None:
            raise NotFoundError(f"no media file {path!r}")
        if thumb is None:
            return FileResponse(found, headers={"Cache-Control": "private, max-age=3600"})
        small = thumbnail(found, thumb, state.path / THUMBNAIL_DIR)
        if small is None:
            raise NotFoundError(f"media file {path!r} is not a readable image")
        return FileResponse(
            small, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
        )

    add_ui_routes(app)  # the router's fallback: never shadows /api, /media or /docs
    return app
