"""``errorscope`` root group: workspace option, error handling, ``info``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from errorscope.errors import ErrorscopeError
from errorscope.sdk.workspace import DEFAULT_WORKSPACE, ENV_WORKSPACE, Workspace

__all__ = ["cli", "main", "workspace_option"]

F = TypeVar("F", bound=Callable[..., Any])


def workspace_option(func: F) -> F:
    """``-w/--workspace PATH`` on every command (env ``ERRORSCOPE_WORKSPACE``)."""
    return click.option(
        "-w",
        "--workspace",
        type=click.Path(file_okay=False, path_type=Path),
        envvar=ENV_WORKSPACE,
        metavar="PATH",
        default=DEFAULT_WORKSPACE,
        show_default=True,
        show_envvar=True,
        help="Workspace directory (created if missing).",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="errorscope")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """errorscope: find and fix model errors.

    Load a dataset, its ground truth and model runs into a workspace, then evaluate,
    query and browse where predictions and labels disagree.
    """
    ctx.obj = {"debug": debug}


@cli.command()
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info(workspace: Path, as_json: bool) -> None:
    """Counts of data rows, labels, classes, runs and predictions per run."""
    with Workspace(workspace) as ws:
        data = ws.info()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(f"workspace   {workspace}")
    click.echo(
        f"data rows   {data['data_rows']} ({data['image_rows']} images, "
        f"{data['text_rows']} texts) in {data['datasets']} dataset(s)"
    )
    click.echo(f"classes     {data['classes']}")
    click.echo(f"labels      {data['labels']}")
    click.echo(f"runs        {len(data['runs'])}")
    for run in data["runs"]:
        splits = ", ".join(f"{k} {v}" for k, v in run["splits"].items())
        click.echo(
            f"  {run['name']} (model {run['model']}, {run['status']}): "
            f"{run['predictions']} predictions on {run['data_rows']} rows [{splits}]"
        )


def _register_subcommands() -> None:
    from errorscope.cli import (
        batches,
        catalog,
        compare,
        demo,
        embeddings,
        evaluate,
        exports,
        imports,
        patterns,
        rows,
        runs,
        serve,
        slices,
    )

    cli.add_command(imports.import_group)
    cli.add_command(exports.export_group)
    cli.add_command(runs.split)
    cli.add_command(runs.run_group)
    cli.add_command(evaluate.evaluate)
    cli.add_command(serve.serve)
    cli.add_command(rows.rows)
    cli.add_command(rows.aggregate)
    cli.add_command(catalog.catalog)
    cli.add_command(slices.slice_group)
    cli.add_command(compare.compare)
    cli.add_command(demo.demo)
    cli.add_command(batches.batch_group)
    for command in (patterns.patterns, patterns.label_issues, patterns.intervals, patterns.check):
        cli.add_command(command)
    imports.import_group.add_command(embeddings.import_embeddings)
    for command in (embeddings.embed, embeddings.similar, embeddings.project, embeddings.spaces):
        cli.add_command(command)


_register_subcommands()


def main(argv: list[str] | None = None) -> None:
    """Entry point: one-line errors with exit code 1 unless ``--debug``."""
    args = sys.argv[1:] if argv is None else argv
    try:
        cli.main(args=args, prog_name="errorscope", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (ErrorscopeError, OSError) as exc:
        if "--debug" in args:
            raise
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
