"""The ``errorscope`` command line: a thin client of the SDK."""

from errorscope.cli.main import cli, main

__all__ = ["cli", "main"]
