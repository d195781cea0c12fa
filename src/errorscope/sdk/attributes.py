"""The evaluated objects of a run as numpy arrays, and the attributes patterns are made of.

:func:`load_frame` reads a run's stored evaluation (one entry per counted object: ground
truth that is a TP or FN, predictions that are TP or FP) with, per object, its class (the
answer for radio classifications), the class it was confused with (the matched object's
class, as the confusion matrix and :class:`~errorscope.core.query.Confusion` define it),
status, error type, confidence, IoU and box.

Computed attributes (:func:`row_attributes`, :func:`object_attributes`):

* image rows: **brightness** (mean luma of a 64-px thumbnail, in tertiles of the run:
  dark / medium / bright) and **dominant colours** (the two most common named colours
  of the thumbnail's pixels in HSV: hue sectors red, orange, yellow, green, cyan, blue,
  purple, pink; low saturation is white, grey or black; dark orange is brown). Computed
  with PIL from the image file (``uri``) and cached in the workspace
  (``cache/image-attributes.parquet``, keyed by row id and uri); unreadable images get
  no attribute.
* text rows: **text length** in tertiles (short / medium / long) and **rare tokens**
  (the row has a lowercase word that occurs in at most 1 % of the run's rows, min 1).
* embedding clusters: for every embedding space of the workspace holding vectors of at
  least half the run's rows, the rows' spherical k-means clusters at k = 2, 4 and 8
  (coarse to fine; k at most rows / 10; :func:`errorscope.core.patterns.kmeans`),
  ``c1`` .. ``ck``.
* objects (spatial): **object size** (COCO: small < 32², medium < 96², large) and
  **aspect** (tall: h/w > 2, wide: w/h > 2, else regular) of the *labelled* object: a
  ground truth's own box, a prediction's matched ground truth's box, nothing for an
  unmatched prediction. A condition describes the data, never the model's output (as
  SliceLine's slices are over input features): the size of a spurious box is the
  detector's output, and "the detector's small boxes are mostly false" selects on the
  outcome rather than finding a part of the data where the model fails.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

from errorscope.core.patterns import kmeans
from errorscope.errors import NotFoundError
from errorscope.store import analysis, catalog, results
from errorscope.store import embeddings as spaces
from errorscope.store.database import Database

__all__ = ["Attribute", "Frame", "load_frame", "object_attributes", "row_attributes"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Obj = npt.NDArray[np.object_]
_CLASSIFICATION = ("radio", "checklist")


@dataclass
class Frame:
    """A run's counted objects (arrays of equal length) and its scope rows."""

    run: str
    run_id: int
    params: dict[str, Any]
    rows: pa.Table  # scope rows (store.analysis.scope_rows)
    row_ids: I64  # rows.id
    row: I64  # index into rows
    is_label: npt.NDArray[np.bool_]
    cls: Obj  # class (or answer) of the object
    other: Obj  # label: matched prediction's class (None: missed); prediction: label's
    status: Obj
    error: Obj
    confidence: F64
    iou: F64
    other_confidence: F64  # label: confidence of its matched prediction (NaN: none)
    annotation_id: I64
    spatial: npt.NDArray[np.bool_]
    gt_w: F64  # the labelled object's box: own (label), matched label's (prediction), NaN
    gt_h: F64
    classification: bool  # the run is a classification run (class = answer)

    @property
    def n_rows(self) -> int:
        return len(self.row_ids)


def _np(table: pa.Table, name: str) -> npt.NDArray[Any]:
    out: npt.NDArray[Any] = table.column(name).to_numpy(zero_copy_only=False)
    return out


def load_frame(db: Database, run: str) -> Frame:
    """The counted objects of ``run``'s stored evaluation (NotFoundError if none)."""
    info = catalog.get_run(db, run)
    summary = results.load_evaluation(db, info.id)
    if summary is None:
        raise NotFoundError(f"model run {run!r} has not been evaluated: run evaluate first")
    t = analysis.evaluated_objects(db, info.id)
    rows = analysis.scope_rows(db, info.id)
    row_ids = _np(rows, "id").astype(np.int64)
    kinds = _np(t, "class_kind").astype(object)
    names = _np(t, "class_name").astype(object)
    answers = _np(t, "answer").astype(object)
    radio = kinds == "radio"
    several = len(set(names[radio].tolist())) > 1
    cls = names.copy()
    if radio.any():
        answer = answers[radio].astype(str)
        if several:
            answer = np.strings.add(np.strings.add(names[radio].astype(str), "/"), answer)
        cls[radio] = answer
    source = _np(t, "source").astype(object)
    is_label = source == "label"
    ann = _np(t, "annotation_id").astype(np.int64)
    matched = t.column("matched_id").to_numpy(zero_copy_only=False)
    matched = np.where(np.isnan(matched.astype(np.float64)), -1, matched).astype(np.int64)
    conf = _np(t, "confidence").astype(np.float64)
    other = np.full(len(t), None, dtype=object)
    other_conf = np.full(len(t), np.nan)
    x1, y1, x2, y2 = (_np(t, c).astype(np.float64) for c in ("x1", "y1", "x2", "y2"))
    gt_w = np.where(is_label, x2 - x1, np.nan)
    gt_h = np.where(is_label, y2 - y1, np.nan)
    for side in (True, False):  # look the match up among the other side's objects
        mine = (is_label == side) & (matched >= 0)
        theirs = np.nonzero(is_label != side)[0]
        pos = np.searchsorted(ann[theirs], matched[mine])
        pos = np.clip(pos, 0, max(len(theirs) - 1, 0))
        if len(theirs):
            hit = ann[theirs][pos] == matched[mine]
            idx = np.nonzero(mine)[0]
            other[idx[hit]] = cls[theirs[pos[hit]]]
            other_conf[idx[hit]] = conf[theirs[pos[hit]]]
            if not side:  # a prediction: its matched label's box
                gt_w[idx[hit]] = (x2 - x1)[theirs[pos[hit]]]
                gt_h[idx[hit]] = (y2 - y1)[theirs[pos[hit]]]
    status = _np(t, "status").astype(object)
    counted = np.where(is_label, np.isin(status, ["TP", "FN"]), np.isin(status, ["TP", "FP"]))
    row = np.searchsorted(row_ids, _np(t, "data_row_id").astype(np.int64))
    error = _np(t, "error_type").astype(object)
    error[np.equal(error, np.array(None, dtype=object))] = ""
    error = error.astype(str).astype(object)
    keep = counted
    return Frame(
        run=run,
        run_id=info.id,
        params=dict(summary.get("params", {})),
        rows=rows,
        row_ids=row_ids,
        row=row[keep],
        is_label=is_label[keep],
        cls=cls[keep],
        other=other[keep],
        status=status[keep],
        error=error[keep],
        confidence=conf[keep],
        iou=_np(t, "iou").astype(np.float64)[keep],
        other_confidence=other_conf[keep],
        annotation_id=ann[keep],
        spatial=(~np.isin(kinds, ["radio", "checklist", "text_span"]) & np.isfinite(x1))[keep],
        gt_w=gt_w[keep],
        gt_h=gt_h[keep],
        classification=bool(np.isin(kinds, _CLASSIFICATION).all()) and len(t) > 0,
    )


@dataclass(frozen=True)
class Attribute:
    """One categorical attribute: ``values[i]`` of row (or object) ``i`` (None: n/a),
    its plain-language ``label`` ("image brightness") and, per value, the bounds used to
    bin a number (for metadata filters)."""

    key: str
    label: str
    values: Obj
    bounds: dict[str, tuple[float, float]]
    metadata: str | None = None  # the metadata field it comes from (for filters)
    skip: tuple[str, ...] = ()  # values that describe a row but make no condition ("no")


def _tertiles(x: F64, names: tuple[str, str, str]) -> tuple[Obj, dict[str, tuple[float, float]]]:
    out = np.full(len(x), None, dtype=object)
    ok = np.isfinite(x)
    if ok.sum() < 6 or np.unique(x[ok]).size < 3:
        return out, {}
    q1, q2 = np.quantile(x[ok], [1 / 3, 2 / 3])
    lo_v, hi_v = float(x[ok].min()), float(x[ok].max())
    out[ok & (x <= q1)] = names[0]
    out[ok & (x > q1) & (x <= q2)] = names[1]
    out[ok & (x > q2)] = names[2]
    bounds = {
        names[0]: (lo_v, float(q1)),
        names[1]: (float(q1), float(q2)),
        names[2]: (float(q2), hi_v),
    }
    return out, bounds


_COLOURS = ("red", "orange", "yellow", "green", "cyan", "blue", "purple", "pink", "red")
_HUE_EDGES = np.array([0, 15, 40, 65, 160, 195, 255, 285, 330, 361])


def _colour_names(hsv: npt.NDArray[np.uint8]) -> Obj:
    h = hsv[..., 0].astype(np.float64) * 360.0 / 255.0
    s = hsv[..., 1].astype(np.float64) / 255.0
    v = hsv[..., 2].astype(np.float64) / 255.0
    sector = np.clip(np.searchsorted(_HUE_EDGES, h, side="right") - 1, 0, len(_COLOURS) - 1)
    names = np.array(_COLOURS, dtype=object)[sector]
    names[(names == "orange") & (v < 0.6)] = "brown"
    grey = s < 0.2
    names[grey] = np.where(v[grey] > 0.8, "white", np.where(v[grey] < 0.2, "black", "grey"))
    names[(v < 0.15)] = "black"
    return names


def _image_stats(path: str) -> tuple[float, str]:
    from PIL import Image

    with Image.open(path) as im:
        im.draft("RGB", (128, 128))
        small = im.convert("RGB")
        small.thumbnail((64, 64))
        rgb = np.asarray(small, dtype=np.float64)
        hsv = np.asarray(small.convert("HSV"), dtype=np.uint8)
    luma = float((rgb @ np.array([0.299, 0.587, 0.114])).mean() / 255.0)
    counts = Counter(_colour_names(hsv).ravel().tolist())
    top = [str(c) for c, _ in counts.most_common(2)]
    return luma, ",".join(sorted(top))


def _image_cache(cache: Path, rows: pa.Table) -> tuple[F64, Obj]:
    ids = _np(rows, "id").astype(np.int64)
    uris = _np(rows, "uri").astype(object)
    media = _np(rows, "media_type").astype(object)
    bright = np.full(len(ids), np.nan)
    colours = np.full(len(ids), None, dtype=object)
    known: dict[tuple[int, str], tuple[float, str]] = {}
    path = cache / "image-attributes.parquet"
    if path.exists():
        old = pq.read_table(path).to_pylist()
        known = {(int(r["id"]), str(r["uri"])): (r["brightness"], r["colours"]) for r in old}
    fresh = 0
    for i in np.nonzero((media == "image") & np.array([u is not None for u in uris]))[0]:
        key = (int(ids[i]), str(uris[i]))
        if key not in known:
            try:
                known[key] = _image_stats(str(uris[i]))
            except (OSError, ValueError):
                known[key] = (float("nan"), "")
            fresh += 1
        b, c = known[key]
        bright[i] = b
        colours[i] = c or None
    if fresh:
        cache.mkdir(parents=True, exist_ok=True)
        keys = list(known)
        pq.write_table(
            pa.table(
                {
                    "id": [k[0] for k in keys],
                    "uri": [k[1] for k in keys],
                    "brightness": [known[k][0] for k in keys],
                    "colours": [known[k][1] for k in keys],
                }
            ),
            path,
        )
    return bright, colours


_WORD = re.compile(r"[a-z0-9']+")


def row_attributes(db: Database, frame: Frame, cache: Path) -> list[Attribute]:
    """Row-level attributes of the frame's rows: split, metadata (strings as they are,
    numbers in tertiles), image brightness and dominant colours, text length and rare
    tokens (see the module docstring)."""
    rows = frame.rows
    out: list[Attribute] = []
    split = _np(rows, "split").astype(object)
    if len(set(split.tolist())) > 1:
        out.append(Attribute("split", "split", split, {}))
    meta = analysis.row_metadata(db, frame.run_id)
    if meta.num_rows:
        mrow = np.searchsorted(frame.row_ids, _np(meta, "data_row_id").astype(np.int64))
        names = _np(meta, "name").astype(object)
        types = _np(meta, "type").astype(object)
        strs = _np(meta, "str_value").astype(object)
        nums = _np(meta, "num_value").astype(np.float64)
        for name in sorted(set(names.tolist())):
            sel = names == name
            if types[sel][0] == "number":
                x = np.full(frame.n_rows, np.nan)
                x[mrow[sel]] = nums[sel]
                vals, bounds = _tertiles(x, ("low", "medium", "high"))
                if bounds:
                    out.append(Attribute(f"meta:{name}", str(name), vals, bounds, str(name)))
            else:
                vals = np.full(frame.n_rows, None, dtype=object)
                vals[mrow[sel]] = strs[sel]
                out.append(Attribute(f"meta:{name}", str(name), vals, {}, str(name)))
    media = _np(rows, "media_type").astype(object)
    if (media == "image").any():
        bright, colours = _image_cache(cache, rows)
        vals, bounds = _tertiles(bright, ("dark", "medium", "bright"))
        if bounds:
            out.append(Attribute("brightness", "image brightness", vals, bounds))
        for colour in sorted({c for cs in colours if cs for c in str(cs).split(",")}):
            has = np.array(
                [None if cs is None else ("yes" if colour in str(cs).split(",") else "no")
                 for cs in colours],
                dtype=object,
            )  # fmt: skip
            if (has == "yes").any():
                label = f"dominant colours include {colour}"
                out.append(Attribute(f"colour:{colour}", label, has, {}, skip=("no",)))
    if (media == "text").any():
        text = _np(rows, "text").astype(object)
        length = np.array([np.nan if t is None else float(len(t)) for t in text])
        vals, bounds = _tertiles(length, ("short", "medium", "long"))
        if bounds:
            out.append(Attribute("text_length", "text length", vals, bounds))
        words = [set(_WORD.findall(str(t).lower())) if t is not None else set() for t in text]
        df = Counter(w for ws in words for w in ws)
        cut = max(1, int(0.01 * sum(t is not None for t in text)))
        rare = np.array(
            [None if t is None else ("yes" if any(df[w] <= cut for w in ws) else "no")
             for t, ws in zip(text, words, strict=True)],
            dtype=object,
        )  # fmt: skip
        if len(set(rare.tolist()) - {None}) > 1:
            out.append(Attribute("rare_tokens", "rare tokens", rare, {}))
    out.extend(embedding_clusters(db, frame))
    return out


def embedding_clusters(db: Database, frame: Frame, *, k: int = 8) -> list[Attribute]:
    """The cluster attribute of each embedding space covering half the frame's rows."""
    out: list[Attribute] = []
    for space in spaces.list_spaces(db):
        if space.level != "row":  # a vector per object, not per row
            continue
        ids, vectors = spaces.load_space(db, space)
        ids = np.asarray(ids, np.int64)
        pos = np.searchsorted(frame.row_ids, ids)
        pos = np.clip(pos, 0, max(frame.n_rows - 1, 0))
        hit = frame.row_ids[pos] == ids if frame.n_rows else np.zeros(len(ids), bool)
        if hit.sum() < max(20, frame.n_rows // 2):
            continue
        matrix = np.asarray(vectors[hit], np.float64)
        for kk in sorted({2, 4, k}):
            if kk > int(hit.sum()) // 10:
                continue
            labels = kmeans(matrix, kk)
            vals = np.full(frame.n_rows, None, dtype=object)
            vals[pos[hit]] = [f"c{i + 1}" for i in labels]
            label = f"embedding cluster ({space.name}, k={kk})"
            out.append(Attribute(f"cluster{kk}:{space.name}", label, vals, {}))
    return out


def object_attributes(frame: Frame) -> list[Attribute]:
    """Object-level attributes of the frame's spatial objects: size and aspect of the
    labelled object (a prediction takes its matched label's; an unmatched one has none)."""
    sp = frame.spatial & np.isfinite(frame.gt_w) & np.isfinite(frame.gt_h)
    if not sp.any():
        return []
    area = frame.gt_w * frame.gt_h
    size = np.full(len(area), None, dtype=object)
    size[sp] = np.where(area[sp] < 32**2, "small", np.where(area[sp] < 96**2, "medium", "large"))
    aspect = np.full(len(area), None, dtype=object)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = frame.gt_h / frame.gt_w
    aspect[sp] = np.where(ratio[sp] > 2, "tall", np.where(ratio[sp] < 0.5, "wide", "regular"))
    return [
        Attribute("object_size", "object size", size, {}),
        Attribute("aspect", "object aspect", aspect, {}),
    ]
