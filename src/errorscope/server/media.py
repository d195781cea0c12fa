"""Media files under configured roots, and their cached JPEG thumbnails.

A request path is relative to a media root. It is refused (None, which the server turns
into a 404) when it is empty, absolute, has a ``..`` part or a backslash or NUL, is not
an image file name, or when, symlinks resolved, it leaves every root.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ["IMAGE_SUFFIXES", "MediaRoots", "thumbnail"]

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff"})
THUMB_QUALITY = 85


class MediaRoots:
    """The directories media may be served from (resolved; missing ones are dropped)."""

    def __init__(self, roots: list[Path]) -> None:
        seen: dict[Path, None] = {}
        for root in roots:
            resolved = Path(root).expanduser().resolve()
            if resolved.is_dir():
                seen[resolved] = None
        self.roots = list(seen)

    def resolve(self, relative: str) -> Path | None:
        """The image file ``relative`` names under the first root that has it, or None."""
        if not relative or "\\" in relative or "\x00" in relative:
            return None
        pure = PurePosixPath(relative)
        if pure.is_absolute() or ".." in pure.parts or relative.startswith("/"):
            return None
        if pure.suffix.lower() not in IMAGE_SUFFIXES:
            return None
        for root in self.roots:
            candidate = (root / pure).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return candidate
        return None

    def url_for(self, uri: str | None) -> str | None:
        """``/media/...`` for a local image file under a root, else None."""
        if not uri or "://" in uri:
            return None
        path = Path(uri)
        if not path.is_absolute() or path.suffix.lower() not in IMAGE_SUFFIXES:
            return None
        resolved = path.resolve()
        for root in self.roots:
            if resolved.is_relative_to(root):
                relative = resolved.relative_to(root).as_posix()
                if self.resolve(relative) == resolved:
                    return "/media/" + quote(relative)
        return None


def thumbnail(source: Path, size: int, cache_dir: Path) -> Path | None:
    """A JPEG of ``source`` fitting in ``size`` x ``size``, cached in ``cache_dir`` under
    a key of the file's path, size and mtime (so an edited image gets a new thumbnail).
    None if ``source`` is not a readable image."""
    stat = source.stat()
    key = hashlib.sha256(f"{source}|{stat.st_size}|{stat.st_mtime_ns}|{size}".encode()).hexdigest()
    target = cache_dir / key[:2] / f"{key}.jpg"
    if target.is_file():
        return target
    try:
        with Image.open(source) as image:
            image.load()
            small = ImageOps.exif_transpose(image).convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    small.thumbnail((size, size))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            small.save(out, "JPEG", quality=THUMB_QUALITY)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
