"""Label Studio's brush RLE, the mask format of ``BrushLabels`` results.

A mask is drawn as an RGBA image (row-major, 4 bytes a pixel; a painted pixel is 255 in
every channel) and run-length encoded into a bit stream: 32 bits of value count, 5 bits
of word size - 1, four 4-bit run-length field sizes - 1 (here 3, 4, 8, 16), then tokens:
``1`` + 2-bit size index + run length - 1 + one value (a run), or ``0`` + size index +
count - 1 + that many values (literals). The stream is padded to whole bytes and given as
a list of byte values. This is the format of ``label_studio_sdk.converter.brush``
(``encode_rle`` / ``decode_rle``); the tests check both ways against it.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from errorscope.errors import ErrorscopeError

__all__ = ["decode_brush", "encode_brush"]

_SIZES = (3, 4, 8, 16)
_WORD = 8


def encode_brush(mask: npt.NDArray[np.bool_] | npt.NDArray[np.uint8]) -> list[int]:
    """Brush RLE bytes of a 2-D mask (nonzero = painted)."""
    flat = np.repeat(np.where(np.asarray(mask).ravel() != 0, 255, 0).astype(np.uint8), 4)
    n = len(flat)
    parts = [f"{n:032b}", f"{_WORD - 1:05b}", "".join(f"{s - 1:04b}" for s in _SIZES)]
    if n:
        change = np.flatnonzero(flat[1:] != flat[:-1])
        ends = np.append(change, n - 1)
        lengths = np.diff(np.append(-1, ends))
        for length, value in zip(lengths.tolist(), flat[ends].tolist(), strict=True):
            while length > 0:
                run = min(length, 1 << 16)
                length -= run
                idx = next(i for i, s in enumerate(_SIZES) if run <= 1 << s)
                parts.append(f"1{idx:02b}{run - 1:0{_SIZES[idx]}b}{value:08b}")
    bits = "".join(parts)
    bits += "0" * (-len(bits) % 8)
    out: list[int] = np.packbits(np.frombuffer(bits.encode(), np.uint8) - 48).tolist()
    return out


def decode_brush(rle: list[int], height: int, width: int) -> npt.NDArray[np.bool_]:
    """The 2-D mask of brush RLE bytes (a pixel is painted when its alpha is nonzero)."""
    try:
        data = np.array(rle, dtype=np.int64)
        if data.ndim != 1 or ((data < 0) | (data > 255)).any():
            raise ValueError("not a list of byte values")
        bits = (np.unpackbits(data.astype(np.uint8)) + 48).tobytes().decode()
        pos = 0

        def read(k: int) -> int:
            nonlocal pos
            if pos + k > len(bits):
                raise ValueError("the bit stream ends early")
            v = int(bits[pos : pos + k], 2)
            pos += k
            return v

        num = read(32)
        word = read(5) + 1
        sizes = [read(4) + 1 for _ in range(4)]
        if num != height * width * 4:
            raise ValueError(f"it holds {num} values, the image needs {height * width * 4}")
        out = np.zeros(num, np.uint8)
        i = 0
        while i < num:
            series = read(1)
            j = i + 1 + read(sizes[read(2)])
            if j > num:
                raise ValueError("a run goes past the end of the image")
            if series:
                out[i:j] = read(word)
            else:
                for k in range(i, j):
                    out[k] = read(word)
            i = j
    except ValueError as exc:
        raise ErrorscopeError(f"bad brush RLE: {exc}") from None
    mask: npt.NDArray[np.bool_] = out.reshape(height, width, 4)[:, :, 3] != 0
    return mask
