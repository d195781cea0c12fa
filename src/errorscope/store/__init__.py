"""Persistence: the only package that speaks SQL. Everything lives in one DuckDB file."""

from errorscope.store.database import Database

__all__ = ["Database"]
