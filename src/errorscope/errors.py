"""Every error errorscope raises on purpose.

The tree::

    ErrorscopeError                 base class: catch this to catch all of ours
    ├── WorkspaceError              a workspace cannot be opened or used
    │   ├── WorkspaceLockedError    another process holds the workspace
    │   └── SchemaVersionError      the workspace was written by a newer errorscope
    ├── InvalidInputError           an import file is malformed or inconsistent;
    │                               carries ``path``, ``line`` and ``field``
    ├── InvalidQueryError           a filter, sort, expression or cursor is malformed
    ├── NotFoundError               a named dataset, model, run or class does not exist
    └── ConflictError               a name that must be unique is already taken

Imports are all-or-nothing: when an ``InvalidInputError`` escapes an import, the
workspace is exactly as it was before the import started.
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConflictError",
    "ErrorscopeError",
    "InvalidInputError",
    "InvalidQueryError",
    "NotFoundError",
    "SchemaVersionError",
    "WorkspaceError",
    "WorkspaceLockedError",
]


class ErrorscopeError(Exception):
    """Base class of every error errorscope raises on purpose."""


class WorkspaceError(ErrorscopeError):
    """A workspace cannot be opened or used."""


class WorkspaceLockedError(WorkspaceError):
    """Another process has the workspace open; ``holder`` describes it."""

    def __init__(self, path: Path, holder: str) -> None:
        self.path = path
        self.holder = holder
        super().__init__(f"workspace {path} is in use by {holder}; close it and try again")


class SchemaVersionError(WorkspaceError):
    """The workspace's schema is newer than this version of errorscope understands."""


class InvalidInputError(ErrorscopeError):
    """Bad input in an import: names the file, the line (or JSON path) and the field.

    ``line`` is 1-based; ``location`` is used instead of a line where the input is
    not line-oriented (a JSON path such as ``annotations[12].bbox``).
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        location: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.location = location
        self.field = field
        super().__init__(self._render())

    def _render(self) -> str:
        where = self.path or "<input>"
        if self.line is not None:
            where += f":{self.line}"
        if self.location:
            where += f": {self.location}"
        if self.field:
            where += f": field {self.field!r}"
        return f"{where}: {self.message}"


class InvalidQueryError(ErrorscopeError):
    """A query is malformed: unknown filter field or metric, wrong type, bad expression,
    sort or cursor. Nothing is read or written."""


class NotFoundError(ErrorscopeError):
    """A named dataset, model, run, class or data row does not exist."""


class ConflictError(ErrorscopeError):
    """A name that must be unique is already taken."""
