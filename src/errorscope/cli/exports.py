"""``errorscope export FORMAT OUT``: ground truth, or a run's predictions with ``--run``."""

from __future__ import annotations

from pathlib import Path

import click

from errorscope.cli.main import workspace_option
from errorscope.sdk.workspace import Workspace

__all__ = ["export_group"]

_out = click.Path(dir_okay=False, writable=True, path_type=Path)


@click.group("export")
def export_group() -> None:
    """Export ground truth or predictions to a file."""


@export_group.command("coco")
@workspace_option
@click.argument("out", type=_out)
@click.option("--run", help="Export this run's predictions instead of ground truth.")
@click.option(
    "--results",
    is_flag=True,
    help="With --run: write the results-list form instead of a full COCO file.",
)
def export_coco(workspace: Path, out: Path, run: str | None, results: bool) -> None:
    """COCO JSON (images, categories, annotations; scores for predictions)."""
    with Workspace(workspace) as ws:
        n = ws.export_coco(out, run=run, results=results)
    click.echo(f"wrote {n} annotations to {out}")


@export_group.command("ndjson")
@workspace_option
@click.argument("out", type=_out)
@click.option("--run", help="Export this run's predictions instead of ground truth.")
def export_ndjson(workspace: Path, out: Path, run: str | None) -> None:
    """Labelbox-style NDJSON, one annotation per line."""
    with Workspace(workspace) as ws:
        n = ws.export_ndjson(out, run=run)
    click.echo(f"wrote {n} annotations to {out}")
