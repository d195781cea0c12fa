"""``errorscope split``: assign train/valid/test to a run's rows."""

from __future__ import annotations

from pathlib import Path

import click

from errorscope.cli.main import workspace_option
from errorscope.sdk.workspace import Workspace

__all__ = ["split"]


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
