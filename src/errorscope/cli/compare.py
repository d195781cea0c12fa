"""``errorscope compare``: metric deltas and flipped objects between two evaluated runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from errorscope.cli.main import workspace_option
from errorscope.sdk.workspace import Workspace

__all__ = ["compare"]


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:+.3f}" if v else " 0.000"
    return f"{v:+d}" if v else "0"


def _score(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


@click.command()
@workspace_option
@click.option("--runs", nargs=2, required=True, metavar="A B", help="Baseline run, new run.")
@click.option("--slice", "slice_name", metavar="S", help="Only rows of this slice (on run A).")
@click.option("--limit", type=int, default=20, show_default=True, help="Flipped objects shown.")
@click.option("--json", "as_json", is_flag=True, help="Print the full comparison as JSON.")
def compare(
    workspace: Path, runs: tuple[str, str], slice_name: str | None, limit: int, as_json: bool
) -> None:
    """Compare two evaluated runs on the rows they share: per-class and overall deltas
    (B - A), ground-truth objects that flipped TP<->FN, and errors by type."""
    a, b = runs
    with Workspace(workspace) as ws:
        out = ws.compare(a, b, slice=slice_name)
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    where = f" in slice {slice_name!r}" if slice_name else ""
    click.echo(f"{b} vs {a} on {out['rows']} shared rows{where}")
    click.echo(
        f"{'class':<20} {'P ' + a:>10} {'P ' + b:>10} {'dP':>7} {'R ' + a:>10} "
        f"{'R ' + b:>10} {'dR':>7} {'dF1':>7} {'dTP':>5} {'dFP':>5} {'dFN':>5}"
    )
    for row in [*out["per_class"], {"name": "(all)", **out["overall"]}]:
        ra, rb, d = row["a"], row["b"], row["delta"]
        click.echo(
            f"{row['name']:<20} {_score(ra['precision']):>10} {_score(rb['precision']):>10} "
            f"{_fmt(d['precision']):>7} {_score(ra['recall']):>10} {_score(rb['recall']):>10} "
            f"{_fmt(d['recall']):>7} {_fmt(d['f1']):>7} {_fmt(d['tp']):>5} {_fmt(d['fp']):>5} "
            f"{_fmt(d['fn']):>5}"
        )
    flips = out["flips"]
    click.echo(
        f"flipped ground truth: {flips['fn_to_tp']} FN->TP (fixed), "
        f"{flips['tp_to_fn']} TP->FN (regressed)"
    )
    for f in flips["objects"][:limit]:
        click.echo(
            f"  {f['from']}->{f['to']}  {f['global_key'] or f['data_row_id']}  {f['name']}  "
            f"error {f['error_type'] or '-'}"
        )
    for kind in ("fp", "fn"):
        ea, eb = out["errors"][kind]["a"], out["errors"][kind]["b"]
        types = sorted(set(ea) | set(eb))
        text = ", ".join(f"{t} {ea.get(t, 0)}->{eb.get(t, 0)}" for t in types) or "none"
        click.echo(f"{kind.upper()} by error type: {text}")
