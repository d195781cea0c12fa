"""What every parser returns, and the builders that assemble it column-wise."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from errorscope.core.types import ANNOTATION_SCHEMA, DATA_ROW_SCHEMA, METADATA_SCHEMA
from errorscope.core.validate import conform
from errorscope.errors import InvalidInputError

__all__ = ["ColumnBuilder", "Parsed", "annotations_table", "read_text", "rows_table"]


@dataclass
class Parsed:
    """One parsed import: data rows to create (if the format defines them), their
    metadata, the annotations, and the ontology classes the file declares.

    ``classes`` lists ``(name, kind)`` in the file's order; for ground truth they are
    created even when no annotation uses them (a COCO category with no instances).

    In line-oriented formats the tables' ``line`` column is the source line. In a JSON
    document it is the 1-based position in the array named by ``json_array`` (for
    annotations) or ``rows_array`` (for data rows), and errors are reported as JSON paths.
    """

    source: str
    annotations: pa.Table
    rows: pa.Table | None = None
    metadata: pa.Table | None = None
    classes: list[tuple[str, str]] = field(default_factory=list)
    json_array: str | None = None
    rows_array: str | None = None


class ColumnBuilder:
    """Collects records column by column; ``table()`` conforms them to a schema.

    Meant for formats that are parsed record by record anyway (XML, CoNLL); formats with
    a vectorised reader build their columns directly.
    """

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.columns: dict[str, list[Any]] = {f.name: [] for f in schema}
        self._n = 0

    def add(self, **values: Any) -> None:
        for name, col in self.columns.items():
            col.append(values.pop(name, None))
        if values:
            raise TypeError(f"unknown columns {sorted(values)}")
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def table(self) -> pa.Table:
        return pa.Table.from_pydict(self.columns, schema=self.schema)


def annotations_table(columns: dict[str, Any] | pa.Table | None = None) -> pa.Table:
    """Conform columns (a dict of arrays or a table) to ``ANNOTATION_SCHEMA``."""
    if columns is None:
        return ANNOTATION_SCHEMA.empty_table()
    table = columns if isinstance(columns, pa.Table) else pa.table(columns)
    return conform(table, ANNOTATION_SCHEMA)


def rows_table(columns: dict[str, Any] | pa.Table) -> pa.Table:
    table = columns if isinstance(columns, pa.Table) else pa.table(columns)
    return conform(table, DATA_ROW_SCHEMA)


def metadata_builder() -> ColumnBuilder:
    return ColumnBuilder(METADATA_SCHEMA)


def read_text(path: Path) -> str:
    """Read a UTF-8 file, turning OS and decoding errors into :class:`InvalidInputError`."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidInputError("file not found", path=path) from None
    except UnicodeDecodeError as exc:
        raise InvalidInputError(
            f"not UTF-8 text ({exc.reason} at byte {exc.start})", path=path
        ) from None
    except OSError as exc:
        raise InvalidInputError(exc.strerror or str(exc), path=path) from None


def files_in(directory: Path, suffixes: Sequence[str]) -> list[Path]:
    """Files of ``directory`` with one of ``suffixes``, sorted by name; error if none."""
    if not directory.is_dir():
        raise InvalidInputError("not a directory", path=directory)
    found = sorted(p for p in directory.iterdir() if p.suffix.lower() in suffixes)
    if not found:
        raise InvalidInputError(f"no {'/'.join(suffixes)} files in this directory", path=directory)
    return found


def unique(values: Iterable[str]) -> list[str]:
    """Values in first-seen order without repeats."""
    return list(dict.fromkeys(values))
