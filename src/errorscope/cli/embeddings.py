"""Embedding commands: ``errorscope embed``, ``errorscope import embeddings``,
``errorscope similar``, ``errorscope project`` and ``errorscope spaces`` (the SDK's
embedding methods, :mod:`errorscope.sdk.embeddings`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import click

from errorscope.cli.main import workspace_option
from errorscope.cli.progress import progress_bars
from errorscope.core.query import And, ClassPresent, Filter
from errorscope.core.queryparse import parse_expression, parse_filter
from errorscope.errors import InvalidQueryError
from errorscope.sdk.embeddings import EmbeddingSpace
from errorscope.sdk.objectspaces import DEFAULT_MARGIN
from errorscope.sdk.workspace import Workspace

__all__ = ["embed", "import_embeddings", "project", "similar", "spaces"]

_existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
_MODELS = click.Choice(["text-minilm", "image-effnet"])
_OBJECTS = click.Choice(["gt", "predictions"])


def _dtype(half: bool) -> Literal["float32", "float16"]:
    return "float16" if half else "float32"


def _done(info: EmbeddingSpace) -> None:
    per = ""
    if info.level == "object":
        per = " (per object: " + (
            "ground truth)" if info.run is None else f"predictions of run {info.run!r})"
        )
    click.echo(
        f"space {info.name!r}: {info.count} vectors of {info.dim} dimensions ({info.dtype}, "
        f"{info.source}) on dataset {info.dataset!r}{per}"
    )


@click.command()
@workspace_option
@click.option("--space", required=True, help="Name of the embedding space to compute.")
@click.option("--model", required=True, type=_MODELS, help="Built-in model (offline).")
@click.option("--dataset", help="Dataset to embed (default: the only one).")
@click.option("--batch-size", type=click.IntRange(1, 4096), help="Rows per model batch.")
@click.option("--replace", is_flag=True, help="Overwrite an existing space of that name.")
@click.option("--float16", "half", is_flag=True, help="Store vectors as float16 (half size).")
@click.option(
    "--objects",
    type=_OBJECTS,
    help="A vector per object instead of per row (image-effnet): the crop of each "
    "ground-truth box, polygon or mask (gt), or of each prediction of --run.",
)
@click.option("--run", help="With --objects predictions: the run whose predictions to embed.")
@click.option(
    "--margin",
    type=click.FloatRange(0, 2),
    default=DEFAULT_MARGIN,
    show_default=True,
    help="With --objects: context around each object, a share of its longer side.",
)
def embed(
    workspace: Path,
    space: str,
    model: str,
    dataset: str | None,
    batch_size: int | None,
    replace: bool,
    half: bool,
    objects: Literal["gt", "predictions"] | None,
    run: str | None,
    margin: float,
) -> None:
    """Compute an embedding space with a built-in model: text-minilm (text rows) or
    image-effnet (image rows, or with --objects the crops of their objects). Needs the
    'embed' extra; runs offline on the CPU."""
    with Workspace(workspace) as ws, progress_bars():
        info = ws.embed(
            space,
            model,
            dataset=dataset,
            batch_size=batch_size,
            replace=replace,
            dtype=_dtype(half),
            objects=objects,
            run=run,
            margin=margin,
        )
    _done(info)


@click.command("embeddings")
@workspace_option
@click.argument("path", type=_existing_file)
@click.option("--space", required=True, help="Name of the embedding space to create.")
@click.option(
    "--ids",
    "ids_path",
    type=_existing_file,
    help="For a .npy matrix: the id list (one data row id or global key a line, a JSON "
    "list, or a .npy of ids).",
)
@click.option("--dataset", help="Dataset the rows must belong to.")
@click.option("--replace", is_flag=True, help="Overwrite an existing space of that name.")
@click.option("--float16", "half", is_flag=True, help="Store vectors as float16 (half size).")
@click.option(
    "--objects",
    type=_OBJECTS,
    help="Vectors of objects, not rows: ground-truth annotations (gt) or the predictions "
    "of --run, named by annotation_id or uuid.",
)
@click.option("--run", help="With --objects predictions: the run of the predictions.")
def import_embeddings(
    workspace: Path,
    path: Path,
    space: str,
    ids_path: Path | None,
    dataset: str | None,
    replace: bool,
    half: bool,
    objects: Literal["gt", "predictions"] | None,
    run: str | None,
) -> None:
    """Import custom vectors: NDJSON lines {"id" or "global_key", "vector": [...]}, a
    .npy matrix with --ids, or Parquet (vector + id/global_key columns). All or nothing.
    With --objects, per-object vectors: {"annotation_id" or "uuid", "vector": [...]}."""
    with Workspace(workspace) as ws, progress_bars():
        info = ws.import_embeddings(
            path,
            space=space,
            ids=ids_path,
            dataset=dataset,
            replace=replace,
            dtype=_dtype(half),
            objects=objects,
            run=run,
        )
    _done(info)


def _ids(text: str, option: str = "--rows") -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise InvalidQueryError(f"{option} takes comma-separated ids, not {text!r}") from None


@click.command()
@workspace_option
@click.option("--space", required=True, help="Embedding space to search.")
@click.option("--rows", "rows_text", metavar="ID,...", help="Anchor data row ids (1 to 20).")
@click.option(
    "--objects",
    "objects_text",
    metavar="ID,...",
    help="Object spaces: anchor annotation (or prediction) ids (1 to 20).",
)
@click.option(
    "--show",
    type=click.Choice(["rows", "objects"]),
    default="rows",
    show_default=True,
    help="Object spaces: the rows containing the nearest objects, or the objects.",
)
@click.option(
    "--other-rows", is_flag=True, help="With --show objects: skip objects on the anchors' rows."
)
@click.option("--text", help="A text query (spaces made by text-minilm).")
@click.option("--vector", "vector_json", metavar="JSON", help="A raw query vector, JSON list.")
@click.option("--k", "k", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--combine",
    type=click.Choice(["mean", "union"]),
    default="mean",
    show_default=True,
    help="Several anchors: rows like all of them (mean) or like any of them (union).",
)
@click.option("--run", help="Model run whose splits, metrics and predictions filters see.")
@click.option(
    "--where",
    "conditions",
    metavar="EXPR",
    multiple=True,
    help="Metric condition such as 'iou<0.5' (needs --run; repeatable: all).",
)
@click.option(
    "--class",
    "classes",
    metavar="C",
    multiple=True,
    help="Only rows with a ground-truth label of class C (repeatable: all).",
)
@click.option("--no-labels", is_flag=True, help="Only rows without any ground truth.")
@click.option("--filter", "filter_json", metavar="JSON", help="A filter in its JSON form.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def similar(
    workspace: Path,
    space: str,
    rows_text: str | None,
    objects_text: str | None,
    show: str,
    other_rows: bool,
    text: str | None,
    vector_json: str | None,
    k: int,
    combine: Literal["mean", "union"],
    run: str | None,
    conditions: tuple[str, ...],
    classes: tuple[str, ...],
    no_labels: bool,
    filter_json: str | None,
    as_json: bool,
) -> None:
    """The K rows nearest to anchor rows, a text or a vector, best first, among the rows
    matching the filters (all ANDed). In an object space: the rows containing the objects
    nearest to anchor --objects (or a vector), or with --show objects the objects."""
    if conditions and run is None:
        raise InvalidQueryError("--where compares a run's metrics: give --run")
    parts: list[Filter] = [ClassPresent("label", c) for c in classes]
    if no_labels:
        parts.append(ClassPresent("label", None, present=False))
    parts.extend(parse_expression(e) for e in conditions)
    if filter_json is not None:
        try:
            parts.append(parse_filter(json.loads(filter_json)))
        except ValueError as exc:
            raise InvalidQueryError(f"--filter is not JSON: {exc}") from None
    where: Filter | None = And(tuple(parts)) if parts else None
    vector = None
    if vector_json is not None:
        try:
            vector = json.loads(vector_json)
        except ValueError as exc:
            raise InvalidQueryError(f"--vector is not JSON: {exc}") from None
    anchors = None if rows_text is None else _ids(rows_text)
    anchor_objects = None if objects_text is None else _ids(objects_text, "--objects")
    if show == "objects":
        if rows_text is not None or text is not None:
            raise InvalidQueryError("--show objects takes anchor --objects or a --vector")
        with Workspace(workspace) as ws:
            objs = ws.similar_objects(
                space,
                objects=anchor_objects,
                vector=vector,
                k=k,
                filter=where,
                run=run,
                combine=combine,
                other_rows=other_rows,
            )
        if as_json:
            click.echo(json.dumps({"objects": [o.to_json() for o in objs]}, indent=2))
            return
        for o in objs:
            click.echo(
                f"{o.id}\t{o.data_row_id}\t{o.global_key or ''}\t{o.class_name or ''}"
                f"\t{o.distance:.6f}"
            )
        click.echo(f"{len(objs)} objects", err=True)
        return
    with Workspace(workspace) as ws:
        found = ws.similar(
            space,
            rows=anchors,
            vector=vector,
            text=text,
            k=k,
            filter=where,
            run=run,
            combine=combine,
            objects=anchor_objects,
        )
    if as_json:
        click.echo(json.dumps({"rows": [r.to_json() for r in found]}, indent=2))
        return
    for r in found:
        click.echo(f"{r.id}\t{r.global_key or ''}\t{r.distance:.6f}")
    click.echo(f"{len(found)} rows", err=True)


@click.command()
@workspace_option
@click.option("--space", required=True, help="Embedding space to project.")
@click.option("--method", type=click.Choice(["pca", "umap"]), default="pca", show_default=True)
@click.option("--recompute", is_flag=True, help="Compute again even if cached.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the points as CSV (id,x,y; object spaces: id,row_id,x,y).",
)
def project(workspace: Path, space: str, method: str, recompute: bool, output: Path | None) -> None:
    """Compute (or reuse) the 2-D projection of a space for the projector view."""
    with Workspace(workspace) as ws, progress_bars():
        proj = ws.projection(space, method, recompute=recompute)
    if output is not None:
        with output.open("w") as fh:
            if proj.rows is None:
                fh.write("id,x,y\n")
                for i, (x, y) in zip(proj.ids.tolist(), proj.xy.tolist(), strict=True):
                    fh.write(f"{i},{x:.6g},{y:.6g}\n")
            else:
                fh.write("id,row_id,x,y\n")
                points = zip(proj.ids.tolist(), proj.rows.tolist(), proj.xy.tolist(), strict=True)
                for i, r, (x, y) in points:
                    fh.write(f"{i},{r},{x:.6g},{y:.6g}\n")
    click.echo(f"{method} projection of space {space!r}: {len(proj.ids)} points")


@click.command()
@workspace_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def spaces(workspace: Path, as_json: bool) -> None:
    """List the embedding spaces."""
    with Workspace(workspace) as ws:
        found = ws.embedding_spaces()
    if as_json:
        click.echo(json.dumps({"spaces": [s.to_json() for s in found]}, indent=2))
        return
    for s in found:
        level = s.level if s.level == "row" else f"{s.objects}" + (f":{s.run}" if s.run else "")
        click.echo(f"{s.name}\t{s.dataset}\t{s.count} x {s.dim}\t{s.dtype}\t{s.source}\t{level}")
