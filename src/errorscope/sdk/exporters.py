"""``Workspace.export_*``: read from the store, write with the ``export`` modules."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from errorscope.errors import ErrorscopeError
from errorscope.store import catalog, reads
from errorscope.store.database import Database

__all__ = ["ExportMixin"]


class ExportMixin:
    """The export methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def _export_source(self, run: str | None) -> pa.Table:
        run_id = None if run is None else catalog.get_run(self.db, run).id
        return reads.annotations_table(self.db, run_id=run_id)

    def _classes_table(self) -> pa.Table:
        classes = catalog.list_classes(self.db)
        return pa.table(
            {
                "id": pa.array([c.id for c in classes], pa.int64()),
                "name": pa.array([c.name for c in classes], pa.string()),
                "kind": pa.array([c.kind for c in classes], pa.string()),
            }
        )

    def export_coco(self, out: str | Path, *, run: str | None = None, results: bool = False) -> int:
        """Write ground truth (or ``run``'s predictions) as COCO JSON; returns the number
        of annotations written.

        Image ids are data row ids and category ids class ids, so a ground-truth export
        and a results export of the same workspace go together (``COCO.loadRes``).
        Ground truth lists every image row; a run lists the images it has predictions on
        and adds ``score``. ``results=True`` (needs ``run``) writes the results-list form
        instead. Text spans, classifications, points and polylines have no COCO form and
        are skipped.
        """
        from errorscope.export.coco import coco_document, coco_results, write_json

        if results and run is None:
            raise ErrorscopeError("the COCO results form holds predictions: name the run to export")
        annotations = self._export_source(run)
        rows = reads.data_rows_table(self.db)
        classes = self._classes_table()
        if results:
            found = coco_results(annotations, rows, classes)
            write_json(Path(out), found)
            return len(found)
        doc = coco_document(annotations, rows, classes, scored=run is not None)
        write_json(Path(out), doc)
        return len(doc["annotations"])

    def export_ndjson(self, out: str | Path, *, run: str | None = None) -> int:
        """Write ground truth (or ``run``'s predictions) as Labelbox-style NDJSON, one
        annotation per line (see :mod:`errorscope.export.ndjson`); returns the number of
        lines written."""
        from errorscope.export.ndjson import ndjson_records, write_ndjson

        annotations = self._export_source(run)
        records = ndjson_records(annotations, scope="labels" if run is None else f"run:{run}")
        return write_ndjson(Path(out), records)
