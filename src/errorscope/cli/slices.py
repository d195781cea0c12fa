"""``errorscope slice save|list|delete``: saved, named filters (see
:mod:`errorscope.sdk.slices`); ``errorscope rows --slice NAME`` queries one."""

from __future__ import annotations

import json
from pathlib import Path

import click
import orjson

from errorscope.cli.main import workspace_option
from errorscope.core.query import And, ClassPresent, Filter, Split
from errorscope.core.queryparse import parse_expression, parse_filter
from errorscope.errors import InvalidQueryError
from errorscope.sdk.workspace import Workspace

__all__ = ["slice_group"]


@click.group("slice")
def slice_group() -> None:
    """Save, list and delete slices (named filters, re-evaluated at query time)."""


@slice_group.command("save")
@workspace_option
@click.argument("name")
@click.option("--description", default="", help="What the slice holds.")
@click.option("--run", help="The run the slice is meant for.")
@click.option("--filter", "filter_json", metavar="JSON", help="The filter in its JSON form.")
@click.option("--split", metavar="S", help="Only rows of this split.")
@click.option("--class", "classes", metavar="C", multiple=True, help="Rows with a label of C.")
@click.option("--where", "conditions", metavar="EXPR", multiple=True, help="e.g. 'iou<0.5'.")
def save(
    workspace: Path,
    name: str,
    description: str,
    run: str | None,
    filter_json: str | None,
    split: str | None,
    classes: tuple[str, ...],
    conditions: tuple[str, ...],
) -> None:
    """Save the conditions (all of them must hold) as the slice NAME."""
    parts: list[Filter] = []
    if filter_json is not None:
        try:
            obj = orjson.loads(filter_json)
        except orjson.JSONDecodeError as exc:
            raise InvalidQueryError(f"--filter: malformed JSON: {exc}") from None
        parts.append(parse_filter(obj))
    if split is not None and split != "all":
        parts.append(Split((split,)))
    parts.extend(ClassPresent("label", c) for c in classes)
    parts.extend(parse_expression(e) for e in conditions)
    if not parts:
        raise click.UsageError("give the slice's conditions: --filter, --split, --class, --where")
    where = parts[0] if len(parts) == 1 else And(tuple(parts))
    with Workspace(workspace) as ws:
        ws.save_slice(name, where, description=description, run=run)
    click.echo(f"saved slice {name!r}", err=True)


@slice_group.command("list")
@workspace_option
@click.option("--ready-made", is_flag=True, help="Also list the ready-made slices.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def list_(workspace: Path, ready_made: bool, as_json: bool) -> None:
    """The slices: name, run, description and filter."""
    with Workspace(workspace) as ws:
        found = ws.slices(ready_made=ready_made)
    if as_json:
        click.echo(json.dumps({"slices": [s.to_json() for s in found]}, indent=2))
        return
    for s in found:
        spec = json.dumps(s.to_json()["filter"])
        click.echo(f"{s.name}\t{s.run or '-'}\t{s.description}\t{spec}")


@slice_group.command("delete")
@workspace_option
@click.argument("name")
def delete(workspace: Path, name: str) -> None:
    """Delete the saved slice NAME."""
    with Workspace(workspace) as ws:
        ws.delete_slice(name)
    click.echo(f"deleted slice {name!r}", err=True)
