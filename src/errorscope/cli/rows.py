"""``errorscope rows``: the data rows of a model run that match a query (the SDK's
:meth:`~errorscope.sdk.workspace.Workspace.query`, the same engine as the API)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from errorscope.cli.main import workspace_option
from errorscope.core.query import (
    And,
    ClassPresent,
    Filter,
    SliceMember,
    Split,
    parse_expression,
)
from errorscope.sdk.workspace import Workspace

__all__ = ["rows"]


@click.command()
@workspace_option
@click.option("--run", required=True, help="Model run to query.")
@click.option("--split", "split", metavar="S", help="Only rows of this split ('all': any).")
@click.option(
    "--class",
    "classes",
    metavar="C",
    multiple=True,
    help="Only rows with a ground-truth label of class C (repeatable: all of them).",
)
@click.option(
    "--where",
    "conditions",
    metavar="EXPR",
    multiple=True,
    help="Metric condition such as 'iou<0.5', 'person.iou<=0.5', 'fp>=1' (repeatable: all).",
)
@click.option(
    "--slice",
    "slices",
    metavar="NAME",
    multiple=True,
    help="Only rows of this saved or ready-made slice (repeatable: all of them).",
)
@click.option("--sort", metavar="[CLASS.]METRIC:asc|desc", help="Order (ties by row id).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--cursor", help="Continue after a previous page (its next_cursor).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def rows(
    workspace: Path,
    run: str,
    split: str | None,
    classes: tuple[str, ...],
    conditions: tuple[str, ...],
    slices: tuple[str, ...],
    sort: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Print the ids (and global keys and sort values) of a run's matching data rows."""
    parts: list[Filter] = []
    if split is not None and split != "all":
        parts.append(Split((split,)))
    parts.extend(ClassPresent("label", c) for c in classes)
    parts.extend(parse_expression(e) for e in conditions)
    parts.extend(SliceMember(n) for n in slices)
    where: Filter | None = And(tuple(parts)) if parts else None
    if len(parts) == 1 and isinstance(parts[0], SliceMember):
        where = parts[0]  # a lone ready-made slice keeps its own order
    with Workspace(workspace) as ws:
        page = ws.query(run, where, sort=sort, limit=limit, cursor=cursor)
    if as_json:
        click.echo(json.dumps(page.to_json(), indent=2))
        return
    for r in page.rows:
        value = "-" if r.sort_value is None else f"{r.sort_value:.6g}"
        click.echo(f"{r.id}\t{r.global_key or ''}\t{value}")
    more = f"; next page: --cursor {page.next_cursor}" if page.next_cursor else ""
    click.echo(f"{len(page.rows)} of {page.total} matching rows{more}", err=True)
