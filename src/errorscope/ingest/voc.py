"""Pascal VOC: a directory of XML files, one per image.

Each ``<annotation>`` becomes a data row (global key = ``<filename>``, size from
``<size>``) and each of its ``<object>`` s a box label: class ``<name>``, box
``<bndbox>`` ``xmin ymin xmax ymax`` taken as-is (no ``+1``/``-1`` shift: the COCO and
CVAT exports of VOC data carry the same numbers), ``<difficult>`` kept as a flag.
``<part>`` s of an object (the person-layout parts) are not imported.

The import's source is the directory, so every problem found in one file is raised
while parsing, naming that file, the line of the offending element and the field.
A missing ``<size>`` (or one of 0, as some tools write) leaves the size unknown.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from errorscope.core.types import Kind, MediaType
from errorscope.errors import InvalidInputError
from errorscope.ingest.common import (
    ColumnBuilder,
    Parsed,
    annotations_table,
    files_in,
    rows_table,
    unique,
)
from errorscope.ingest.xmlsource import Node, read_tree

__all__ = ["parse_voc"]

_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"", "0", "false", "no"})


def _child(node: Node, tag: str, path: Path) -> Node:
    found = node.find(tag)
    if found is None:
        raise InvalidInputError(
            f"<{node.tag}> has no <{tag}>", path=path, line=node.line, field=tag
        )
    return found


def _number(node: Node, path: Path) -> float:
    try:
        value = float(node.text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise InvalidInputError(
            f"expected a number, got {node.text!r}", path=path, line=node.line, field=node.tag
        )
    return value


def _size(root: Node, path: Path) -> tuple[int | None, int | None]:
    size = root.find("size")
    if size is None:
        return None, None
    out: list[int | None] = []
    for tag in ("width", "height"):
        node = size.find(tag)
        if node is None:
            out.append(None)
            continue
        value = _number(node, path)
        if value < 0 or value != int(value):
            raise InvalidInputError(
                f"image {tag} must be a whole number >= 0, got {node.text!r}",
                path=path,
                line=node.line,
                field=tag,
            )
        out.append(int(value) or None)
    return out[0], out[1]


def _difficult(obj: Node, path: Path) -> bool:
    node = obj.find("difficult")
    if node is None:
        return False
    text = node.text.lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInputError(
        f"expected 0 or 1, got {node.text!r}", path=path, line=node.line, field="difficult"
    )


def _objects(root: Node, key: str, path: Path, out: ColumnBuilder) -> None:
    for obj in root.iter("object"):
        name = _child(obj, "name", path)
        if not name.text:
            raise InvalidInputError("empty class name", path=path, line=name.line, field="name")
        bndbox = _child(obj, "bndbox", path)
        x1, y1, x2, y2 = (
            _number(_child(bndbox, tag, path), path) for tag in ("xmin", "ymin", "xmax", "ymax")
        )
        if x2 < x1 or y2 < y1:
            raise InvalidInputError(
                f"box has negative size: xmin={x1:g}, ymin={y1:g}, xmax={x2:g}, ymax={y2:g}",
                path=path,
                line=bndbox.line,
                field="bndbox",
            )
        out.add(
            line=obj.line,
            row_key=key,
            class_name=name.text,
            kind=str(Kind.BBOX),
            x1=x1,
            y1=y1,
            x2=x2,
            y2=y2,
            difficult=_difficult(obj, path),
        )


def parse_voc(directory: Path, *, images_dir: Path | None = None) -> Parsed:
    """Parse every ``*.xml`` file of ``directory`` (sorted by name) as VOC ground truth.

    ``images_dir`` only sets the rows' ``uri`` (``images_dir / filename``); without it the
    uri is the bare file name. Raises :class:`InvalidInputError` naming the XML file, the
    line and the field for malformed XML, missing elements, non-numeric coordinates,
    boxes of negative size and an image described by two files.
    """
    annotations = ColumnBuilder(annotations_table().schema)
    rows: dict[str, list[Any]] = {k: [] for k in ("line", "global_key", "uri", "width", "height")}
    seen: dict[str, Path] = {}
    for path in files_in(directory, [".xml"]):
        root = read_tree(path)
        if root.tag != "annotation":
            raise InvalidInputError(
                f"root element is <{root.tag}>, expected <annotation>",
                path=path,
                line=root.line,
                field=root.tag,
            )
        filename = _child(root, "filename", path)
        key = filename.text
        if not key:
            raise InvalidInputError(
                "empty file name", path=path, line=filename.line, field="filename"
            )
        if key in seen:
            raise InvalidInputError(
                f"image {key!r} is also described by {seen[key].name}",
                path=path,
                line=filename.line,
                field="filename",
            )
        seen[key] = path
        width, height = _size(root, path)
        rows["line"].append(filename.line)
        rows["global_key"].append(key)
        rows["uri"].append(str(images_dir / key) if images_dir else key)
        rows["width"].append(width)
        rows["height"].append(height)
        _objects(root, key, path, annotations)
    names = unique(annotations.columns["class_name"])
    return Parsed(
        str(directory),
        annotations.table(),
        rows=rows_table({**rows, "media_type": [str(MediaType.IMAGE)] * len(rows["line"])}),
        classes=[(name, str(Kind.BBOX)) for name in names],
    )
