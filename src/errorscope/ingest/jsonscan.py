"""Read the arrays of a huge JSON document in bounded memory.

A COCO file with 10M annotations is one JSON object of over a gigabyte; parsing it whole
builds tens of millions of Python objects (10+ GB). :func:`scan` makes one vectorised pass
over the bytes, in fixed-size blocks, tracking string state and nesting depth with numpy,
and records where each top-level value and each array item ends. :func:`iter_items` then
hands the items of one array to ``orjson`` a few hundred thousand at a time.

Limitation: a quote preceded by exactly one backslash is taken as escaped; ``\\\\\\"``
(three backslashes then a quote) inside a string is misread. COCO files do not contain
that; a misread surfaces as a malformed-JSON error, never as silently wrong data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from errorscope.errors import InvalidInputError

__all__ = ["Batch", "Scan", "iter_batches", "load_value", "scan"]

BLOCK = 1 << 26  # 64 MiB
_OPEN = (ord("{"), ord("["))
_CLOSE = (ord("}"), ord("]"))
_KEY = re.compile(rb'"((?:[^"\\]|\\.)*)"\s*:\s*$')


@dataclass
class Scan:
    """Where the parts of a JSON document are: byte offsets, end-exclusive."""

    path: Path
    root: str  # "object" or "array"
    values: dict[str, tuple[int, int]] = field(default_factory=dict)
    item_ends: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, np.int64))
    size: int = 0


def _fail(path: Path, message: str, offset: int | None = None) -> InvalidInputError:
    line = None
    if offset is not None:
        with path.open("rb") as fh:
            line = fh.read(offset).count(b"\n") + 1
    return InvalidInputError(f"malformed JSON: {message}", path=path, line=line)


#: ``bytes.translate`` table: structural bytes (quotes, backslashes, brackets) to 1, the
#: rest to 0 — a C loop, several times faster than a numpy lookup.
_STRUCTURAL = bytes(1 if chr(i) in '"\\{}[]' else 0 for i in range(256))


def scan(path: Path) -> Scan:
    """One pass over the file: top-level values (for a root object) and item ends.

    Per block, only the structural bytes (quotes, backslashes, brackets) are kept, so
    the cumulative sums that give string state and depth run over a small fraction of
    the file.
    """
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        raise InvalidInputError("file not found", path=path) from None
    with fh:
        head = fh.read(4096).lstrip()
        if not head or head[:1] not in (b"{", b"["):
            raise _fail(path, "the document must be a JSON object or array", 0)
        root = "object" if head[:1] == b"{" else "array"
        item_level = 2 if root == "object" else 1
        fh.seek(0)
        depth, in_str, last_bs, offset = 0, 0, -10, 0
        starts: list[int] = []
        ends: list[int] = []
        item_ends: list[npt.NDArray[np.int64]] = []
        while block := fh.read(BLOCK):
            b = np.frombuffer(block, dtype=np.uint8)
            idx = np.flatnonzero(np.frombuffer(block.translate(_STRUCTURAL), dtype=bool))
            c = b[idx]
            pos = idx + offset
            backslash = c == ord("\\")
            # a backslash escapes the next byte unless it is itself escaped (the previous
            # structural byte is a backslash right before it)
            bs_pos = pos[backslash]
            prev_bs = np.concatenate(([last_bs], bs_pos[:-1]))
            live_bs = bs_pos[prev_bs != bs_pos - 1]
            if len(bs_pos):
                last_bs = int(bs_pos[-1]) if bool(prev_bs[-1] != bs_pos[-1] - 1) else -10
            quote = c == ord('"')
            escaped = np.zeros(len(c), dtype=bool)
            if len(live_bs):
                after = np.searchsorted(pos, live_bs + 1)
                hit = after < len(pos)
                after = after[hit]
                escaped[after[pos[after] == live_bs[hit] + 1]] = True
            if offset and idx.size and idx[0] == 0 and last_bs == offset - 1:
                escaped[0] = True
            real_quote = quote & ~escaped
            parity = (in_str + np.cumsum(real_quote, dtype=np.int32)) & 1
            outside = (parity == 0) & ~quote & ~backslash
            opens = outside & ((c == _OPEN[0]) | (c == _OPEN[1]))
            closes = outside & ((c == _CLOSE[0]) | (c == _CLOSE[1]))
            step = opens.astype(np.int32) - closes.astype(np.int32)
            d = depth + np.cumsum(step, dtype=np.int32)
            if root == "object":
                starts.extend(pos[opens & (d == 2)].tolist())
                ends.extend((pos[closes & (d == 1)] + 1).tolist())
            item_ends.append(pos[closes & (d == item_level)] + 1)
            if len(c):
                depth = int(d[-1])
                in_str = int(parity[-1])
            offset += len(b)
        if depth != 0 or in_str:
            raise _fail(path, "the document ends before its brackets or strings close", offset)
        result = Scan(
            path,
            root,
            size=offset,
            item_ends=np.concatenate(item_ends) if item_ends else np.zeros(0, np.int64),
        )
        if root == "object":
            if len(starts) != len(ends):
                raise _fail(path, "unbalanced brackets at the top level")
            for s, e in zip(starts, ends, strict=True):
                fh.seek(max(0, s - 4096))
                before = fh.read(s - max(0, s - 4096))
                match = _KEY.search(before)
                if match:
                    result.values[match.group(1).decode("utf-8", "replace")] = (s, e)
        return result


def load_value(sc: Scan, key: str) -> Any:
    """Parse one top-level value (e.g. ``categories``) of a root object; None if absent."""
    span = sc.values.get(key)
    if span is None:
        return None
    with sc.path.open("rb") as fh:
        fh.seek(span[0])
        data = fh.read(span[1] - span[0])
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _fail(sc.path, f"{exc.msg} in {key!r}", span[0] + exc.pos) from None


_NO_NEWLINES = bytes(32 if i in (10, 13) else i for i in range(256))


@dataclass
class Batch:
    """Consecutive items of one array: their raw bytes (items separated by commas and
    white space, no enclosing brackets), where each item ends within ``raw``, and the
    0-based index of the first item in the array."""

    raw: bytes
    ends: npt.NDArray[np.int64]
    first: int

    def __len__(self) -> int:
        return len(self.ends)

    def items(self, path: Path, offset: int) -> list[Any]:
        """Parse with orjson (``offset``: byte offset of ``raw`` in the file, for errors)."""
        try:
            out: list[Any] = orjson.loads(b"[" + self.raw + b"]")
        except orjson.JSONDecodeError as exc:
            raise _fail(path, exc.msg, offset + max(exc.pos - 1, 0)) from None
        return out

    def as_ndjson(self) -> bytearray:
        """The items one per line: raw newlines (only white space in JSON) become spaces
        and the comma after each item a newline."""
        has_newlines = b"\n" in self.raw or b"\r" in self.raw
        buf = bytearray(self.raw.translate(_NO_NEWLINES) if has_newlines else self.raw)
        arr = np.frombuffer(buf, dtype=np.uint8)
        seps = self.ends[:-1]
        if not (arr[seps] == 44).all():  # white space before some commas: find them
            commas = np.flatnonzero(arr == 44)
            seps = commas[np.searchsorted(commas, seps)]
        arr[seps] = 10
        return buf


def iter_batches(
    sc: Scan, key: str | None, *, batch_bytes: int = 1 << 25
) -> Iterator[tuple[Batch, int]]:
    """Items of the array ``key`` (None: the root array) in batches of about
    ``batch_bytes``, in order, each with its byte offset in the file."""
    if key is None:
        with sc.path.open("rb") as fh:
            head = fh.read(4096)
        lo, hi = len(head) - len(head.lstrip()), sc.size
    else:
        if key not in sc.values:
            return
        lo, hi = sc.values[key]
    ends = sc.item_ends[(sc.item_ends > lo) & (sc.item_ends < hi)]
    with sc.path.open("rb") as fh:
        fh.seek(lo)
        if fh.read(1) != b"[":
            raise _fail(sc.path, f"{key or 'the document'} must be an array", lo)
        pos = lo + 1
        first = 0
        while first < len(ends):
            stop_i = int(np.searchsorted(ends, pos + batch_bytes, side="right"))
            stop_i = min(max(stop_i, first + 1), len(ends))
            stop = int(ends[stop_i - 1])
            fh.seek(pos)
            head = fh.read(min(256, stop - pos))
            start = pos + len(head) - len(head.lstrip(b", \t\r\n"))
            fh.seek(start)
            yield Batch(fh.read(stop - start), ends[first:stop_i] - start, first), start
            pos = stop
            first = stop_i
        fh.seek(pos)
        rest = fh.read(hi - pos).strip(b", \t\r\n")
        if rest != b"]":
            raise _fail(sc.path, f"unexpected content in {key or 'the document'}", pos)
