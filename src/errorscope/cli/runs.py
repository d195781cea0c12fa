"""``errorscope run create|list`` and ``errorscope split``: model runs and their splits."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from errorscope.cli.main import workspace_option
from errorscope.sdk.workspace import Workspace

__all__ = ["run_group", "split"]


def _ratios(ctx: click.Context, param: click.Parameter, value: str) -> tuple[float, float, float]:
    try:
        parts = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter("three numbers separated by commas, e.g. 0.8,0.1,0.1") from None
    if len(parts) != 3:
        raise click.BadParameter("three numbers separated by commas, e.g. 0.8,0.1,0.1")
    return parts[0], parts[1], parts[2]


@click.command()
@workspace_option
@click.option("--run", required=True, help="Model run whose rows to split.")
@click.option(
    "--ratios",
    default="0.8,0.1,0.1",
    show_default=True,
    callback=_ratios,
    help="train,valid,test fractions.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--reuse-from",
    metavar="RUN",
    help="Keep the split that RUN gave to rows it shares; split only the rest.",
)
def split(
    workspace: Path, run: str, ratios: tuple[float, float, float], seed: int, reuse_from: str | None
) -> None:
    """Assign a seeded train/valid/test split to a model run's data rows."""
    with Workspace(workspace) as ws:
        counts = ws.assign_splits(run, ratios=ratios, seed=seed, reuse_from=reuse_from)
    click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))


@click.group("run")
def run_group() -> None:
    """Create and list model runs."""


@run_group.command("create")
@workspace_option
@click.argument("name")
@click.option(
    "--model",
    default="default",
    show_default=True,
    help="Model the run belongs to (created if missing).",
)
@click.option(
    "--config",
    "config_json",
    default="{}",
    show_default=True,
    help="Free JSON object stored with the run (hyper-parameters, commit, ...).",
)
def run_create(workspace: Path, name: str, model: str, config_json: str) -> None:
    """Create an empty model run; predictions are added with `errorscope import ... --run`."""
    try:
        config = json.loads(config_json)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--config") from None
    if not isinstance(config, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--config")
    with Workspace(workspace) as ws:
        run = ws.create_run(name, model=model, config=config)
    click.echo(f"created run {run.name!r} of model {run.model!r}")


@run_group.command("list")
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def run_list(workspace: Path, as_json: bool) -> None:
    """Model runs with their model, status and config."""
    with Workspace(workspace) as ws:
        runs = ws.runs()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(r) for r in runs], indent=2))
        return
    for r in runs:
        click.echo(f"{r.name}\tmodel {r.model}\t{r.status}\t{json.dumps(r.config)}")
