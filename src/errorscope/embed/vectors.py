"""Read custom embedding vectors from files: NDJSON, ``.npy`` + id list, Parquet.

Every reader returns :class:`VectorFile`: a ``n x dim`` float32 matrix and, for each
vector, the data row it belongs to, either by id (``ids[i] >= 0``) or by global key
(``keys[i]``), with the 1-based line (or position) it came from so the caller's errors
can point at it. Malformed input is an :class:`~errorscope.errors.InvalidInputError`
naming the file, the line (or ``row N`` position) and the field.

* NDJSON (Labelbox style): one object per line, ``{"id": 12, "vector": [...]}`` or
  ``{"global_key": "a.jpg", "vector": [...]}``; blank lines are skipped.
* ``.npy``: a 2-D float array, with an id list: a text file (one id or global key a
  line: whole numbers are ids, anything else a global key), a JSON list, or a ``.npy``
  integer array of ids.
* Parquet: a ``vector`` column (list of numbers) and an ``id`` or ``global_key`` column.

Vectors of objects (``level="object"``: annotations or predictions, for per-object
spaces) name their object by ``annotation_id`` (an integer) or ``uuid`` instead of
``id`` and ``global_key``, in each of the three forms.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from errorscope.core.progress import report
from errorscope.errors import InvalidInputError

__all__ = ["ID_FIELDS", "MAX_DIM", "VectorFile", "check_vectors", "read_vectors"]

#: The largest dimension accepted.
MAX_DIM = 2048
#: The fields naming what a vector belongs to, by level: (integer id, string key).
ID_FIELDS: dict[str, tuple[str, str]] = {
    "row": ("id", "global_key"),
    "object": ("annotation_id", "uuid"),
}
_WHAT = {"row": "data row id", "object": "annotation id"}


@dataclass(frozen=True)
class VectorFile:
    """Vectors read from ``source``; ``lines[i]`` is where vector ``i`` was (1-based line,
    or position when ``line_kind`` is ``"row"``)."""

    source: str
    vectors: npt.NDArray[np.float32]
    ids: npt.NDArray[np.int64]
    keys: list[str | None]
    lines: npt.NDArray[np.int64]
    line_kind: str = "line"  # "line" or "row"
    id_source: str | None = None  # the id list's file, when not ``source``
    id_names: tuple[str, str] = ID_FIELDS["row"]

    def where(self, i: int) -> dict[str, Any]:
        """``path``/``line``/``location`` keywords of an error about vector ``i``'s row."""
        path = self.id_source or self.source
        if self.line_kind == "line":
            return {"path": path, "line": int(self.lines[i])}
        return {"path": path, "location": f"row {int(self.lines[i])}"}

    def id_field(self, i: int) -> str:
        return self.id_names[0] if self.ids[i] >= 0 else self.id_names[1]


def check_vectors(
    vectors: npt.NDArray[Any],
    source: str,
    where: Any,
    *,
    expected_dim: int | None = None,
) -> npt.NDArray[np.float32]:
    """A finite float32 matrix of at most :data:`MAX_DIM` columns, or an error naming the
    first bad row (``where(i)`` gives its path/line/location keywords)."""
    if vectors.ndim != 2:
        raise InvalidInputError(f"expected a 2-D array, got shape {vectors.shape}", path=source)
    dim = vectors.shape[1]
    if not 1 <= dim <= MAX_DIM:
        raise InvalidInputError(
            f"vectors have {dim} dimensions; 1 to {MAX_DIM} are supported", path=source
        )
    if expected_dim is not None and dim != expected_dim:
        raise InvalidInputError(
            f"vectors have {dim} dimensions, the space has {expected_dim}", path=source
        )
    out = np.asarray(vectors, dtype=np.float32)
    finite = np.isfinite(out).all(axis=1)
    if not finite.all():
        i = int(np.argmin(finite))
        j = int(np.argmin(np.isfinite(out[i])))
        raise InvalidInputError(
            f"vector component {j} is {out[i, j]} (NaN and infinities are not allowed)",
            field="vector",
            **where(i),
        )
    return out


def read_vectors(
    path: str | Path,
    *,
    ids: str | Path | None = None,
    expected_dim: int | None = None,
    level: str = "row",
) -> VectorFile:
    """Read ``path`` (``.ndjson``/``.jsonl``, ``.npy`` with ``ids``, or ``.parquet``);
    ``level`` ``"object"`` reads vectors of objects (``annotation_id`` / ``uuid``)."""
    if level not in ID_FIELDS:
        raise ValueError(f"level must be 'row' or 'object', not {level!r}")
    p = Path(path)
    suffix = p.suffix.lower()
    if not p.is_file():
        raise InvalidInputError("no such file", path=p)
    if suffix == ".npy":
        if ids is None:
            raise InvalidInputError("a .npy file of vectors needs an id list (ids=)", path=p)
        return _read_npy(p, Path(ids), expected_dim, level)
    if ids is not None:
        raise InvalidInputError("an id list goes only with a .npy file of vectors", path=ids)
    if suffix == ".parquet":
        return _read_parquet(p, expected_dim, level)
    return _read_ndjson(p, expected_dim, level)


def _row_ref(obj: dict[str, Any], source: str, line: int, level: str) -> tuple[int, str | None]:
    id_name, key_name = ID_FIELDS[level]
    if id_name in obj:
        value = obj[id_name]
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInputError(
                f"expected a{'n' if level == 'object' else ''} {_WHAT[level]} "
                f"(a non-negative integer), got {value!r}",
                path=source,
                line=line,
                field=id_name,
            )
        return value, None
    if key_name in obj:
        key = obj[key_name]
        if not isinstance(key, str) or not key:
            raise InvalidInputError(
                f"expected a non-empty string, got {key!r}",
                path=source,
                line=line,
                field=key_name,
            )
        return -1, key
    raise InvalidInputError(
        f"each line needs an '{id_name}' or a '{key_name}'",
        path=source,
        line=line,
        field=id_name,
    )


def _read_ndjson(p: Path, expected_dim: int | None, level: str = "row") -> VectorFile:
    source = str(p)
    data = p.read_bytes()
    total = len(data)
    rows: list[npt.NDArray[np.float32]] = []
    ids: list[int] = []
    keys: list[str | None] = []
    lines: list[int] = []
    dim = expected_dim
    offset = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        offset += len(raw) + 1
        if number % 20_000 == 0:
            report("reading vectors", min(offset, total), total)
        if not raw.strip():
            continue
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            obj = _lenient(raw, source, number, exc)
        if not isinstance(obj, dict):
            raise InvalidInputError("expected a JSON object", path=source, line=number)
        rid, key = _row_ref(obj, source, number, level)
        vector = obj.get("vector")
        if not isinstance(vector, list) or not vector:
            raise InvalidInputError(
                "expected a non-empty list of numbers", path=source, line=number, field="vector"
            )
        if dim is None:
            dim = len(vector)
            if dim > MAX_DIM:
                raise InvalidInputError(
                    f"{dim} dimensions; at most {MAX_DIM} are supported",
                    path=source,
                    line=number,
                    field="vector",
                )
        if len(vector) != dim:
            raise InvalidInputError(
                f"vector has {len(vector)} dimensions, expected {dim}",
                path=source,
                line=number,
                field="vector",
            )
        try:
            rows.append(np.asarray(vector, dtype=np.float32))
        except (TypeError, ValueError):
            raise InvalidInputError(
                "expected a list of numbers", path=source, line=number, field="vector"
            ) from None
        if rows[-1].ndim != 1:
            raise InvalidInputError(
                "expected a flat list of numbers", path=source, line=number, field="vector"
            )
        ids.append(rid)
        keys.append(key)
        lines.append(number)
    report("reading vectors", total, total)
    if not rows:
        raise InvalidInputError("no vectors in the file", path=source)
    line_arr = np.asarray(lines, dtype=np.int64)
    matrix = check_vectors(
        np.stack(rows),
        source,
        lambda i: {"path": source, "line": int(line_arr[i])},
        expected_dim=expected_dim,
    )
    return VectorFile(
        source,
        matrix,
        np.asarray(ids, dtype=np.int64),
        keys,
        line_arr,
        id_names=ID_FIELDS[level],
    )


def _lenient(raw: bytes, source: str, line: int, exc: Exception) -> Any:
    """Parse a line orjson rejected; NaN/Infinity literals become a clear error."""
    try:
        obj = json.loads(raw)
    except ValueError:
        raise InvalidInputError(f"invalid JSON ({exc})", path=source, line=line) from None
    vector = obj.get("vector") if isinstance(obj, dict) else None
    if isinstance(vector, list):
        for j, v in enumerate(vector):
            if isinstance(v, float) and not math.isfinite(v):
                raise InvalidInputError(
                    f"vector component {j} is {v} (NaN and infinities are not allowed)",
                    path=source,
                    line=line,
                    field="vector",
                )
    raise InvalidInputError(f"invalid JSON ({exc})", path=source, line=line)


def _read_ids(p: Path, level: str = "row") -> tuple[npt.NDArray[np.int64], list[str | None], str]:
    """Ids from an id list; the third item is the kind of position (line or row)."""
    what = _WHAT[level]
    id_name, key_name = ID_FIELDS[level]
    if p.suffix.lower() == ".npy":
        arr = np.load(p)
        if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
            raise InvalidInputError(f"expected a 1-D integer array of {what}s", path=p)
        return arr.astype(np.int64), [None] * len(arr), "row"
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() == ".json":
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise InvalidInputError(f"invalid JSON ({exc})", path=p) from None
        if not isinstance(items, list):
            raise InvalidInputError(f"expected a JSON list of {what}s or {key_name}s", path=p)
        values = items
        kind = "row"
    else:
        values = text.splitlines()
        if values and not values[-1].strip():
            values = values[:-1]
        kind = "line"
    ids = np.full(len(values), -1, dtype=np.int64)
    keys: list[str | None] = [None] * len(values)
    for i, v in enumerate(values):
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            ids[i] = v
        elif isinstance(v, str) and v.strip().isdigit():
            ids[i] = int(v.strip())
        elif isinstance(v, str) and v.strip():
            keys[i] = v.strip()
        else:
            where = {"line": i + 1} if kind == "line" else {"location": f"row {i + 1}"}
            raise InvalidInputError(
                f"expected a{'n' if level == 'object' else ''} {what} or a {key_name}, got {v!r}",
                path=p,
                field=id_name,
                **where,
            )
    return ids, keys, kind


def _read_npy(p: Path, ids_path: Path, expected_dim: int | None, level: str = "row") -> VectorFile:
    if not ids_path.is_file():
        raise InvalidInputError("no such file", path=ids_path)
    try:
        arr = np.load(p, mmap_mode="r")
    except ValueError as exc:
        raise InvalidInputError(f"not a .npy array ({exc})", path=p) from None
    if not np.issubdtype(arr.dtype, np.floating) and not np.issubdtype(arr.dtype, np.integer):
        raise InvalidInputError(f"expected a numeric array, got {arr.dtype}", path=p)
    source = str(p)
    matrix = check_vectors(
        arr,
        source,
        lambda i: {"path": source, "location": f"row {i + 1}"},
        expected_dim=expected_dim,
    )
    ids, keys, kind = _read_ids(ids_path, level)
    if len(ids) != len(matrix):
        raise InvalidInputError(
            f"{len(ids)} ids for {len(matrix)} vectors in {p.name}",
            path=ids_path,
            field=ID_FIELDS[level][0],
        )
    lines = np.arange(1, len(ids) + 1, dtype=np.int64)
    return VectorFile(source, matrix, ids, keys, lines, kind, str(ids_path), ID_FIELDS[level])


def _read_parquet(p: Path, expected_dim: int | None, level: str = "row") -> VectorFile:
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = str(p)
    try:
        table = pq.read_table(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InvalidInputError(f"not a Parquet file ({exc})", path=p) from None
    names = table.column_names
    if "vector" not in names:
        raise InvalidInputError("no 'vector' column", path=p, field="vector")
    n = table.num_rows
    if n == 0:
        raise InvalidInputError("no vectors in the file", path=p)

    def at(i: int) -> dict[str, Any]:
        return {"path": source, "location": f"row {i + 1}"}

    col = table.column("vector").combine_chunks()
    if not (pa.types.is_list(col.type) or pa.types.is_fixed_size_list(col.type)):
        raise InvalidInputError(f"expected a list column, got {col.type}", path=p, field="vector")
    if col.null_count:
        i = int(np.argmax(col.is_null().to_numpy(zero_copy_only=False)))
        raise InvalidInputError("vector is missing", field="vector", **at(i))
    if pa.types.is_list(col.type):
        lengths = np.diff(col.offsets.to_numpy())
        dim = expected_dim if expected_dim is not None else int(lengths[0])
        bad = np.flatnonzero(lengths != dim)
        if len(bad):
            i = int(bad[0])
            raise InvalidInputError(
                f"vector has {int(lengths[i])} dimensions, expected {dim}", field="vector", **at(i)
            )
        flat = col.flatten()
    else:
        dim = col.type.list_size
        flat = col.flatten()
    if not (pa.types.is_floating(flat.type) or pa.types.is_integer(flat.type)):
        raise InvalidInputError(f"expected numbers, got {flat.type}", path=p, field="vector")
    if flat.null_count:
        i = int(np.argmax(flat.is_null().to_numpy(zero_copy_only=False))) // max(dim, 1)
        raise InvalidInputError("vector has a missing component", field="vector", **at(i))
    values = flat.to_numpy(zero_copy_only=False).reshape(n, dim)
    matrix = check_vectors(values, source, at, expected_dim=expected_dim)
    ids = np.full(n, -1, dtype=np.int64)
    keys: list[str | None] = [None] * n
    id_name, key_name = ID_FIELDS[level]
    what = _WHAT[level]
    if id_name in names:
        id_col = table.column(id_name).combine_chunks()
        if not pa.types.is_integer(id_col.type) or id_col.null_count:
            raise InvalidInputError(f"expected integer {what}s", path=p, field=id_name)
        ids = id_col.to_numpy().astype(np.int64)
        if (ids < 0).any():
            i = int(np.argmax(ids < 0))
            raise InvalidInputError(f"a {what} cannot be negative", field=id_name, **at(i))
    elif key_name in names:
        key_col = table.column(key_name).combine_chunks()
        if not pa.types.is_string(key_col.type) and not pa.types.is_large_string(key_col.type):
            raise InvalidInputError("expected strings", path=p, field=key_name)
        keys = key_col.to_pylist()
        for i, k in enumerate(keys):
            if not k:
                raise InvalidInputError(
                    f"{key_name.replace('_', ' ')} is missing", field=key_name, **at(i)
                )
    else:
        raise InvalidInputError(f"no '{id_name}' or '{key_name}' column", path=p, field=id_name)
    lines = np.arange(1, n + 1, dtype=np.int64)
    return VectorFile(source, matrix, ids, keys, lines, "row", id_names=ID_FIELDS[level])
