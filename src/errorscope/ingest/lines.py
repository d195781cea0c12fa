"""Line-oriented JSON files read fast: chunks of whole lines, pyarrow first, orjson after.

The NDJSON importers (:mod:`errorscope.ingest.ndjson`, :mod:`errorscope.ingest.datarows`)
read a file in chunks cut at line ends. A chunk first goes through ``pyarrow.json`` with
an explicit schema (:func:`read_json_chunk`); when pyarrow refuses it, or for the few
lines the vectorised path does not take, each line is parsed with :func:`loads_line`, and
the per-line parsers raise the error that names the file, the line and the field.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from errorscope.errors import InvalidInputError

__all__ = [
    "Chunk",
    "arrays",
    "bad_line",
    "loads_line",
    "number",
    "read_chunks",
    "read_json_chunk",
    "read_json_chunks",
    "valid",
]

CHUNK_BYTES = 64 << 20
BLOCK_BYTES = 16 << 20


@dataclass
class Chunk:
    """Whole lines of a file: ``data[:end]``, starting at 1-based line ``first_line``
    and holding ``newlines`` line ends."""

    first_line: int
    data: bytes
    end: int
    newlines: int

    def buffer(self) -> pa.Buffer:
        return pa.py_buffer(self.data).slice(0, self.end)

    def lines(self) -> Iterator[tuple[int, bytes]]:
        """``(line number, text)`` of the non-blank lines."""
        for i, text in enumerate(self.data[: self.end].split(b"\n")):
            if text.strip():
                yield self.first_line + i, text

    def row_lines(self, rows: int) -> npt.NDArray[np.int64] | None:
        """Line numbers of ``rows`` parsed records, one per non-blank line; None if the
        non-blank lines do not number ``rows`` (e.g. two objects on one line)."""
        n_lines = self.newlines + int(self.end > 0 and self.data[self.end - 1] != ord("\n"))
        if rows == n_lines:
            return self.first_line + np.arange(rows, dtype=np.int64)
        found = np.fromiter((line for line, _ in self.lines()), dtype=np.int64)
        return found if len(found) == rows else None

    def texts(self, lines: npt.NDArray[np.int64]) -> list[bytes]:
        parts = self.data[: self.end].split(b"\n")
        return [parts[int(line) - self.first_line] for line in lines]


def read_chunks(path: Path, size: int = CHUNK_BYTES) -> Iterator[Chunk]:
    """The file in chunks of about ``size`` bytes cut at line ends (a UTF-8 BOM dropped)."""
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise InvalidInputError("file not found", path=path) from None
    except OSError as exc:
        raise InvalidInputError(exc.strerror or str(exc), path=path) from None
    with fh:
        if fh.read(3) != b"\xef\xbb\xbf":
            fh.seek(0)
        line = 1
        while data := fh.read(size):
            at_eof = len(data) < size
            end = len(data) if at_eof else data.rfind(b"\n") + 1
            while end == 0:  # a line longer than size
                more = fh.read(size)
                data += more
                at_eof = len(more) < size
                end = len(data) if at_eof else data.rfind(b"\n") + 1
            if end < len(data):
                fh.seek(end - len(data), io.SEEK_CUR)  # the partial line starts the next chunk
            newlines = data.count(b"\n", 0, end)
            yield Chunk(line, data, end, newlines)
            line += newlines


def read_json_chunk(
    chunk: Chunk, schema: pa.Schema, prepare: Callable[[bytes], bytes] | None = None
) -> pa.Table | None:
    """``pyarrow.json`` over one chunk (fields outside ``schema`` ignored); None if it
    refuses the chunk, which then takes the per-line path. ``prepare`` may rewrite the
    bytes first, as long as it keeps every line (and so every line number)."""
    data = chunk.buffer() if prepare is None else pa.py_buffer(prepare(chunk.data[: chunk.end]))
    try:
        table = pj.read_json(
            pa.BufferReader(data),
            read_options=pj.ReadOptions(block_size=BLOCK_BYTES),
            parse_options=pj.ParseOptions(
                explicit_schema=schema, unexpected_field_behavior="ignore"
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    return table.combine_chunks()


def read_json_chunks(
    path: Path, schema: pa.Schema, prepare: Callable[[bytes], bytes] | None = None
) -> Iterator[tuple[Chunk, pa.Table | None]]:
    """Each chunk with :func:`read_json_chunk`'s table, the next chunk parsed by pyarrow
    while the caller works on the current one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending: tuple[Chunk, Future[pa.Table | None]] | None = None
        for chunk in read_chunks(path, CHUNK_BYTES):  # read at call time: tests shrink it
            future = pool.submit(read_json_chunk, chunk, schema, prepare)
            if pending is not None:
                yield pending[0], pending[1].result()
            pending = chunk, future
        if pending is not None:
            yield pending[0], pending[1].result()


def bad_line(path: Path, line: int, field: str | None, message: str) -> InvalidInputError:
    return InvalidInputError(message, path=path, line=line, field=field)


def loads_line(text: bytes, path: Path, line: int) -> dict[str, Any]:
    """One line as a JSON object. ``NaN``/``Infinity`` (as Python's json writes them) are
    accepted so that the checks of the values can name the field."""
    try:
        obj = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        try:
            obj = json.loads(text)
        except ValueError:
            raise bad_line(path, line, None, f"malformed JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise bad_line(path, line, None, "each line must hold one JSON object")
    return obj


def number(value: Any) -> float | None:
    """``value`` as a float if it is a JSON number (not a bool), else None."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def arrays(table: pa.Table) -> dict[str, pa.Array]:
    """The columns of a table as (single-chunk) arrays."""
    return {
        name: col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
        for name, col in zip(table.column_names, table.columns, strict=True)
    }


def valid(arr: pa.Array) -> npt.NDArray[np.bool_]:
    """True where ``arr`` is not null."""
    out: npt.NDArray[np.bool_] = np.asarray(pc.is_valid(arr).to_numpy(zero_copy_only=False))
    return out
