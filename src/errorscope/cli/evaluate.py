"""``errorscope evaluate``: compute and store a run's metrics, print a summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from errorscope.cli.main import workspace_option
from errorscope.cli.progress import progress_bars
from errorscope.sdk.workspace import Workspace

__all__ = ["evaluate"]


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _thresholds(option: str, values: tuple[str, ...]) -> dict[str, float]:
    """``NAME=VALUE`` pairs (repeatable option) as a dict; the last one of a name wins."""
    out: dict[str, float] = {}
    for item in values:
        name, sep, value = item.rpartition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name] = float(value)
        except ValueError:
            raise click.BadParameter(
                f"expected NAME=NUMBER, got {item!r}", param_hint=option
            ) from None
    return out


def _print_summary(summary: dict[str, Any]) -> None:
    params = summary["params"]
    click.echo(
        f"run {summary['run']}: mode {params['mode']}, IoU {params['iou']}, "
        f"confidence {params['confidence']}, {params['iou_type']}"
    )
    if "coco" in summary:
        click.echo("COCO " + "  ".join(f"{k} {v:.4f}" for k, v in summary["coco"].items()))
    if "voc" in summary:
        v = summary["voc"]
        click.echo(
            f"VOC mAP@{v['iou']}: every-point {_fmt(v['map_all'])}  11-point {_fmt(v['map_11'])}"
        )
    if "entity" in summary:
        e = summary["entity"]
        click.echo(
            f"entities: precision {e['precision']:.4f}  recall {e['recall']:.4f}  "
            f"F1 {e['f1']:.4f}  ({e['correct']} correct of {e['gold']} gold, "
            f"{e['predicted']} predicted)"
        )
    if "classification" in summary:
        c = summary["classification"]
        click.echo(f"accuracy {c['accuracy']:.4f}  macro F1 {c['macro_f1']:.4f}")
    counts = summary["counts"]
    click.echo(
        f"TP {counts['tp']}  FP {counts['fp']}  FN {counts['fn']}  precision "
        f"{_fmt(counts['precision'])}  recall {_fmt(counts['recall'])}  F1 {_fmt(counts['f1'])}"
    )
    per_class = summary["per_class"]
    if not per_class:
        return
    width = max(12, *(len(n) for n in per_class))
    cols = ("precision", "recall", "f1", "tp", "fp", "fn", "ap")
    click.echo(f"{'class':<{width}}" + "".join(f"{c:>10}" for c in cols))
    for name, entry in per_class.items():
        click.echo(f"{name:<{width}}" + "".join(f"{_fmt(entry.get(c)):>10}" for c in cols))


@click.command()
@workspace_option
@click.option("--run", required=True, help="Model run to evaluate.")
@click.option("--iou", type=float, default=0.5, show_default=True, help="IoU threshold.")
@click.option(
    "--confidence",
    type=float,
    default=0.5,
    show_default=True,
    help="Predictions below this confidence are ignored (missing confidence = 1.0).",
)
@click.option(
    "--mode",
    type=click.Choice(["coco", "labelbox"]),
    default="coco",
    show_default=True,
    help="Per-object matching: COCO's (by score) or Labelbox's (greedy by IoU).",
)
@click.option(
    "--iou-type",
    type=click.Choice(["bbox", "segm"]),
    default="bbox",
    show_default=True,
    help="Match boxes, or masks and polygons.",
)
@click.option(
    "--cross-class",
    is_flag=True,
    help="Labelbox mode: match across classes (confusions become matched errors).",
)
@click.option("--legacy-iou", is_flag=True, help="Labelbox mode: pixel-inclusive (+1) box IoU.")
@click.option(
    "--class-iou",
    "class_iou",
    multiple=True,
    metavar="NAME=IOU",
    help="IoU threshold of one class (repeatable); overrides --iou for that class.",
)
@click.option(
    "--class-confidence",
    "class_confidence",
    multiple=True,
    metavar="NAME=CONF",
    help="Confidence threshold of one class (repeatable); overrides --confidence.",
)
@click.option(
    "--point-buffer",
    type=float,
    default=70.0,
    show_default=True,
    help="Labelbox mode: pixels points and polylines are buffered by before their IoU.",
)
@click.option(
    "--ci",
    is_flag=True,
    help="Add 95% row-bootstrap intervals of precision/recall/F1 (and AP at the IoU) "
    "overall and per class (JSON: an extra 'intervals' field).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
def evaluate(
    workspace: Path,
    run: str,
    iou: float,
    confidence: float,
    mode: str,
    iou_type: str,
    cross_class: bool,
    legacy_iou: bool,
    class_iou: tuple[str, ...],
    class_confidence: tuple[str, ...],
    point_buffer: float,
    ci: bool,
    as_json: bool,
) -> None:
    """Compute and store a run's metrics (per object, data row, class and run)."""
    per_iou = _thresholds("--class-iou", class_iou)
    per_conf = _thresholds("--class-confidence", class_confidence)
    with Workspace(workspace) as ws, progress_bars():
        summary = ws.evaluate(
            run,
            iou=iou,
            confidence=confidence,
            mode="coco" if mode == "coco" else "labelbox",
            iou_type="segm" if iou_type == "segm" else "bbox",
            cross_class=cross_class,
            legacy_iou=legacy_iou,
            class_iou=per_iou,
            class_confidence=per_conf,
            point_buffer=point_buffer,
        )
        if ci:
            summary["intervals"] = ws.intervals(run)
    if as_json:
        click.echo(json.dumps(summary))
        return
    _print_summary(summary)
    if ci:
        from errorscope.cli.patterns import print_intervals

        print_intervals(summary["intervals"])
