"""CVAT for images 1.1: one XML file, ``<image>`` s holding their shapes.

``<image name width height>`` becomes a data row (global key = ``name``) and each shape
in it a label: ``<box xtl ytl xbr ybr>`` a box, ``<polygon points="x,y;x,y;...">`` a
polygon, ``<polyline>`` a polyline and ``<points>`` one point annotation per point.
A shape's ``<attribute name="difficult">`` sets the difficult flag.

Classes are the task's (or project's, or job's) ``<meta>`` labels in order, declared even
when unused; a class's kind is that of the first shape drawn with it, else the label's
``<type>`` when CVAT wrote one, else ``bbox``. When the meta lists labels, a shape with
another label is an error; a file without label meta takes its classes from the shapes.

Rotated boxes, ellipses, masks, cuboids, skeletons, image tags and video tracks are not
supported: they are reported as errors rather than silently dropped. The file is read as
a stream (expat), so large exports are fine.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any
from xml.parsers import expat

from errorscope.core.types import Kind, MediaType
from errorscope.errors import InvalidInputError
from errorscope.ingest.common import Parsed, annotations_table, rows_table
from errorscope.ingest.xmlsource import run_expat

__all__ = ["parse_cvat"]

_SHAPES = {
    "box": Kind.BBOX,
    "polygon": Kind.POLYGON,
    "polyline": Kind.POLYLINE,
    "points": Kind.POINT,
}
_MIN_POINTS = {"polygon": 3, "polyline": 2, "points": 1}
_UNSUPPORTED = {
    "ellipse": "ellipses",
    "mask": "masks",
    "cuboid": "cuboids",
    "skeleton": "skeletons",
    "tag": "image tags",
}
_LABEL_TYPES = {
    "rectangle": Kind.BBOX,
    "polygon": Kind.POLYGON,
    "polyline": Kind.POLYLINE,
    "points": Kind.POINT,
}
_COLUMNS = ("line", "row_key", "class_name", "kind", "difficult", "x1", "y1", "x2", "y2", "coords")
_TRUE = frozenset({"1", "true", "yes"})
_FALSE = frozenset({"0", "false", "no"})


class _Reader:
    """expat handlers that fill the row and annotation columns as the file streams by."""

    def __init__(self, path: Path, images_dir: Path | None, parser: Any) -> None:
        self.path = path
        self.images_dir = images_dir
        self.parser = parser
        self.stack: list[str] = []
        self.text: list[str] | None = None
        self.labels: dict[str, Kind | None] = {}
        self.label_name: str | None = None
        self.shape_kinds: dict[str, Kind] = {}
        self.rows: dict[str, list[Any]] = {
            k: [] for k in ("line", "global_key", "uri", "width", "height")
        }
        self.annotations: dict[str, list[Any]] = {k: [] for k in _COLUMNS}
        self.image: str | None = None
        self.shape: dict[str, Any] | None = None
        self.attribute: tuple[str, int] | None = None

    # -- helpers ---------------------------------------------------------------------
    def fail(self, message: str, field: str, line: int | None = None) -> InvalidInputError:
        line = self.parser.CurrentLineNumber if line is None else line
        return InvalidInputError(message, path=self.path, line=line, field=field)

    def need(self, attrs: dict[str, str], name: str) -> str:
        if name not in attrs:
            raise self.fail(f"<{self.stack[-1]}> has no {name!r} attribute", name)
        return attrs[name]

    def number(self, attrs: dict[str, str], name: str) -> float:
        text = self.need(attrs, name)
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise self.fail(f"expected a number, got {text!r}", name)
        return value

    def size(self, attrs: dict[str, str], name: str) -> int | None:
        if name not in attrs:
            return None
        value = self.number(attrs, name)
        if value <= 0 or value != int(value):
            raise self.fail(
                f"image {name} must be a positive whole number, got {attrs[name]!r}", name
            )
        return int(value)

    def points(self, attrs: dict[str, str], tag: str) -> list[float]:
        text = self.need(attrs, "points")
        flat: list[float] = []
        for pair in filter(None, text.split(";")):
            xy = pair.split(",")
            try:
                x, y = (float(v) for v in xy)
            except ValueError:
                x = y = math.nan
            if not (math.isfinite(x) and math.isfinite(y)):
                raise self.fail(
                    f"expected 'x,y' number pairs separated by ';', got {pair!r}", "points"
                )
            flat += (x, y)
        if len(flat) < 2 * _MIN_POINTS[tag]:
            raise self.fail(
                f"a {tag} needs at least {_MIN_POINTS[tag]} points, got {len(flat) // 2}", "points"
            )
        return flat

    # -- handlers --------------------------------------------------------------------
    def start(self, tag: str, attrs: dict[str, str]) -> None:
        parent = self.stack[-1] if self.stack else None
        self.stack.append(tag)
        if parent is None:
            if tag != "annotations":
                raise self.fail(f"root element is <{tag}>, expected <annotations>", tag)
        elif parent == "label" and tag in ("name", "type") and "meta" in self.stack:
            self.text = []
        elif parent == "annotations" and tag == "image":
            self.start_image(attrs)
        elif parent == "annotations" and tag == "track":
            raise self.fail(
                "<track> is CVAT for video; export the task as CVAT for images 1.1", tag
            )
        elif parent == "image" and tag in _SHAPES:
            self.start_shape(tag, attrs)
        elif parent == "image" and tag in _UNSUPPORTED:
            raise self.fail(f"CVAT {_UNSUPPORTED[tag]} (<{tag}>) are not supported", tag)
        elif parent in _SHAPES and tag == "attribute" and self.shape is not None:
            self.attribute = (attrs.get("name", ""), self.parser.CurrentLineNumber)
            self.text = []

    def start_image(self, attrs: dict[str, str]) -> None:
        name = self.need(attrs, "name")
        if not name:
            raise self.fail("empty image name", "name")
        self.image = name
        rows = self.rows
        rows["line"].append(self.parser.CurrentLineNumber)
        rows["global_key"].append(name)
        rows["uri"].append(str(self.images_dir / name) if self.images_dir else name)
        rows["width"].append(self.size(attrs, "width"))
        rows["height"].append(self.size(attrs, "height"))

    def start_shape(self, tag: str, attrs: dict[str, str]) -> None:
        label = self.need(attrs, "label")
        if self.labels and label not in self.labels:
            raise self.fail(f"label {label!r} is not among the task's labels", "label")
        line = self.parser.CurrentLineNumber
        if tag == "box":
            if "rotation" in attrs and self.number(attrs, "rotation") % 360 != 0:
                raise self.fail("rotated boxes are not supported", "rotation")
            x1, y1, x2, y2 = (self.number(attrs, a) for a in ("xtl", "ytl", "xbr", "ybr"))
            if x2 < x1 or y2 < y1:
                raise self.fail(
                    f"box has negative size: xtl={x1:g}, ytl={y1:g}, xbr={x2:g}, ybr={y2:g}",
                    "xbr" if x2 < x1 else "ybr",
                )
            parts = None
        else:
            flat = self.points(attrs, tag)
            xs, ys = flat[0::2], flat[1::2]
            x1, y1, x2, y2 = min(xs), min(ys), max(xs), max(ys)
            parts = [flat[i : i + 2] for i in range(0, len(flat), 2)] if tag == "points" else [flat]
        self.shape_kinds.setdefault(label, _SHAPES[tag])
        self.shape = {
            "line": line,
            "label": label,
            "kind": _SHAPES[tag],
            "box": (x1, y1, x2, y2),
            "parts": parts,
            "difficult": None,
        }

    def end(self, tag: str) -> None:
        self.stack.pop()
        parent = self.stack[-1] if self.stack else None
        if self.text is not None and parent == "label":
            value = "".join(self.text).strip()
            if tag == "name":
                self.label_name = value
                self.labels.setdefault(value, None)
            elif self.label_name is not None:
                self.labels[self.label_name] = _LABEL_TYPES.get(value)
            self.text = None
        elif tag == "attribute" and self.attribute is not None and self.shape is not None:
            self.end_attribute("".join(self.text or []).strip())
        elif tag in _SHAPES and parent == "image" and self.shape is not None:
            self.end_shape()
        elif tag == "label":
            self.label_name = None

    def end_attribute(self, value: str) -> None:
        assert self.attribute is not None
        assert self.shape is not None
        name, line = self.attribute
        self.attribute, self.text = None, None
        if name != "difficult":
            return
        if value.lower() in _TRUE:
            self.shape["difficult"] = True
        elif value.lower() in _FALSE:
            self.shape["difficult"] = False
        else:
            raise self.fail(f"expected true or false, got {value!r}", "difficult", line)

    def end_shape(self) -> None:
        shape, self.shape = self.shape, None
        assert shape is not None
        common = (shape["line"], self.image, shape["label"], str(shape["kind"]), shape["difficult"])
        if shape["kind"] == Kind.POINT:
            records = [(*common, x, y, x, y, [[x, y]]) for x, y in shape["parts"]]
        else:
            records = [(*common, *shape["box"], shape["parts"])]
        for record in records:
            for column, value in zip(self.annotations.values(), record, strict=True):
                column.append(value)

    def chars(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def classes(self) -> list[tuple[str, str]]:
        names = dict.fromkeys(self.labels) | dict.fromkeys(self.shape_kinds)
        return [
            (name, str(self.shape_kinds.get(name) or self.labels.get(name) or Kind.BBOX))
            for name in names
        ]


def parse_cvat(path: Path, *, images_dir: Path | None = None) -> Parsed:
    """Parse a CVAT for images 1.1 XML export as ground truth.

    ``images_dir`` only sets the rows' ``uri`` (``images_dir / name``). Errors name the
    file, the line of the offending element and the attribute (field).
    """
    parser = expat.ParserCreate()
    reader = _Reader(path, images_dir, parser)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.chars
    parser.buffer_text = True
    run_expat(parser, path, reader.stack)
    rows = reader.rows
    return Parsed(
        str(path),
        annotations_table(reader.annotations),
        rows=rows_table({**rows, "media_type": [str(MediaType.IMAGE)] * len(rows["line"])}),
        classes=reader.classes(),
    )
