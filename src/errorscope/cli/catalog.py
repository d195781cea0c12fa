"""``errorscope catalog``: every data row of the workspace (no model run), filtered; the
SDK's :meth:`~errorscope.sdk.catalog.CatalogMixin.catalog`, the same engine as the
catalog view and ``/api/catalog/rows``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from errorscope.cli.main import workspace_option
from errorscope.cli.rows import build_filter
from errorscope.sdk.workspace import Workspace

__all__ = ["catalog"]


@click.command()
@workspace_option
@click.option(
    "--dataset",
    "datasets",
    metavar="D",
    multiple=True,
    help="Only rows of dataset D (repeatable: any of them; default every dataset).",
)
@click.option(
    "--class",
    "classes",
    metavar="C",
    multiple=True,
    help="Only rows with a ground-truth label of class C (repeatable: all of them).",
)
@click.option("--unlabeled", is_flag=True, help="Only rows without any ground truth.")
@click.option(
    "--slice",
    "slices",
    metavar="NAME",
    multiple=True,
    help="Only rows of this saved slice (one without run filters; repeatable: all).",
)
@click.option(
    "--filter",
    "filter_json",
    metavar="JSON",
    help='A run-less filter in its JSON form, e.g. \'{"type": "metadata", "name": '
    '"camera", "equals": "a"}\' (dataset, class on side label, metadata, text, ids, '
    "similar, slice, and/or/not).",
)
@click.option("--sort", metavar="KEY[:asc|desc]", help="Order: id (default) or meta(FIELD).")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--cursor", help="Continue after a previous page (its next_cursor).")
@click.option(
    "--counts", is_flag=True, help="Print rows, labeled and unlabeled per dataset instead."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def catalog(
    workspace: Path,
    datasets: tuple[str, ...],
    classes: tuple[str, ...],
    unlabeled: bool,
    slices: tuple[str, ...],
    filter_json: str | None,
    sort: str | None,
    limit: int,
    cursor: str | None,
    counts: bool,
    as_json: bool,
) -> None:
    """Print the ids and global keys of the workspace's data rows (every dataset, beyond
    any model run) that match: e.g. the unlabeled rows to send to labeling."""
    where = build_filter(None, classes, (), slices, filter_json)
    with Workspace(workspace) as ws:
        if counts:
            found = ws.catalog_summary()["datasets"]
            if as_json:
                click.echo(json.dumps(found, indent=2))
                return
            click.echo("dataset\trows\tlabeled\tunlabeled")
            for c in found:
                click.echo(f"{c['dataset']}\t{c['total']}\t{c['labeled']}\t{c['unlabeled']}")
            return
        page = ws.catalog(
            where,
            datasets=list(datasets) or None,
            unlabeled=unlabeled,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )
    if as_json:
        click.echo(json.dumps(page.to_json(), indent=2))
        return
    for r in page.rows:
        value = "" if r.sort_value is None else f"\t{r.sort_value}"
        click.echo(f"{r.id}\t{r.global_key or ''}{value}")
    more = f"; next page: --cursor {page.next_cursor}" if page.next_cursor else ""
    click.echo(f"{len(page.rows)} of {page.total} matching rows{more}", err=True)
