"""Label Studio's JSON world, pure: labeling configs from our ontology, tasks with
pre-annotations from our annotations, and completed annotations back to our columns.

Label Studio expresses image geometry in percent of the image size; we store absolute
pixels. The controls of a generated config are named by kind:

==========  =================================  ==================================
kind        control (``from_name``)            result ``type``
==========  =================================  ==================================
bbox        ``RectangleLabels name="box"``     ``rectanglelabels``
polygon     ``PolygonLabels name="polygon"``   ``polygonlabels``
mask        ``BrushLabels name="brush"``       ``brushlabels`` (Label Studio's
                                               brush RLE, :mod:`.brush`)
point       ``KeyPointLabels name="point"``    ``keypointlabels``
text_span   ``Labels name="span"`` on Text     ``labels`` (``start``/``end``)
radio       ``Choices name="choice_<class>"``  ``choices`` (single)
checklist   ``Choices ... choice="multiple"``  ``choices``
==========  =================================  ==================================

Polylines have no Label Studio tool and are refused. Each task's ``data`` carries the
row's ``errorscope_id`` and ``errorscope_key`` so completed tasks find their rows.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import quoteattr

from errorscope.core.geometry import decode_rle, encode_mask, rle_bbox
from errorscope.core.types import Kind, MediaType, kind_family
from errorscope.errors import ErrorscopeError, InvalidInputError
from errorscope.labeling.brush import decode_brush, encode_brush

__all__ = [
    "CONTROL_TYPES",
    "LsClass",
    "RowInfo",
    "annotations_from_tasks",
    "control_name",
    "label_config",
    "task_results",
    "tasks_for_rows",
]

_TOOLS = {
    Kind.BBOX: ("RectangleLabels", "box", "rectanglelabels"),
    Kind.POLYGON: ("PolygonLabels", "polygon", "polygonlabels"),
    Kind.MASK: ("BrushLabels", "brush", "brushlabels"),
    Kind.POINT: ("KeyPointLabels", "point", "keypointlabels"),
}
#: result ``type`` -> our kind
CONTROL_TYPES = {
    "rectanglelabels": Kind.BBOX,
    "polygonlabels": Kind.POLYGON,
    "keypointlabels": Kind.POINT,
    "brushlabels": Kind.MASK,
    "labels": Kind.TEXT_SPAN,
    "choices": Kind.RADIO,
}


@dataclass(frozen=True)
class LsClass:
    name: str
    kind: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class RowInfo:
    id: int
    global_key: str | None
    media_type: str
    uri: str | None
    width: int | None
    height: int | None
    text: str | None


def control_name(cls: LsClass) -> str:
    """The control of a class: one per tool for object classes, one per classification."""
    if cls.kind in _TOOLS:
        return _TOOLS[Kind(cls.kind)][1]
    if cls.kind == Kind.TEXT_SPAN:
        return "span"
    safe = re.sub(r"[^0-9A-Za-z_]", "_", cls.name)
    return f"choice_{safe}_{hashlib.sha1(cls.name.encode()).hexdigest()[:6]}"


def label_config(classes: Sequence[LsClass], media_type: str) -> str:
    """A Label Studio labeling config for ``classes`` on image or text rows."""
    image = media_type == MediaType.IMAGE
    obj = "image" if image else "text"
    lines = ["<View>"]
    lines.append(
        '  <Image name="image" value="$image"/>' if image else '  <Text name="text" value="$text"/>'
    )
    tools: dict[str, list[str]] = {}
    for c in classes:
        if c.kind == Kind.POLYLINE:
            continue
        if image and c.kind in _TOOLS:
            tools.setdefault(_TOOLS[Kind(c.kind)][0], []).append(c.name)
        elif not image and c.kind == Kind.TEXT_SPAN:
            tools.setdefault("Labels", []).append(c.name)
    for tag, names in tools.items():
        name = "span" if tag == "Labels" else next(t[1] for t in _TOOLS.values() if t[0] == tag)
        lines.append(f'  <{tag} name="{name}" toName="{obj}">')
        lines += [f"    <Label value={quoteattr(n)}/>" for n in names]
        lines.append(f"  </{tag}>")
    for c in classes:
        if c.kind not in (Kind.RADIO, Kind.CHECKLIST):
            continue
        choice = "multiple" if c.kind == Kind.CHECKLIST else "single"
        lines.append(f"  <Header value={quoteattr(c.name)}/>")
        lines.append(f'  <Choices name="{control_name(c)}" toName="{obj}" choice="{choice}">')
        lines += [f"    <Choice value={quoteattr(o)}/>" for o in c.options]
        lines.append("  </Choices>")
    lines.append("</View>")
    return "\n".join(lines)


def _pct(v: float, size: float) -> float:
    return v / size * 100.0


def task_results(
    anns: Iterable[Mapping[str, Any]], row: RowInfo, classes: Mapping[str, LsClass]
) -> list[dict[str, Any]]:
    """Label Studio results for one row's annotations (records with ``class_name``,
    ``kind``, geometry and optionally ``confidence``)."""
    out: list[dict[str, Any]] = []
    image = row.media_type == MediaType.IMAGE
    obj = "image" if image else "text"
    choices: dict[str, list[str]] = {}
    for i, a in enumerate(anns):
        kind = a["kind"]
        cls = classes[a["class_name"]]
        res: dict[str, Any] = {
            "id": f"r{row.id}_{i}",
            "from_name": control_name(cls),
            "to_name": obj,
        }
        if image:
            w, h = float(row.width or 0), float(row.height or 0)
            if not w or not h:
                raise InvalidInputError(f"image row {row.global_key!r} has no known size")
            res.update(original_width=int(w), original_height=int(h), image_rotation=0)
        if kind == Kind.BBOX:
            x1, y1, x2, y2 = a["x1"], a["y1"], a["x2"], a["y2"]
            res["type"] = "rectanglelabels"
            res["value"] = {
                "x": _pct(x1, w),
                "y": _pct(y1, h),
                "width": _pct(x2 - x1, w),
                "height": _pct(y2 - y1, h),
                "rotation": 0,
                "rectanglelabels": [cls.name],
            }
        elif kind == Kind.POLYGON:
            for j, part in enumerate(a["coords"] or []):
                pts = [[_pct(part[k], w), _pct(part[k + 1], h)] for k in range(0, len(part), 2)]
                piece = dict(res, id=f"{res['id']}_{j}", type="polygonlabels")
                piece["value"] = {"points": pts, "closed": True, "polygonlabels": [cls.name]}
                if a.get("confidence") is not None:
                    piece["score"] = float(a["confidence"])
                out.append(piece)
            continue
        elif kind == Kind.MASK:
            if (a["rle_h"], a["rle_w"]) != (int(h), int(w)):
                raise InvalidInputError(
                    f"mask is {a['rle_w']}x{a['rle_h']}, image {row.global_key!r} is "
                    f"{int(w)}x{int(h)}",
                    field="mask",
                )
            mask = decode_rle(a["rle_counts"], int(h), int(w))
            res["type"] = "brushlabels"
            res["value"] = {"format": "rle", "rle": encode_brush(mask), "brushlabels": [cls.name]}
        elif kind == Kind.POINT:
            x, y = a["coords"][0][0], a["coords"][0][1]
            res["type"] = "keypointlabels"
            res["value"] = {
                "x": _pct(x, w),
                "y": _pct(y, h),
                "width": 0.5,
                "keypointlabels": [cls.name],
            }
        elif kind == Kind.TEXT_SPAN:
            s, e = int(a["span_start"]), int(a["span_end"])
            res["type"] = "labels"
            res["value"] = {
                "start": s,
                "end": e,
                "text": (row.text or "")[s:e],
                "labels": [cls.name],
            }
        elif kind in (Kind.RADIO, Kind.CHECKLIST):
            choices.setdefault(cls.name, []).extend(a["answers"] or [])
            continue
        else:
            raise InvalidInputError(
                f"{kind} annotations have no Label Studio form here (class {cls.name!r})",
                field="kind",
            )
        if a.get("confidence") is not None:
            res["score"] = float(a["confidence"])
        out.append(res)
    for name, answers in choices.items():
        cls = classes[name]
        out.append(
            {
                "id": f"r{row.id}_{control_name(cls)}",
                "from_name": control_name(cls),
                "to_name": obj,
                "type": "choices",
                "value": {"choices": answers},
            }
        )
    return out


def tasks_for_rows(
    rows: Sequence[RowInfo],
    anns_by_row: Mapping[int, list[dict[str, Any]]],
    classes: Mapping[str, LsClass],
    *,
    key: str = "predictions",
    model_version: str = "errorscope",
    media_url: Callable[[RowInfo], str] | None = None,
) -> list[dict[str, Any]]:
    """One task per row; the row's annotations go under ``key`` (``predictions`` for
    pre-labels with scores, ``annotations`` for completed labels, ``None`` for neither)."""
    tasks = []
    for row in rows:
        data: dict[str, Any] = {"errorscope_id": row.id, "errorscope_key": row.global_key}
        if row.media_type == MediaType.IMAGE:
            data["image"] = media_url(row) if media_url else (row.uri or row.global_key or "")
        else:
            data["text"] = row.text or ""
        task: dict[str, Any] = {"data": data}
        anns = anns_by_row.get(row.id, [])
        if key == "predictions":
            scores = [float(a["confidence"]) for a in anns if a.get("confidence") is not None]
            task["predictions"] = [
                {
                    "model_version": model_version,
                    "score": sum(scores) / len(scores) if scores else None,
                    "result": task_results(anns, row, classes),
                }
            ]
        elif key == "annotations":
            task["annotations"] = [{"result": task_results(anns, row, classes)}]
        tasks.append(task)
    return tasks


# -- completed tasks back to annotation columns ---------------------------------------------
_Fail = Callable[[str, str, str], InvalidInputError]


def _num(value: Any, where: str, field: str, fail: _Fail) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise fail(where, field, f"expected a number, got {value!r}")
    return float(value)


def _label_of(value: Mapping[str, Any], typ: str, where: str, fail: _Fail) -> str:
    names = value.get(typ)
    if not isinstance(names, list) or len(names) != 1 or not isinstance(names[0], str):
        raise fail(where, f"value.{typ}", f"expected a list of one class name, got {names!r}")
    return names[0]


def annotations_from_tasks(
    tasks: Any,
    classes: Mapping[str, LsClass],
    sizes: Mapping[int, tuple[int | None, int | None]],
    fail: _Fail,
) -> tuple[dict[str, list[Any]], list[tuple[int, int]]]:
    """Columns of ``ANNOTATION_SCHEMA`` (``row_id`` set, ``line`` = 1-based task position)
    from completed tasks, and the ``(task position, row id)`` of every completed task.

    A task is completed when it has a non-cancelled annotation; the latest one counts.
    ``fail(location, field, message)`` builds the error for malformed input. Every
    task must carry ``data.errorscope_id`` (``sizes`` has the known rows)."""
    by_control = {control_name(c): c for c in classes.values()}
    cols: dict[str, list[Any]] = {
        k: []
        for k in (
            "line",
            "row_id",
            "class_name",
            "kind",
            "x1",
            "y1",
            "x2",
            "y2",
            "coords",
            "span_start",
            "span_end",
            "answers",
            "rle_counts",
            "rle_h",
            "rle_w",
        )
    }
    completed: list[tuple[int, int]] = []
    if not isinstance(tasks, list):
        raise fail("", "", f"expected a JSON array of tasks, got {type(tasks).__name__}")
    for t, task in enumerate(tasks):
        at = f"[{t}]"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise fail(at, "data", "a task must be an object with a 'data' object")
        rid = task["data"].get("errorscope_id")
        if isinstance(rid, bool) or not isinstance(rid, int):
            raise fail(
                f"{at}.data",
                "errorscope_id",
                "missing or not an integer: this task was not exported from errorscope",
            )
        if rid not in sizes:
            raise fail(f"{at}.data", "errorscope_id", f"data row {rid} is not in this batch")
        anns = task.get("annotations") or []
        if not isinstance(anns, list):
            raise fail(at, "annotations", "expected a list")
        live = [
            (j, a) for j, a in enumerate(anns) if isinstance(a, dict) and not a.get("was_cancelled")
        ]
        if not live:
            continue
        j, ann = live[-1]
        completed.append((t + 1, rid))
        results = ann.get("result")
        if not isinstance(results, list):
            raise fail(f"{at}.annotations[{j}]", "result", "expected a list of results")
        w0, h0 = sizes[rid]
        for k, res in enumerate(results):
            where = f"{at}.annotations[{j}].result[{k}]"
            if not isinstance(res, dict) or not isinstance(res.get("value"), dict):
                raise fail(where, "value", "a result must be an object with a 'value' object")
            typ = res.get("type")
            if typ not in CONTROL_TYPES:
                known = ", ".join(CONTROL_TYPES)
                raise fail(where, "type", f"unknown result type {typ!r}; known: {known}")
            value = res["value"]
            w = float(res.get("original_width") or w0 or 0)
            h = float(res.get("original_height") or h0 or 0)

            def add(name: str, kind: str, **geo: Any) -> None:
                _add(cols, classes, fail, where, str(typ), t + 1, rid, name, kind, geo)  # noqa: B023

            if typ in ("rectanglelabels", "polygonlabels", "keypointlabels") and not (w and h):
                raise fail(where, "original_width", "the image size is unknown")
            if typ == "rectanglelabels":
                x, y = (
                    _num(value.get(c), where, f"value.{c}", fail) * s / 100
                    for c, s in (("x", w), ("y", h))
                )
                bw = _num(value.get("width"), where, "value.width", fail) * w / 100
                bh = _num(value.get("height"), where, "value.height", fail) * h / 100
                if value.get("rotation") not in (None, 0, 0.0):
                    raise fail(where, "value.rotation", "rotated boxes are not supported")
                name = _label_of(value, typ, where, fail)
                add(name, Kind.BBOX, x1=x, y1=y, x2=x + bw, y2=y + bh)
            elif typ == "polygonlabels":
                pts = value.get("points")
                if not isinstance(pts, list) or len(pts) < 3:
                    raise fail(where, "value.points", "a polygon needs at least 3 points")
                flat: list[float] = []
                for p in pts:
                    if not isinstance(p, list) or len(p) != 2:
                        raise fail(where, "value.points", f"expected [x, y], got {p!r}")
                    flat += [
                        _num(p[0], where, "value.points", fail) * w / 100,
                        _num(p[1], where, "value.points", fail) * h / 100,
                    ]
                xs, ys = flat[0::2], flat[1::2]
                name = _label_of(value, typ, where, fail)
                add(
                    name,
                    Kind.POLYGON,
                    coords=[flat],
                    x1=min(xs),
                    y1=min(ys),
                    x2=max(xs),
                    y2=max(ys),
                )
            elif typ == "keypointlabels":
                x = _num(value.get("x"), where, "value.x", fail) * w / 100
                y = _num(value.get("y"), where, "value.y", fail) * h / 100
                name = _label_of(value, typ, where, fail)
                add(name, Kind.POINT, coords=[[x, y]], x1=x, y1=y, x2=x, y2=y)
            elif typ == "labels":
                s = value.get("start")
                e = value.get("end")
                if not isinstance(s, int) or not isinstance(e, int) or not 0 <= s < e:
                    raise fail(where, "value.start", f"bad span [{s!r}, {e!r})")
                add(_label_of(value, typ, where, fail), Kind.TEXT_SPAN, span_start=s, span_end=e)
            elif typ == "choices":
                cls = by_control.get(str(res.get("from_name")))
                if cls is None:
                    raise fail(where, "from_name", f"unknown control {res.get('from_name')!r}")
                picked = value.get("choices")
                if not isinstance(picked, list) or not all(isinstance(x, str) for x in picked):
                    raise fail(where, "value.choices", "expected a list of option names")
                add(cls.name, Kind.RADIO, answers=picked)
            else:  # brushlabels
                if value.get("format", "rle") != "rle" or not isinstance(value.get("rle"), list):
                    raise fail(where, "value.rle", "expected a brush RLE list ('format': 'rle')")
                if not (w and h):
                    raise fail(where, "original_width", "the image size is unknown")
                try:
                    mask = decode_brush(value["rle"], int(h), int(w))
                except ErrorscopeError as exc:
                    raise fail(where, "value.rle", str(exc)) from None
                if not mask.any():
                    raise fail(where, "value.rle", "the brush mask is empty")
                counts = encode_mask(mask)
                x1, y1, x2, y2 = rle_bbox(counts, int(h), int(w))
                name = _label_of(value, typ, where, fail)
                add(
                    name,
                    Kind.MASK,
                    rle_counts=counts,
                    rle_h=int(h),
                    rle_w=int(w),
                    x1=x1,
                    y1=y1,
                    x2=x2,
                    y2=y2,
                )
    return cols, completed


def _add(
    cols: dict[str, list[Any]],
    classes: Mapping[str, LsClass],
    fail: _Fail,
    where: str,
    typ: str,
    line: int,
    rid: int,
    name: str,
    kind: str,
    geo: dict[str, Any],
) -> None:
    if name not in classes:
        raise fail(where, f"value.{typ}", f"unknown class {name!r}")
    have = classes[name].kind
    if kind_family(have) != kind_family(kind):
        raise fail(where, "type", f"class {name!r} is a {have} class, not {kind}")
    if kind_family(kind) != "spatial":
        kind = have  # choices carry radio or checklist answers: the class says which
    for c in cols:
        if c not in ("line", "row_id", "class_name", "kind"):
            cols[c].append(geo.get(c))
    cols["line"].append(line)
    cols["row_id"].append(rid)
    cols["class_name"].append(name)
    cols["kind"].append(kind)
