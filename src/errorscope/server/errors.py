"""One JSON error shape for every error the server returns::

    {"error": {"type": "NotFoundError", "message": "...", "status": 404}}

errorscope's own errors keep their class name as ``type``; request validation errors are
``InvalidRequest`` (status 400, not FastAPI's 422); HTTP errors such as unknown routes
are named after their status phrase (``NotFound``, ``MethodNotAllowed``); anything else
is ``InternalError`` (500) with a generic message, never a traceback.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response

from errorscope.errors import (
    ConflictError,
    ErrorscopeError,
    NotFoundError,
    WorkspaceError,
    WorkspaceLockedError,
)
from errorscope.server.jsonresponse import JSONResponse

__all__ = ["ERROR_RESPONSES", "ErrorBody", "error_response", "install_error_handlers", "status_of"]

log = logging.getLogger("errorscope.server")


class ErrorDetail(BaseModel):
    type: str
    message: str
    status: int


class ErrorBody(BaseModel):
    """The body of every error response."""

    error: ErrorDetail


#: OpenAPI ``responses`` for the errors every endpoint may return.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Invalid request"},
    404: {"model": ErrorBody, "description": "Not found"},
}


def status_of(exc: ErrorscopeError) -> int:
    """The HTTP status of one of our errors (the most specific class wins)."""
    if isinstance(exc, WorkspaceLockedError):
        return 423
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, WorkspaceError):
        return 500
    return 400  # InvalidInputError, malformed queries, bad arguments


def error_response(status: int, type_: str, message: str) -> JSONResponse:
    body = {"error": {"type": type_, "message": message, "status": status}}
    # set here too: a 500 is answered outside the app's middleware
    return JSONResponse(body, status_code=status, headers={"X-Content-Type-Options": "nosniff"})


def _phrase_type(status: int) -> str:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "HTTPError"
    return "".join(w[:1].upper() + w[1:] for w in phrase.replace("-", " ").split())


def _location(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if len(parts) >= 2 and parts[0] in ("path", "query", "body", "header", "cookie"):
        where = {"path": "path parameter", "query": "query parameter"}.get(parts[0], parts[0])
        return f"{where} {'.'.join(parts[1:])!r}"
    return ".".join(parts) or "request"


async def _ours(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ErrorscopeError)
    status = status_of(exc)
    if status >= 500:
        log.error("%s: %s", type(exc).__name__, exc)
    return error_response(status, type(exc).__name__, str(exc))


async def _validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    messages = [f"{_location(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
    return error_response(400, "InvalidRequest", "; ".join(messages) or "invalid request")


async def _http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else _phrase_type(exc.status_code)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.url.path}"
    response = error_response(exc.status_code, _phrase_type(exc.status_code), message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "InternalError", "internal error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ErrorscopeError, _ours)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(HTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
