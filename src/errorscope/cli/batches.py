"""``errorscope batch ...``: labeling projects, batches, and the labels they bring back
(see :mod:`errorscope.sdk.batches`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, cast

import click

from errorscope.cli.main import workspace_option
from errorscope.sdk.workspace import Workspace

__all__ = ["batch_group"]

_FORMATS = click.Choice(["labelstudio", "cvat", "coco", "ndjson"])
_CONFLICT = click.Choice(["keep", "override"])


def _echo_report(report: Any) -> None:
    r = report.as_dict()
    click.echo(
        f"import {r['import_id']} ({r['strategy']}): {r['rows_completed']} completed rows, "
        f"{len(r['rows_changed'])} changed, {len(r['rows_unchanged'])} unchanged, "
        f"{len(r['rows_kept_existing'])} kept their existing labels; "
        f"{r['labels_added']} labels added, {r['labels_replaced']} replaced (in history)"
    )


@click.group("batch")
def batch_group() -> None:
    """Send data rows to labeling (Label Studio or files) and take the labels back."""


@batch_group.command("project")
@workspace_option
@click.argument("name")
@click.option("--backend", type=click.Choice(["files", "labelstudio"]), default="files")
@click.option("--url", help="Label Studio server URL (labelstudio backend).")
@click.option("--token-env", help="Environment variable holding the Label Studio API token.")
def project(
    workspace: Path, name: str, backend: str, url: str | None, token_env: str | None
) -> None:
    """Create a labeling project."""
    config: dict[str, Any] = {}
    if url:
        config["url"] = url
    if token_env:
        config["token_env"] = token_env
    with Workspace(workspace) as ws:
        ws.create_labeling_project(name, backend=backend, config=config)
    click.echo(f"created {backend} labeling project {name!r}")


@batch_group.command("create")
@workspace_option
@click.argument("name")
@click.option("--project", required=True)
@click.option("--run", help="Run the filter/slice is evaluated on; its predictions pre-label.")
@click.option("--ids", help="Comma-separated data row ids.")
@click.option("--filter", "filter_json", metavar="JSON", help="A filter in its JSON form.")
@click.option("--slice", "slice_name", help="A saved or ready-made slice.")
@click.option("--priority", type=click.IntRange(1, 5), default=3, show_default=True)
def create(
    workspace: Path,
    name: str,
    project: str,
    run: str | None,
    ids: str | None,
    filter_json: str | None,
    slice_name: str | None,
    priority: int,
) -> None:
    """Create a batch from ids, a filter or a slice."""
    try:
        id_list = [int(x) for x in ids.split(",") if x.strip()] if ids else None
    except ValueError:
        raise click.BadParameter("comma-separated integers", param_hint="--ids") from None
    try:
        where = json.loads(filter_json) if filter_json else None
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--filter") from None
    with Workspace(workspace) as ws:
        rep = ws.create_batch(
            name,
            project=project,
            run=run,
            ids=id_list,
            filter=where,
            slice=slice_name,
            priority=priority,
        )
    click.echo(f"batch {name!r}: {len(rep.rows)} rows (priority {priority})")
    if rep.skipped_in_project:
        click.echo(f"skipped {len(rep.skipped_in_project)} rows already in project {project!r}")


@batch_group.command("list")
@workspace_option
@click.option("--project")
def list_batches(workspace: Path, project: str | None) -> None:
    """Batches by priority."""
    with Workspace(workspace) as ws:
        for b in ws.batches(project):
            click.echo(f"{b.name}\tproject {b.project}\tpriority {b.priority}\t{b.rows} rows")


@batch_group.command("export")
@workspace_option
@click.argument("name")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=_FORMATS, default="labelstudio", show_default=True)
@click.option(
    "--prelabels", type=click.Choice(["predictions", "labels", "none"]), default="predictions"
)
@click.option("--run", help="Run whose predictions pre-label (default: the batch's).")
@click.option("--confidence", type=float, default=0.0, show_default=True)
def export(
    workspace: Path,
    name: str,
    out: Path,
    fmt: str,
    prelabels: str,
    run: str | None,
    confidence: float,
) -> None:
    """Write a batch as a file for a labeling tool."""
    with Workspace(workspace) as ws:
        n = ws.export_batch(
            name,
            out,
            format=cast(Any, fmt),
            prelabels=cast(Any, prelabels),
            run=run,
            confidence=confidence,
        )
    click.echo(f"wrote {n} rows to {out}")


@batch_group.command("import")
@workspace_option
@click.argument("name")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=_FORMATS, default="labelstudio", show_default=True)
@click.option("--conflict", type=_CONFLICT, default="keep", show_default=True)
def import_(workspace: Path, name: str, path: Path, fmt: str, conflict: str) -> None:
    """Import a completed export of a batch as ground truth."""
    with Workspace(workspace) as ws:
        _echo_report(ws.import_batch(name, path, format=fmt, conflict=conflict))  # type: ignore[arg-type]


@batch_group.command("push")
@workspace_option
@click.argument("name")
@click.option("--run", help="Run whose predictions pre-label (default: the batch's).")
@click.option("--confidence", type=float, default=0.0, show_default=True)
def push(workspace: Path, name: str, run: str | None, confidence: float) -> None:
    """Send a batch to its Label Studio project as pre-labeled tasks."""
    with Workspace(workspace) as ws:
        out = ws.push_batch(name, run=run, confidence=confidence)
    click.echo(
        f"sent {out['tasks']} tasks with {out['prelabels']} pre-labels to Label Studio "
        f"project {out['project_id']}"
    )


@batch_group.command("pull")
@workspace_option
@click.argument("name")
@click.option("--conflict", type=_CONFLICT, default="keep", show_default=True)
def pull(workspace: Path, name: str, conflict: str) -> None:
    """Read a batch's completed Label Studio tasks into ground truth."""
    with Workspace(workspace) as ws:
        _echo_report(ws.pull_batch(name, conflict=conflict))  # type: ignore[arg-type]
