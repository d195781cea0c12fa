"""``Workspace.export_*``: read from the store, write with the ``export`` modules."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ExportMixin"]


class ExportMixin:
    """The export methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    def export_coco(self, out: str | Path, *, run: str | None = None, results: bool = False) -> int:
        """Write ground truth (or a run's predictions) as COCO JSON; returns the count."""
        raise NotImplementedError

    def export_ndjson(self, out: str | Path, *, run: str | None = None) -> int:
        """Write ground truth (or a run's predictions) as Labelbox-style NDJSON."""
        raise NotImplementedError
