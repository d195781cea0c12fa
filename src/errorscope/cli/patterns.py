"""``errorscope patterns`` / ``label-issues`` / ``intervals`` / ``check``: failure
patterns, label-mistake scores, metric intervals and the CI regression gate (see
:mod:`errorscope.sdk.patterns`, :mod:`errorscope.sdk.labelissues` and
:mod:`errorscope.sdk.uncertainty`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import orjson

from errorscope.cli.main import workspace_option
from errorscope.sdk.workspace import Workspace

__all__ = ["check", "intervals", "label_issues", "patterns"]


def _filter(split: str | None, slice_name: str | None) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    if split:
        parts.append({"type": "split", "values": [split]})
    if slice_name:
        parts.append({"type": "slice", "name": slice_name})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"type": "and", "filters": parts}


def _ci(entry: dict[str, Any]) -> str:
    v, (lo, hi) = entry["value"], entry["ci"]
    if v is None:
        return "-"
    if lo is None or hi is None:
        return f"{v:.3f}"
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


@click.command()
@workspace_option
@click.option("--run", required=True, help="An evaluated model run.")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--split", metavar="S", help="Search only the rows of this split.")
@click.option("--slice", "slice_name", metavar="NAME", help="Search only this slice's rows.")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="Significance level.")
@click.option(
    "--correction",
    type=click.Choice(["holm", "bh"]),
    default="holm",
    show_default=True,
    help="Multiple-comparison correction: Holm (family-wise) or Benjamini-Hochberg (FDR).",
)
@click.option("--significant", is_flag=True, help="Only patterns below the corrected alpha.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def patterns(
    workspace: Path,
    run: str,
    top: int,
    split: str | None,
    slice_name: str | None,
    alpha: float,
    correction: str,
    significant: bool,
    as_json: bool,
) -> None:
    """Failure patterns of a run, worst first, with intervals and corrected p-values."""
    with Workspace(workspace) as ws:
        found = ws.patterns(
            run,
            filter=_filter(split, slice_name),
            top=top,
            alpha=alpha,
            correction="bh" if correction == "bh" else "holm",
            significant_only=significant,
        )
    if as_json:
        click.echo(orjson.dumps([p.to_json() for p in found]).decode())
        return
    if not found:
        click.echo("no patterns")
        return
    for p in found:
        mark = "*" if p.significant else " "
        click.echo(f"{p.rank:>3}{mark} {p.description}")
        click.echo(f"      rows: {json.dumps(p.to_json()['filter'])}")
    click.echo(f"* significant at alpha {alpha} after {correction} correction")


@click.command("label-issues")
@workspace_option
@click.option("--run", required=True, help="An evaluated model run.")
@click.option("--top", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--objects", is_flag=True, help="Per object instead of per data row.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--store",
    is_flag=True,
    help="Also store the rows' scores as the run's mislabel_score (read by the "
    "candidate_mislabels slice), replacing the ones stored before.",
)
def label_issues(
    workspace: Path, run: str, top: int, objects: bool, as_json: bool, store: bool
) -> None:
    """Rows (or objects) most likely to be labeling mistakes, with scores in [0, 1]."""
    with Workspace(workspace) as ws:
        issues = ws.label_issues(run, store=store)
    table = issues.objects if objects else issues.rows
    records = table.slice(0, top).to_pylist()
    if as_json:
        click.echo(orjson.dumps({"method": issues.method, "items": records}).decode())
        return
    click.echo(f"method: {issues.method}")
    for r in records:
        what = f"{r['source']} {r['class_name']} #{r['annotation_id']}" if objects else ""
        click.echo(f"{r['score']:.3f}  {r['kind'] or '-':<14} {r['global_key']}  {what}".rstrip())


@click.command()
@workspace_option
@click.option("--run", required=True, help="An evaluated model run.")
@click.option("--split", metavar="S", help="Only the rows of this split.")
@click.option("--slice", "slice_name", metavar="NAME", help="Only this slice's rows.")
@click.option("--boot", type=click.IntRange(min=50), default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def intervals(
    workspace: Path, run: str, split: str | None, slice_name: str | None, boot: int, as_json: bool
) -> None:
    """Precision, recall, F1 (and AP at the IoU threshold) with 95% intervals."""
    with Workspace(workspace) as ws:
        data = ws.intervals(run, filter=_filter(split, slice_name), n_boot=boot)
    if as_json:
        click.echo(orjson.dumps(data).decode())
        return
    print_intervals(data)


def print_intervals(data: dict[str, Any]) -> None:
    """The text table of :meth:`Workspace.intervals` (also ``evaluate --ci``)."""
    click.echo(f"95% row-bootstrap intervals over {data['rows']} rows ({data['n_boot']} resamples)")
    rows = [("(all)", data["overall"]), *data["per_class"].items()]
    width = max(12, *(len(n) for n, _ in rows))
    cols = ("precision", "recall", "f1")
    extra = any("ap_at_iou" in e for _, e in rows)
    head = "".join(f"{c:>26}" for c in cols) + (f"{'ap_at_iou':>26}" if extra else "")
    click.echo(f"{'class':<{width}}{head}")
    for name, e in rows:
        line = "".join(f"{_ci(e[c]):>26}" for c in cols)
        if extra:
            line += f"{_ci(e['ap_at_iou']) if 'ap_at_iou' in e else '-':>26}"
        click.echo(f"{name:<{width}}{line}")


@click.command()
@workspace_option
@click.option("--run", required=True, help="The new run.")
@click.option("--baseline", required=True, help="The run to compare against.")
@click.option("--slice", "slices", metavar="S", multiple=True, help="A slice to gate (repeat).")
@click.option("--class", "classes", metavar="C", multiple=True, help="A class to gate (repeat).")
@click.option("--max-drop", type=float, default=0.02, show_default=True)
@click.option(
    "--metric", type=click.Choice(["f1", "precision", "recall"]), default="f1", show_default=True
)
@click.option("--boot", type=click.IntRange(min=50), default=1000, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def check(
    workspace: Path,
    run: str,
    baseline: str,
    slices: tuple[str, ...],
    classes: tuple[str, ...],
    max_drop: float,
    metric: str,
    boot: int,
    as_json: bool,
) -> None:
    """CI gate: exit 1 when a slice or class (or the run) regressed beyond its interval.

    A target regresses when its metric dropped by more than --max-drop and the 95%
    paired-bootstrap interval of the drop excludes zero."""
    with Workspace(workspace) as ws:
        result = ws.check(
            run,
            baseline,
            slices=slices,
            classes=classes,
            max_drop=max_drop,
            metric=metric,
            n_boot=boot,
        )
    if as_json:
        click.echo(orjson.dumps(result.to_json()).decode())
    else:
        for item in result.items:
            d = item.delta
            name = "run" if item.name is None else f"{item.kind} {item.name}"
            state = "REGRESSED" if item.regressed else "ok"
            click.echo(
                f"{state:<9} {name}: {metric} {item.old:.4f} -> {item.new:.4f} "
                f"(delta {d.value:+.4f}, 95% CI [{d.lo:+.4f}, {d.hi:+.4f}], {item.rows} rows)"
            )
        click.echo("passed" if result.passed else f"failed: max drop {max_drop}")
    if not result.passed:
        sys.exit(1)
