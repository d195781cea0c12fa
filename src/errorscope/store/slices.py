"""Saved slices: a name, a description, a filter's JSON text and an optional run."""

from __future__ import annotations

from errorscope.errors import ConflictError, NotFoundError
from errorscope.store.database import Database

__all__ = ["delete_slice", "get_slice", "insert_slice", "list_slices"]

StoredSlice = tuple[str, str, str, str | None]  # name, description, filter JSON, run


def insert_slice(
    db: Database, name: str, description: str, filter_json: str, run: str | None
) -> None:
    with db.transaction(data=False):
        if db.scalar("SELECT 1 FROM slices WHERE name = ?", [name]) is not None:
            raise ConflictError(f"slice {name!r} already exists")
        db.con.execute(
            "INSERT INTO slices (name, description, filter, run) VALUES (?, ?, ?, ?)",
            [name, description, filter_json, run],
        )


def get_slice(db: Database, name: str) -> StoredSlice | None:
    rows = db.rows("SELECT name, description, filter, run FROM slices WHERE name = ?", [name])
    return None if not rows else (rows[0][0], rows[0][1], rows[0][2], rows[0][3])


def list_slices(db: Database) -> list[StoredSlice]:
    return [
        (n, d, f, r)
        for n, d, f, r in db.rows("SELECT name, description, filter, run FROM slices ORDER BY name")
    ]


def delete_slice(db: Database, name: str) -> None:
    with db.transaction(data=False):
        if db.scalar("SELECT 1 FROM slices WHERE name = ?", [name]) is None:
            raise NotFoundError(f"no slice named {name!r}")
        db.con.execute("DELETE FROM slices WHERE name = ?", [name])
