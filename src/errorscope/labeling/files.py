"""Label Studio JSON files: write a batch's tasks, read a completed export back.

The file is Label Studio's own import/export form, a JSON array of tasks (see
:mod:`errorscope.labeling.lsformat`): it can be imported into a Label Studio project
(``Import`` in the UI) and the project's ``JSON`` export read back here.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from errorscope.errors import InvalidInputError

__all__ = ["read_tasks", "write_tasks"]


def write_tasks(out: Path, tasks: list[dict[str, Any]]) -> int:
    """Write the tasks atomically; returns how many."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        tmp.write_bytes(orjson.dumps(tasks, option=orjson.OPT_INDENT_2))
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return len(tasks)


def read_tasks(path: Path) -> Any:
    """The parsed JSON of a Label Studio export (malformed JSON names line and column)."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InvalidInputError("file not found", path=path) from None
    except OSError as exc:
        raise InvalidInputError(exc.strerror or str(exc), path=path) from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidInputError(
            f"not valid JSON: {exc.msg} (column {exc.colno})", path=path, line=exc.lineno
        ) from None
