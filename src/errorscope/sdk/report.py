"""What an import reports back."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["ImportReport"]


@dataclass(frozen=True)
class ImportReport:
    """What one import wrote."""

    source: str
    data_rows_created: int
    data_rows_reused: int
    classes_created: int
    labels: int
    predictions: int
    run: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
