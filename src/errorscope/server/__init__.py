"""The REST server: a FastAPI app over one workspace (``errorscope serve``)."""

from errorscope.server.app import create_app

__all__ = ["create_app"]
