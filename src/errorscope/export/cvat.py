"""CVAT for images 1.1 out: the inverse of ``ingest.cvat``.

``<meta><task><labels>`` lists the classes (with their CVAT ``type``); each image row is
an ``<image id name width height>`` holding its shapes: ``<box xtl ytl xbr ybr>``,
``<polygon points="x,y;...">`` (one per part), ``<polyline>``, ``<points>``; the
difficult flag is an ``<attribute name="difficult">``. Predictions are marked
``source="auto"`` and carry their confidence as a ``score`` attribute. Coordinates are
written with ``repr``, so reading the file back gives the very same floats. CVAT has no
text spans or classifications here, and its masks use its own encoding: those are
skipped (the writer returns how many shapes it wrote).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from errorscope.core.types import Kind

__all__ = ["CVAT_KINDS", "write_cvat"]

_TYPES = {Kind.BBOX: "rectangle", Kind.POLYGON: "polygon", Kind.POLYLINE: "polyline",
          Kind.POINT: "points"}  # fmt: skip
CVAT_KINDS = tuple(str(k) for k in _TYPES)


def _pts(flat: Sequence[float]) -> str:
    return ";".join(f"{flat[i]!r},{flat[i + 1]!r}" for i in range(0, len(flat), 2))


def write_cvat(
    out: Path,
    rows: Iterable[Mapping[str, Any]],
    annotations: Mapping[int, list[dict[str, Any]]],
    classes: Sequence[tuple[str, str]],
) -> int:
    """Write ``rows`` (``id``, ``global_key``, ``width``, ``height``) with their
    ``annotations`` (by row id; records with ``class_name``, ``kind``, geometry,
    ``difficult`` and optionally ``confidence``) and ``classes`` ``(name, kind)``."""
    lines = ['<?xml version="1.0" encoding="utf-8"?>', "<annotations>", "  <version>1.1</version>",
             "  <meta>", "    <task>", "      <labels>"]  # fmt: skip
    for name, kind in classes:
        if kind in _TYPES:
            lines += [
                "        <label>",
                f"          <name>{_text(name)}</name>",
                f"          <type>{_TYPES[Kind(kind)]}</type>",
                "        </label>",
            ]
    lines += ["      </labels>", "    </task>", "  </meta>"]
    n = 0
    for i, row in enumerate(rows):
        size = "".join(
            f' {k}="{int(row[k])}"' for k in ("width", "height") if row.get(k) is not None
        )
        name = row["global_key"] or row.get("uri") or str(row["id"])
        lines.append(f'  <image id="{i}" name={quoteattr(name)}{size}>')
        for a in annotations.get(int(row["id"]), []):
            kind = a["kind"]
            if kind not in _TYPES:
                continue
            score = a.get("confidence")
            head = f'label={quoteattr(a["class_name"])} occluded="0"'
            head += ' source="auto"' if score is not None else ' source="manual"'
            attrs = []
            if a.get("difficult"):
                attrs.append('      <attribute name="difficult">true</attribute>')
            if score is not None:
                attrs.append(f'      <attribute name="score">{float(score)!r}</attribute>')
            shapes: list[str] = []
            if kind == Kind.BBOX:
                shapes.append(
                    f'box {head} xtl="{a["x1"]!r}" ytl="{a["y1"]!r}" '
                    f'xbr="{a["x2"]!r}" ybr="{a["y2"]!r}"'
                )
            elif kind == Kind.POINT:
                shapes.append(f'points {head} points="{_pts(a["coords"][0])}"')
            else:
                tag = "polygon" if kind == Kind.POLYGON else "polyline"
                shapes += [f'{tag} {head} points="{_pts(p)}"' for p in a["coords"] or []]
            for shape in shapes:
                tag = shape.split(" ", 1)[0]
                lines += [f"    <{shape}>", *attrs, f"    </{tag}>"]
                n += 1
        lines.append("  </image>")
    lines.append("</annotations>")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return n


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
