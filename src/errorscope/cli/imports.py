"""``errorscope import FORMAT ...``: ground truth, or predictions with ``--run``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from errorscope.cli.main import workspace_option
from errorscope.cli.progress import progress_bars
from errorscope.sdk.report import ImportReport
from errorscope.sdk.workspace import Workspace

__all__ = ["import_group"]

F = TypeVar("F", bound=Callable[..., Any])

_existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
_existing_dir = click.Path(exists=True, file_okay=False, path_type=Path)


def _run_options(func: F) -> F:
    func = click.option(
        "--model",
        default="default",
        show_default=True,
        help="Model the run belongs to (created if missing).",
    )(func)
    return click.option(
        "--run",
        help="Import as predictions of this model run "
        "(created if missing) instead of ground truth.",
    )(func)


def _dataset_option(func: F) -> F:
    return click.option(
        "--dataset", default="default", show_default=True, help="Dataset that new data rows join."
    )(func)


def _images_option(func: F) -> F:
    return click.option(
        "--images",
        "images_dir",
        type=_existing_dir,
        help="Directory holding the image files: stored as each row's path, and where "
        "YOLO reads image sizes.",
    )(func)


def _report(report: ImportReport) -> None:
    what = (
        f"{report.predictions} predictions into run {report.run!r}"
        if report.run
        else f"{report.labels} labels"
    )
    click.echo(
        f"imported {what}; data rows: {report.data_rows_created} new, "
        f"{report.data_rows_reused} existing; classes: {report.classes_created} new"
    )


@click.group("import")
def import_group() -> None:
    """Import data rows, ground truth or model predictions. All-or-nothing."""


@import_group.command("coco")
@workspace_option
@click.argument("path", type=_existing_file)
@click.option(
    "--gt", type=_existing_file, help="COCO ground truth whose ids a results-list file uses."
)
@_images_option
@_run_options
@_dataset_option
def import_coco(
    workspace: Path,
    path: Path,
    gt: Path | None,
    images_dir: Path | None,
    run: str | None,
    model: str,
    dataset: str,
) -> None:
    """COCO JSON: ground truth, or predictions (full file with scores, or results list)."""
    with Workspace(workspace) as ws, progress_bars():
        _report(
            ws.import_coco(
                path, run=run, gt=gt, images_dir=images_dir, model=model, dataset=dataset
            )
        )


@import_group.command("voc")
@workspace_option
@click.argument("directory", type=_existing_dir)
@_images_option
@_dataset_option
def import_voc(workspace: Path, directory: Path, images_dir: Path | None, dataset: str) -> None:
    """Pascal VOC XML ground truth: a directory of per-image XML files."""
    with Workspace(workspace) as ws, progress_bars():
        _report(ws.import_voc(directory, images_dir=images_dir, dataset=dataset))


@import_group.command("cvat")
@workspace_option
@click.argument("path", type=_existing_file)
@_images_option
@_dataset_option
def import_cvat(workspace: Path, path: Path, images_dir: Path | None, dataset: str) -> None:
    """CVAT for images 1.1 XML ground truth."""
    with Workspace(workspace) as ws, progress_bars():
        _report(ws.import_cvat(path, images_dir=images_dir, dataset=dataset))


@import_group.command("yolo")
@workspace_option
@click.argument("directory", type=_existing_dir)
@click.option(
    "--names",
    type=_existing_file,
    required=True,
    help="Class names file, one per line; line i is class index i.",
)
@click.option(
    "--layout",
    type=click.Choice(["yolo", "ltwh"]),
    default="yolo",
    show_default=True,
    help="yolo: 'class cx cy w h [score]' normalised; "
    "ltwh: 'class score left top width height' in pixels.",
)
@_images_option
@_run_options
@_dataset_option
def import_yolo(
    workspace: Path,
    directory: Path,
    names: Path,
    layout: str,
    images_dir: Path | None,
    run: str | None,
    model: str,
    dataset: str,
) -> None:
    """YOLO txt files, one per image, ground truth or predictions."""
    with Workspace(workspace) as ws, progress_bars():
        _report(
            ws.import_yolo(
                directory,
                names=names,
                images_dir=images_dir,
                layout="ltwh" if layout == "ltwh" else "yolo",
                run=run,
                model=model,
                dataset=dataset,
            )
        )


@import_group.command("ndjson")
@workspace_option
@click.argument("path", type=_existing_file)
@_run_options
def import_ndjson(workspace: Path, path: Path, run: str | None, model: str) -> None:
    """Labelbox-style NDJSON annotations."""
    with Workspace(workspace) as ws, progress_bars():
        _report(ws.import_ndjson(path, run=run, model=model))


@import_group.command("rows")
@workspace_option
@click.argument("path", type=_existing_file)
@click.option(
    "--media-root",
    type=_existing_dir,
    help="Directory that relative image paths in row_data are under.",
)
@_dataset_option
def import_rows(workspace: Path, path: Path, media_root: Path | None, dataset: str) -> None:
    """Data rows (images or texts, with metadata) from NDJSON."""
    with Workspace(workspace) as ws, progress_bars():
        _report(ws.import_data_rows(path, media_root=media_root, dataset=dataset))


@import_group.command("conll")
@workspace_option
@click.argument("path", type=_existing_file)
@click.option(
    "--column",
    type=int,
    default=-1,
    show_default=True,
    help="Tag column, 1-based (negative counts from the end).",
)
@click.option(
    "--key-prefix",
    help="Global key prefix of the sentence rows "
    "(default: the file's stem); keys are PREFIX-000001, ...",
)
@_run_options
@_dataset_option
def import_conll(
    workspace: Path,
    path: Path,
    column: int,
    key_prefix: str | None,
    run: str | None,
    model: str,
    dataset: str,
) -> None:
    """CoNLL/BIO token files: one text row per sentence, tags as entity spans."""
    with Workspace(workspace) as ws, progress_bars():
        _report(
            ws.import_conll(
                path, column=column, key_prefix=key_prefix, run=run, model=model, dataset=dataset
            )
        )


@import_group.command("jsonl")
@workspace_option
@click.argument("path", type=_existing_file)
@_run_options
@_dataset_option
def import_jsonl(workspace: Path, path: Path, run: str | None, model: str, dataset: str) -> None:
    """JSONL text classification: {"global_key", "text", "label", "confidence"}."""
    with Workspace(workspace) as ws, progress_bars():
        _report(ws.import_jsonl(path, run=run, model=model, dataset=dataset))
