"""The embedded DuckDB database of a workspace: open, lock, migrate, transact."""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from errorscope.errors import SchemaVersionError, WorkspaceError, WorkspaceLockedError
from errorscope.store.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["Database"]

DB_FILE = "errorscope.duckdb"
HOLDER_FILE = "holder.json"
_PID_RE = re.compile(r"\(PID (\d+)\)")


class Database:
    """One open connection to a workspace's database file.

    DuckDB allows one writing process per file and enforces it with a file lock; a
    second process gets :class:`WorkspaceLockedError` naming the holder's PID and
    command line (recorded in ``holder.json`` by the process that holds the lock).
    """

    def __init__(self, directory: Path, *, read_only: bool = False) -> None:
        self.directory = directory
        self.path = directory / DB_FILE
        self._depth = 0
        #: Bumped by every committed transaction that may change data (not slices): caches
        #: derived from the data (:mod:`errorscope.store.queryindex`) are keyed on it. Only
        #: one process may open a workspace, so an in-process counter is enough.
        self.generation = 0
        #: Data derived from the workspace, valid while ``generation`` is unchanged
        #: (key -> (the generation it was built at, the value)).
        self.derived: dict[Any, tuple[int, Any]] = {}
        self._touches_data = False
        try:
            self.con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.IOException as exc:
            raise self._locked_error(exc) from None
        try:
            self.con.execute("SET enable_progress_bar = false")
            if not read_only:
                self._write_holder()
            self._migrate()
        except BaseException:
            self.close()  # a workspace we refuse to use must not stay locked
            raise

    # -- lifecycle ---------------------------------------------------------------------
    def close(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            holder = json.loads((self.directory / HOLDER_FILE).read_text())
            if holder.get("pid") == os.getpid():
                (self.directory / HOLDER_FILE).unlink()
        self.con.close()

    def _write_holder(self) -> None:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)}
        (self.directory / HOLDER_FILE).write_text(json.dumps(info))

    def _locked_error(self, exc: duckdb.IOException) -> WorkspaceError:
        text = str(exc)
        if "lock" not in text.lower():
            return WorkspaceError(f"cannot open {self.path}: {text}")
        match = _PID_RE.search(text)
        pid = int(match.group(1)) if match else None
        holder = f"process {pid}" if pid is not None else "another process"
        with contextlib.suppress(FileNotFoundError, ValueError):
            info = json.loads((self.directory / HOLDER_FILE).read_text())
            if pid is None or info.get("pid") == pid:
                holder = f"process {info['pid']} on {info['host']} ({info['command']})"
        return WorkspaceLockedError(self.directory, holder)

    # -- schema ------------------------------------------------------------------------
    def schema_version(self) -> int:
        if not self.scalar(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'meta'"
        ):
            return 0
        value = self.scalar("SELECT value FROM meta WHERE key = 'schema_version'")
        return int(value) if value is not None else 0

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{self.path} has schema version {version}, this errorscope knows up to "
                f"{SCHEMA_VERSION}: upgrade errorscope to open it"
            )
        if version == SCHEMA_VERSION:
            return
        with self.transaction():
            for script in MIGRATIONS[version:]:
                self.con.execute(script)
            self.con.execute(
                "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)]
            )

    # -- transactions ------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self, *, data: bool = True) -> Iterator[None]:
        """All-or-nothing: commit when the block ends, roll back when it raises.

        Nested blocks join the outermost transaction. ``data=False`` promises that the
        block changes no data rows, annotations, runs or results (saving a slice), so
        caches derived from them stay valid.
        """
        self._touches_data = self._touches_data or data
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.con.execute("BEGIN TRANSACTION")
        self._depth = 1
        try:
            yield
        except BaseException:
            self._depth = 0
            self._touches_data = False
            self.con.execute("ROLLBACK")
            raise
        self._depth = 0
        self.con.execute("COMMIT")
        if self._touches_data:
            self.generation += 1
        self._touches_data = False

    @property
    def in_transaction(self) -> bool:
        return self._depth > 0

    # -- helpers -----------------------------------------------------------------------
    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        rows = self.con.execute(sql, params or []).fetchall()
        return rows[0][0] if rows else None

    def rows(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def arrow(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run a query and return its result as an Arrow table (no row-by-row copy)."""
        table: pa.Table = self.con.sql(sql, params=params).to_arrow_table()
        return table
