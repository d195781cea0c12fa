"""The browser UI's static serving (server/ui.py): files of the build, index.html with a
strict CSP for app pages (SPA fallback), no path traversal out of the build, and never
shadowing /api, /media, /docs or /openapi.json — on a fake build and on the real app."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI

import errorscope as es
from errorscope.server import create_app
from errorscope.server.errors import install_error_handlers
from errorscope.server.ui import CSP, STATIC_DIR, add_ui_routes
from tests.test_server import Client

INDEX = "<!doctype html><title>app</title><div id=app></div>"
SECRET = "top secret, outside the build"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text(INDEX)
    (static / "assets" / "index-abc123.js").write_text("console.log('app')")
    (static / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text(SECRET)
    (tmp_path / "secret.html").write_text(SECRET)
    os.symlink(tmp_path / "secret.txt", static / "link.txt")
    return static


@pytest.fixture
def client(build: Path) -> Iterator[Client]:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/api/hello")
    def hello() -> dict[str, str]:
        return {"hello": "world"}

    add_ui_routes(app, build)
    c = Client(app)
    yield c
    c.close()


def test_index_and_app_pages_get_index_html_with_a_strict_csp(client: Client) -> None:
    for path in ("/", "/index.html", "/gallery", "/metrics/?run=det&row=3", "/?run=d&view=x"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.text == INDEX
        assert r.headers["content-type"].startswith("text/html")
        csp = r.headers["content-security-policy"]
        assert csp == CSP
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
        assert "unsafe-eval" not in csp


def test_build_files_are_served_and_assets_cached(client: Client) -> None:
    r = client.get("/assets/index-abc123.js")
    assert r.status_code == 200
    assert r.text == "console.log('app')"
    assert "immutable" in r.headers["cache-control"]
    assert client.get("/favicon.svg").text == "<svg/>"
    missing = client.get("/assets/nope.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["type"] == "NotFound"
    for path in ("/missing.png", "/nope", "/etc/passwd", "/gallery/deeper"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["type"] == "NotFound"


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/..%2f..%2fsecret.txt",
        "/assets/%2e%2e/%2e%2e/secret.html",
        "/..%5csecret.txt",
        "/link.txt",
        "/%00secret.txt",
    ],
)
def test_no_path_leaves_the_build(client: Client, path: str) -> None:
    r = client.get(path)
    assert SECRET not in r.text
    assert r.status_code == 404


def test_api_and_media_are_never_shadowed(client: Client) -> None:
    assert client.get("/api/hello").json() == {"hello": "world"}
    for path in ("/api/nope", "/api", "/media/x.jpg", "/api/hello/deeper"):
        r = client.get(path)
        assert r.status_code == 404, path
        assert r.json()["error"]["type"] == "NotFound"
        assert "content-security-policy" not in r.headers
    posted = client.post("/api/nope", json={})
    assert posted.status_code == 404
    assert client.post("/gallery").status_code == 405


def test_the_real_app_serves_the_ui_after_every_route(tmp_path: Path) -> None:
    es.open_workspace(tmp_path / "ws").close()
    c = Client(create_app(tmp_path / "ws"))
    try:
        assert c.get("/api/info").json()["data_rows"] == 0
        assert c.get("/openapi.json").json()["info"]["title"] == "errorscope"
        assert "swagger" in c.get("/docs").text.lower()
        r = c.get("/api/runs/nope/rows")
        assert r.status_code == 404
        assert r.json()["error"]["type"] == "NotFoundError"
        assert c.get("/api/no/such/endpoint").json()["error"]["type"] == "NotFound"
        page = c.get("/gallery?run=det")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CSP
        if (STATIC_DIR / "index.html").is_file():
            assert '<div id="app">' in page.text
            assert "<script" in page.text
        else:
            assert "npm run build" in page.text
    finally:
        c.close()
