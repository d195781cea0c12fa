"""``errorscope serve``: the REST API (and later the browser UI) of a workspace."""

from __future__ import annotations

import threading
import webbrowser
from pathlib import Path

import click

from errorscope.cli.main import workspace_option
from errorscope.sdk.workspace import Workspace

__all__ = ["serve"]


@click.command()
@workspace_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to bind; the default serves this machine only.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=5151, show_default=True)
@click.option(
    "--media-root",
    "media_roots",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Directory images may be served from (repeatable); the workspace is one too.",
)
@click.option("--open", "open_browser", is_flag=True, help="Open the browser once started.")
def serve(
    workspace: Path, host: str, port: int, media_roots: tuple[Path, ...], open_browser: bool
) -> None:
    """Serve the browser UI at / and the JSON API (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    from errorscope.server import create_app

    app = create_app(workspace, media_roots=list(media_roots))
    # fail here, in one line, if the workspace is locked or too new (not in the app's startup)
    Workspace(workspace, create=False).close()
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/"
    click.echo(f"serving {workspace} on http://{shown}:{port} (Ctrl-C to stop)")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")
