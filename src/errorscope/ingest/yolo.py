"""YOLO txt files: one file per image, one object per line, classes by index.

Class index ``i`` is line ``i`` (0-based) of the names file. Two layouts:

* ``"yolo"`` (darknet / ultralytics): ``class cx cy w h`` normalised to [0, 1] by the
  image size; predictions may add a 6th column, the score (none = confidence 1.0);
* ``"ltwh"``: absolute pixels, ``class score left top width height`` for predictions
  (the detections of voc100's ``dets/abs_xywh``) and ``class left top width height``
  for ground truth, which has no score column.

The image of ``<stem>.txt`` is the file ``<stem>.<ext>`` in ``images_dir`` (ext one of
jpg, jpeg, png, bmp, webp, any case); its name is the data row's global key and its
size is read from the image header with Pillow (as stored: EXIF orientation is not
applied). Ground truth (``scored=False``) creates a data row per txt file, an empty file
being an image without objects, and declares every name of the names file as a
``bbox`` class. Predictions (``scored=True``) only add annotations to existing rows.

``images_dir`` is needed for ground truth (rows need real file names and sizes) and for
normalised coordinates. Only ``"ltwh"`` predictions can go without it: their row key is
then ``<stem><image_ext>`` (default ``.jpg``), resolved against the workspace's rows.

Lines are split and converted column-wise with pyarrow over all files at once; every
error names the txt file, its line and the field (column).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from PIL import Image

from errorscope.core.geometry import cxcywh_to_xyxy, xywh_to_xyxy
from errorscope.core.types import Kind, MediaType
from errorscope.errors import InvalidInputError
from errorscope.ingest.common import Parsed, annotations_table, files_in, read_text, rows_table

__all__ = ["IMAGE_SUFFIXES", "image_size", "parse_yolo"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_FIELDS = {
    ("yolo", True): ("class", "cx", "cy", "w", "h", "score"),
    ("yolo", False): ("class", "cx", "cy", "w", "h"),
    ("ltwh", True): ("class", "score", "left", "top", "width", "height"),
    ("ltwh", False): ("class", "left", "top", "width", "height"),
}

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


def image_size(path: Path) -> tuple[int, int]:
    """``(width, height)`` of an image, from its header only."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
    except (OSError, Image.DecompressionBombError) as exc:
        raise InvalidInputError(f"cannot read the image size: {exc}", path=path) from None
    return int(width), int(height)


def read_names(path: Path) -> list[str]:
    """Class names, one a line; trailing blank lines are ignored, inner ones are errors."""
    names = [line.strip() for line in read_text(path).removeprefix("\ufeff").splitlines()]
    while names and not names[-1]:
        names.pop()
    if not names:
        raise InvalidInputError("the names file lists no classes", path=path)
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if not name:
            raise InvalidInputError(
                f"blank line in the names file (class index {i - 1})",
                path=path,
                line=i,
                field="name",
            )
        if name in seen:
            raise InvalidInputError(
                f"class {name!r} is also on line {seen[name]}", path=path, line=i, field="name"
            )
        seen[name] = i
    return names


def _image_index(images_dir: Path) -> dict[str, list[str]]:
    if not images_dir.is_dir():
        raise InvalidInputError("images directory not found", path=images_dir)
    index: dict[str, list[str]] = {}
    for p in sorted(images_dir.iterdir()):
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file():
            index.setdefault(p.stem, []).append(p.name)
    return index


def _image_name(txt: Path, index: dict[str, list[str]], images_dir: Path) -> str:
    found = index.get(txt.stem, [])
    if not found:
        raise InvalidInputError(
            f"no image {txt.stem}.{{{','.join(s[1:] for s in IMAGE_SUFFIXES)}}} in {images_dir}",
            path=txt,
        )
    if len(found) > 1:
        raise InvalidInputError(
            f"several images match this file in {images_dir}: {', '.join(found)}", path=txt
        )
    return found[0]


class _Lines:
    """The non-blank lines of all txt files: tokens, and where each line came from."""

    def __init__(self, files: list[Path]) -> None:
        per_file = [read_text(p).removeprefix("\ufeff").split("\n") for p in files]
        counts = np.array([len(lines) for lines in per_file], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        file_idx = np.repeat(np.arange(len(files), dtype=np.int64), counts)
        line_no = np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts) + 1
        text = pc.utf8_trim_whitespace(
            pa.array([line for lines in per_file for line in lines], pa.string())
        )
        keep = np.asarray(pc.not_equal(text, "").to_numpy(zero_copy_only=False), dtype=bool)
        tokens = pc.utf8_split_whitespace(text.filter(pa.array(keep)))
        ncol = np.asarray(pc.list_value_length(tokens).to_numpy(zero_copy_only=False))
        self.files = files
        self.file_idx: IntArray = file_idx[keep]
        self.line_no: IntArray = line_no[keep]
        self.ncol: IntArray = ncol.astype(np.int64)
        self.tokens = pc.list_flatten(tokens)
        self.starts: IntArray = np.concatenate([[0], np.cumsum(self.ncol)[:-1]]).astype(np.int64)

    def __len__(self) -> int:
        return len(self.ncol)

    def error(self, i: int, message: str, field: str) -> InvalidInputError:
        return InvalidInputError(
            message, path=self.files[self.file_idx[i]], line=int(self.line_no[i]), field=field
        )


def _matrix(lines: _Lines, width: int) -> tuple[FloatArray, BoolArray]:
    """Values as an ``(n, width)`` float matrix (NaN where absent), and per token whether it
    is a finite number."""
    try:
        floats = pc.cast(lines.tokens, pa.float64())
    except pa.ArrowInvalid:  # some token is no number at all: find which, as NaN
        numeric = pc.fill_null(pc.match_substring_regex(lines.tokens, _NUMBER), False)
        floats = pc.cast(pc.if_else(numeric, lines.tokens, pa.scalar("nan")), pa.float64())
    flat = np.asarray(floats.to_numpy(zero_copy_only=False), dtype=np.float64)
    values = np.full((len(lines), width), np.nan)
    for j in range(width):
        has = lines.ncol > j
        values[has, j] = flat[lines.starts[has] + j]
    return values, np.isfinite(flat)


def _check(lines: _Lines, fields: tuple[str, ...], n_classes: int, scored: bool) -> FloatArray:
    """Parse and check all lines; raise for the first bad line (file order)."""
    width = len(fields)
    allowed = (5, 6) if fields[1] == "cx" and scored else (width,)
    values, numeric = _matrix(lines, width)
    bad_count = ~np.isin(lines.ncol, allowed)
    token_bad = ~numeric
    bad_token_line = np.zeros(len(lines), dtype=bool)
    if token_bad.any():
        bad_token_line[np.repeat(np.arange(len(lines)), lines.ncol)[token_bad]] = True
    ok = ~bad_count & ~bad_token_line
    cls = values[:, 0]
    with np.errstate(invalid="ignore"):
        bad_class_int = ok & (cls != np.floor(cls))
        bad_class = ok & ~bad_class_int & ((cls < 0) | (cls >= n_classes))
        size_cols = [fields.index(f) for f in fields if f in ("w", "h", "width", "height")]
        bad_size = ok & (values[:, size_cols] < 0).any(axis=1)
        score_col = fields.index("score") if "score" in fields else None
        score = values[:, score_col] if score_col is not None else np.full(len(lines), np.nan)
        bad_score = ok & ((score < 0) | (score > 1))
    any_bad = bad_count | bad_token_line | bad_class_int | bad_class | bad_size | bad_score
    if not any_bad.any():
        return values
    i = int(np.flatnonzero(any_bad)[0])
    if bad_count[i]:
        expected = " or ".join(str(n) for n in allowed)
        names = " ".join(fields) if len(allowed) == 1 else " ".join(fields[:-1]) + " [score]"
        raise lines.error(
            i, f"expected {expected} columns ({names}), got {lines.ncol[i]}", "columns"
        )
    if bad_token_line[i]:
        j = int(np.flatnonzero(token_bad[lines.starts[i] : lines.starts[i] + lines.ncol[i]])[0])
        token = lines.tokens[int(lines.starts[i]) + j].as_py()
        raise lines.error(i, f"expected a number, got {token!r}", fields[j])
    if bad_class_int[i]:
        raise lines.error(i, f"class index must be a whole number, got {cls[i]:g}", "class")
    if bad_class[i]:
        raise lines.error(
            i, f"unknown class index {cls[i]:g} (names file has {n_classes} classes)", "class"
        )
    if bad_size[i]:
        j = next(c for c in size_cols if values[i, c] < 0)
        raise lines.error(i, f"negative box {fields[j]} {values[i, j]:g}", fields[j])
    raise lines.error(i, f"score must be in [0, 1], got {score[i]:g}", "score")


def parse_yolo(
    directory: Path,
    *,
    names: Path,
    images_dir: Path | None = None,
    layout: Literal["yolo", "ltwh"] = "yolo",
    scored: bool = False,
    image_ext: str = ".jpg",
) -> Parsed:
    """Parse the ``*.txt`` files of ``directory`` (sorted by name; the names file itself
    is skipped if it lies there) as ground truth, or with ``scored`` as predictions.

    See the module docstring for the layouts and for when ``images_dir`` is required.
    """
    if layout not in ("yolo", "ltwh"):
        raise ValueError(f"layout must be 'yolo' or 'ltwh', got {layout!r}")
    class_names = read_names(names)
    files = files_in(directory, [".txt"])
    if names.parent.resolve() == directory.resolve():  # labelImg keeps classes.txt there
        files = [p for p in files if p.name != names.name]
    if not files:
        raise InvalidInputError("no .txt files besides the names file", path=directory)
    if images_dir is None and not (scored and layout == "ltwh"):
        what = "ground truth" if not scored else "normalised (layout yolo) predictions"
        raise InvalidInputError(
            f"YOLO {what} needs the images directory (--images / images_dir) "
            "to know each image's file name and size",
            path=directory,
        )
    need_sizes = not scored or layout == "yolo"
    keys: list[str]
    sizes = np.full((len(files), 2), np.nan)
    if images_dir is not None:
        index = _image_index(images_dir)
        keys = [_image_name(p, index, images_dir) for p in files]
        if need_sizes:
            sizes[:] = [image_size(images_dir / key) for key in keys]
    else:
        keys = [p.stem + image_ext for p in files]

    fields = _FIELDS[layout, scored]
    lines = _Lines(files)
    values = _check(lines, fields, len(class_names), scored)
    col = {f: values[:, j] for j, f in enumerate(fields)}
    if layout == "yolo":
        img = sizes[lines.file_idx]
        boxes = cxcywh_to_xyxy(
            np.stack([col["cx"], col["cy"], col["w"], col["h"]], axis=1), img[:, 0], img[:, 1]
        )
    else:
        boxes = xywh_to_xyxy(np.stack([col["left"], col["top"], col["width"], col["height"]], 1))
    columns: dict[str, Any] = {
        "line": lines.line_no,
        "row_key": pc.take(pa.array(keys, pa.string()), pa.array(lines.file_idx)),
        "class_name": pc.take(
            pa.array(class_names, pa.string()), pa.array(col["class"].astype(np.int64))
        ),
        "kind": pa.array([str(Kind.BBOX)] * len(lines), pa.string()),
        "x1": boxes[:, 0],
        "y1": boxes[:, 1],
        "x2": boxes[:, 2],
        "y2": boxes[:, 3],
    }
    if scored:
        score = col["score"]
        columns["confidence"] = pa.array(score, pa.float64(), mask=np.isnan(score))
        return Parsed(str(directory), annotations_table(columns))
    assert images_dir is not None
    rows = rows_table(
        {
            "line": pa.nulls(len(files), pa.int64()),
            "global_key": keys,
            "media_type": [str(MediaType.IMAGE)] * len(files),
            "uri": [str(images_dir / key) for key in keys],
            "width": sizes[:, 0].astype(np.int32),
            "height": sizes[:, 1].astype(np.int32),
        }
    )
    return Parsed(
        str(directory),
        annotations_table(columns),
        rows=rows,
        classes=[(name, str(Kind.BBOX)) for name in class_names],
    )
