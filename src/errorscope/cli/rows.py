"""``errorscope rows`` and ``errorscope aggregate``: the data rows of a model run that match
a query, and how they are distributed (the SDK's
:meth:`~errorscope.sdk.workspace.Workspace.query` and aggregations, the same engine as
the API)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from errorscope.cli.main import workspace_option
from errorscope.core.query import And, ClassPresent, Filter, SliceMember, Split
from errorscope.core.queryparse import parse_expression, parse_filter
from errorscope.errors import InvalidQueryError
from errorscope.sdk.workspace import Workspace

__all__ = ["aggregate", "rows"]

F = TypeVar("F", bound=Callable[..., Any])


def query_options(fn: F) -> F:
    """The filter options shared by ``rows`` and ``aggregate`` (all of them ANDed)."""
    options = [
        click.option("--run", required=True, help="Model run to query."),
        click.option("--split", "split", metavar="S", help="Only rows of this split ('all': any)."),
        click.option(
            "--class",
            "classes",
            metavar="C",
            multiple=True,
            help="Only rows with a ground-truth label of class C (repeatable: all of them).",
        ),
        click.option(
            "--where",
            "conditions",
            metavar="EXPR",
            multiple=True,
            help="Metric condition such as 'iou<0.5', 'person.iou<=0.5', 'fp>=1' "
            "(repeatable: all).",
        ),
        click.option(
            "--slice",
            "slices",
            metavar="NAME",
            multiple=True,
            help="Only rows of this saved or ready-made slice (repeatable: all of them).",
        ),
        click.option(
            "--filter",
            "filter_json",
            metavar="JSON",
            help='Any filter in its JSON form, e.g. \'{"type": "object", "side": '
            '"prediction", "status": "FP", "min_confidence": 0.8}\'.',
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def build_filter(
    split: str | None,
    classes: tuple[str, ...],
    conditions: tuple[str, ...],
    slices: tuple[str, ...],
    filter_json: str | None,
) -> Filter | None:
    parts: list[Filter] = []
    if split is not None and split != "all":
        parts.append(Split((split,)))
    parts.extend(ClassPresent("label", c) for c in classes)
    parts.extend(parse_expression(e) for e in conditions)
    parts.extend(SliceMember(n) for n in slices)
    if filter_json is not None:
        try:
            parts.append(parse_filter(json.loads(filter_json)))
        except json.JSONDecodeError as exc:
            raise InvalidQueryError(f"--filter: malformed JSON: {exc}") from None
    if len(parts) == 1 and isinstance(parts[0], SliceMember):
        return parts[0]  # a lone ready-made slice keeps its own order
    return And(tuple(parts)) if parts else None


def _show(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.6g}" if isinstance(value, int | float) else str(value)


@click.command()
@workspace_option
@query_options
@click.option(
    "--sort",
    metavar="KEY[:asc|desc]",
    help="Order (ties by row id): [CLASS.]METRIC, meta(FIELD) or custom(NAME).",
)
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
    filter_json: str | None,
    sort: str | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Print the ids (and global keys and sort values) of a run's matching data rows."""
    where = build_filter(split, classes, conditions, slices, filter_json)
    with Workspace(workspace) as ws:
        page = ws.query(run, where, sort=sort, limit=limit, cursor=cursor)
    if as_json:
        click.echo(json.dumps(page.to_json(), indent=2))
        return
    for r in page.rows:
        click.echo(f"{r.id}\t{r.global_key or ''}\t{_show(r.sort_value)}")
    more = f"; next page: --cursor {page.next_cursor}" if page.next_cursor else ""
    click.echo(f"{len(page.rows)} of {page.total} matching rows{more}", err=True)


@click.command()
@workspace_option
@query_options
@click.option(
    "--view",
    type=click.Choice(["counts", "metrics", "confusion", "histogram"]),
    default="counts",
    show_default=True,
    help="Per-class counts, per-class metrics, the confusion matrix, or a histogram.",
)
@click.option("--metric", default="iou", show_default=True, help="Histogram: the row metric.")
@click.option("--of-class", "of_class", metavar="C", help="Histogram: class C's metric per row.")
@click.option("--bins", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (with click-through filters).")
def aggregate(
    workspace: Path,
    run: str,
    split: str | None,
    classes: tuple[str, ...],
    conditions: tuple[str, ...],
    slices: tuple[str, ...],
    filter_json: str | None,
    view: str,
    metric: str,
    of_class: str | None,
    bins: int,
    as_json: bool,
) -> None:
    """Print how a run's matching rows are distributed: per-class counts or metrics, the
    confusion matrix, or a histogram of a metric. With --json every bar, cell and bin
    carries the filter that selects its rows (for `rows --filter`)."""
    where = build_filter(split, classes, conditions, slices, filter_json)
    with Workspace(workspace) as ws:
        if view == "counts":
            found = ws.class_counts(run, where)
        elif view == "metrics":
            found = ws.class_metrics(run, where)
        elif view == "confusion":
            found = ws.confusion(run, where)
        else:
            found = ws.histogram(run, metric, where, bins=bins, class_name=of_class)
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if view == "counts":
        click.echo("side\tclass\tcount\trows")
        for side in ("labels", "predictions"):
            for c in found[side]:
                click.echo(f"{side}\t{c['class_name']}\t{c['count']}\t{c['rows']}")
    elif view == "metrics":
        click.echo("class\ttp\tfp\tfn\tprecision\trecall\tf1\tiou")
        for c in found["classes"]:
            values = [c[k] for k in ("tp", "fp", "fn", "precision", "recall", "f1", "iou")]
            click.echo("\t".join([c["class_name"], *(_show(v) for v in values)]))
    elif view == "confusion":
        click.echo("gt\tpredicted\tobjects\trows")
        for c in found["cells"]:
            gt, pred = c["gt_class"] or "(none)", c["pred_class"] or "(none)"
            click.echo(f"{gt}\t{pred}\t{c['count']}\t{c['rows']}")
    else:
        click.echo("lo\thi\trows")
        for b in found["bins"]:
            click.echo(f"{b['lo']:.6g}\t{b['hi']:.6g}\t{b['count']}")
