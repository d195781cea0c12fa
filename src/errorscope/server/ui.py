"""The browser UI: the built single-page app (``ui/`` -> ``server/static``) served at ``/``.

It is the router's fallback (what answers when no route matches), so every route, the
API's, ``/media``, ``/docs``, ``/openapi.json`` and any added later, wins, and a wrong
method on a route stays a 405. A
request for a file of the build is answered with that file (``/assets/*`` are
content-hashed and cached for a year); ``/`` and the app's page paths (:data:`PAGES`;
the view state itself is in the query string) get ``index.html`` with a strict
Content-Security-Policy (scripts and connections to this origin only). Anything else,
paths under ``/api`` and ``/media`` that no route took included, stays a 404 in the
server's error shape, never the app. Paths leaving the build directory (``..``, encoded or not,
absolute, backslashes, NUL, symlinks out) are never served.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from fastapi import FastAPI
from starlette.responses import FileResponse, Response
from starlette.types import Receive, Scope, Send

from errorscope.server.errors import error_response

__all__ = ["CSP", "PAGES", "STATIC_DIR", "SpaApp", "add_ui_routes"]

#: Where ``npm run build`` in ``ui/`` writes the app (shipped as package data).
STATIC_DIR = Path(__file__).with_name("static")

#: The policy of the app's pages: nothing but this origin's scripts and connections.
CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
#: Paths answered with the app's index.html (SPA fallback), besides ``/``.
PAGES = frozenset({"index.html", "gallery", "metrics", "projector", "catalog"})
_RESERVED = ("api", "media")
_MISSING = """<!doctype html><meta charset="utf-8"><title>errorscope</title>
<p>The errorscope UI is not built. Run <code>make ui</code> (or <code>npm ci &amp;&amp;
npm run build</code> in <code>ui/</code>), or use the API at <a href="/docs">/docs</a>.</p>
"""


class SpaApp:
    """ASGI app serving the files of ``root`` and ``index.html`` for app pages."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _file(self, relative: str) -> Path | None:
        if not relative or "\\" in relative or "\x00" in relative:
            return None
        pure = PurePosixPath(relative)
        if pure.is_absolute() or ".." in pure.parts:
            return None
        root = self.root.resolve()  # per request: the build may appear after start-up
        candidate = (root / pure).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
        return None

    def _index(self) -> Response:
        headers = {"Content-Security-Policy": CSP, "Cache-Control": "no-cache"}
        index = self._file("index.html")
        if index is None:
            return Response(_MISSING, media_type="text/html", headers=headers)
        return FileResponse(index, media_type="text/html", headers=headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover - no websockets here
            return
        path: str = scope["path"]
        relative = path.lstrip("/")
        first = relative.split("/", 1)[0]
        response: Response
        if first in _RESERVED:
            response = error_response(404, "NotFound", f"no such endpoint: {path}")
        elif scope["method"] not in ("GET", "HEAD"):
            response = error_response(405, "MethodNotAllowed", "Method Not Allowed")
        elif relative == "" or relative.rstrip("/") in PAGES:
            response = self._index()
        elif (found := self._file(relative)) is not None:
            cache = "public, max-age=31536000, immutable" if first == "assets" else "no-cache"
            response = FileResponse(found, headers={"Cache-Control": cache})
        else:
            response = error_response(404, "NotFound", f"no such endpoint: {path}")
        await response(scope, receive, send)


def add_ui_routes(app: FastAPI, static_dir: Path | None = None) -> None:
    """Serve the UI from ``static_dir`` (default: the package's build) where no route
    matches."""
    app.router.default = SpaApp(static_dir or STATIC_DIR)
