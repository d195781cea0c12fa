"""A workspace: one directory holding one project's database, indexes and caches."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pyarrow as pa

from errorscope.core.progress import report
from errorscope.core.types import ANNOTATION_SCHEMA, DATA_ROW_SCHEMA, Kind, RunStatus
from errorscope.core.validate import conform, validate_annotations, validate_data_rows
from errorscope.errors import InvalidInputError, NotFoundError, WorkspaceError
from errorscope.ingest.common import Parsed
from errorscope.sdk.aggregate import AggregateMixin
from errorscope.sdk.batches import BatchMixin
from errorscope.sdk.catalog import CatalogMixin
from errorscope.sdk.compare import CompareMixin
from errorscope.sdk.curves import CurvesMixin
from errorscope.sdk.embeddings import EmbeddingsMixin
from errorscope.sdk.evaluation import EvaluationMixin
from errorscope.sdk.exporters import ExportMixin
from errorscope.sdk.importers import ImportMixin
from errorscope.sdk.labelissues import LabelIssueMixin
from errorscope.sdk.patterns import PatternMixin
from errorscope.sdk.query import QueryMixin
from errorscope.sdk.report import ImportReport
from errorscope.sdk.retrain import RetrainMixin
from errorscope.sdk.slices import SliceMixin
from errorscope.sdk.uncertainty import IntervalMixin
from errorscope.store import catalog, reads
from errorscope.store.bulk import insert_annotations, insert_data_rows
from errorscope.store.database import Database

__all__ = ["DEFAULT_WORKSPACE", "ImportReport", "Workspace", "open_workspace"]

DEFAULT_WORKSPACE = "errorscope-workspace"
ENV_WORKSPACE = "ERRORSCOPE_WORKSPACE"


def default_workspace_path() -> Path:
    """``$ERRORSCOPE_WORKSPACE`` if set, else ``./errorscope-workspace``."""
    return Path(os.environ.get(ENV_WORKSPACE) or DEFAULT_WORKSPACE)


@contextlib.contextmanager
def _json_paths(array: str | None) -> Iterator[None]:
    """Re-express a ``line`` that is really an array position as a JSON path."""
    try:
        yield
    except InvalidInputError as exc:
        if array is None or exc.line is None:
            raise
        raise InvalidInputError(
            exc.message, path=exc.path, location=f"{array}[{exc.line - 1}]", field=exc.field
        ) from None


class Workspace(
    ImportMixin,
    ExportMixin,
    EvaluationMixin,
    CurvesMixin,
    QueryMixin,
    CatalogMixin,
    EmbeddingsMixin,
    SliceMixin,
    AggregateMixin,
    PatternMixin,
    LabelIssueMixin,
    IntervalMixin,
    BatchMixin,
    CompareMixin,
    RetrainMixin,
):
    """An open workspace. Use as a context manager, or call :meth:`close`.

    Only one process may have a workspace open at a time; another gets
    :class:`~errorscope.errors.WorkspaceLockedError` naming the holder.
    """

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if not self.path.exists():
            if not create:
                raise WorkspaceError(f"no workspace at {self.path}")
            self.path.mkdir(parents=True)
        elif not self.path.is_dir():
            raise WorkspaceError(f"{self.path} is not a directory")
        self.db = Database(self.path)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------
    def info(self) -> dict[str, Any]:
        """Counts of datasets, data rows, classes, labels, and per run predictions/splits."""
        return reads.counts(self.db)

    def data_rows(self) -> pa.Table:
        return reads.data_rows_table(self.db)

    def metadata(self) -> pa.Table:
        return reads.metadata_table(self.db)

    def classes(self) -> list[catalog.ClassInfo]:
        return catalog.list_classes(self.db)

    def labels(self) -> pa.Table:
        """All ground-truth annotations, with ``row_key`` and ``class_name``."""
        return reads.annotations_table(self.db)

    def predictions(self, run: str) -> pa.Table:
        """One run's predictions, with ``row_key``, ``class_name`` and ``confidence``."""
        return reads.annotations_table(self.db, run_id=self.run(run).id)

    def runs(self) -> list[catalog.RunInfo]:
        return catalog.list_runs(self.db)

    def run(self, name: str) -> catalog.RunInfo:
        return catalog.get_run(self.db, name)

    def splits(self, run: str) -> dict[str, int]:
        return catalog.split_counts(self.db, self.run(run).id)

    # -- ontology, models, runs ----------------------------------------------------------
    def add_class(self, name: str, kind: Kind | str, options: Sequence[str] | None = None) -> int:
        with self.db.transaction():
            return catalog.add_class(self.db, name, Kind(kind), list(options or []) or None)

    def create_run(
        self, name: str, *, model: str = "default", config: Mapping[str, Any] | None = None
    ) -> catalog.RunInfo:
        with self.db.transaction():
            return catalog.create_run(self.db, name, model=model, config=config or {})

    def set_run_status(self, run: str, status: RunStatus | str) -> None:
        with self.db.transaction():
            catalog.set_run_status(self.db, self.run(run).id, RunStatus(status))

    def assign_splits(
        self,
        run: str,
        *,
        ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
        seed: int = 0,
        reuse_from: str | None = None,
    ) -> dict[str, int]:
        """Split the run's rows into train/valid/test.

        Default: a seeded 80/10/10 random split. With ``reuse_from``, rows that the
        previous run had keep their split there and only the others are split randomly.
        """
        info = self.run(run)
        with self.db.transaction():
            if reuse_from is None:
                catalog.assign_random_splits(self.db, info.id, ratios=ratios, seed=seed)
            else:
                catalog.copy_splits(self.db, info.id, self.run(reuse_from).id)
                catalog.assign_random_splits(
                    self.db, info.id, ratios=ratios, seed=seed, only_unassigned=True
                )
        return self.splits(run)

    # -- writing -----------------------------------------------------------------------
    def add_data_rows(
        self,
        rows: pa.Table | Sequence[Mapping[str, Any]],
        *,
        dataset: str = "default",
        source: str = "<sdk>",
    ) -> list[int]:
        """Add data rows (``global_key``, ``media_type``, ``uri``/``text``, ``width``,
        ``height``); returns their ids. An existing global key is an error."""
        table = rows if isinstance(rows, pa.Table) else _from_records(rows)
        if "line" not in table.column_names:
            table = table.append_column("line", pa.array(range(1, table.num_rows + 1), pa.int64()))
        table = conform(table, DATA_ROW_SCHEMA)
        validate_data_rows(table, source)
        with self.db.transaction():
            ds = catalog.ensure_dataset(self.db, dataset)
            ids = insert_data_rows(self.db, table, dataset_id=ds, source=source, existing="error")
        return [int(i) for i in ids]

    def add_labels(
        self, annotations: pa.Table | Sequence[Mapping[str, Any]], *, source: str = "<sdk>"
    ) -> int:
        """Add ground truth; records follow :data:`errorscope.core.types.ANNOTATION_SCHEMA`."""
        return self._ingest(Parsed(source, _annotations(annotations)), run=None).labels

    def add_predictions(
        self,
        run: str,
        annotations: pa.Table | Sequence[Mapping[str, Any]],
        *,
        source: str = "<sdk>",
    ) -> int:
        """Add predictions to an existing or new run (classes must be in the ontology)."""
        return self._ingest(Parsed(source, _annotations(annotations)), run=run).predictions

    def ingest(
        self,
        parsed: Parsed,
        *,
        run: str | None = None,
        model: str = "default",
        dataset: str = "default",
        existing_rows: Literal["reuse", "error"] = "reuse",
    ) -> ImportReport:
        """Write a parsed import in one transaction: all of it, or nothing."""
        return self._ingest(
            parsed, run=run, model=model, dataset=dataset, existing_rows=existing_rows
        )

    def _ingest(
        self,
        parsed: Parsed,
        *,
        run: str | None,
        model: str = "default",
        dataset: str = "default",
        existing_rows: Literal["reuse", "error"] = "reuse",
    ) -> ImportReport:
        source = parsed.source
        report("writing", 0, 1)
        annotations = conform(parsed.annotations, ANNOTATION_SCHEMA)
        with _json_paths(parsed.json_array):
            validate_annotations(annotations, source)
        rows_before, classes_before = reads.totals(self.db)
        reused = 0
        with self.db.transaction():
            if parsed.rows is not None and parsed.rows.num_rows:
                rows = conform(parsed.rows, DATA_ROW_SCHEMA)
                with _json_paths(parsed.rows_array):
                    validate_data_rows(rows, source)
                    ds = catalog.ensure_dataset(self.db, dataset)
                    insert_data_rows(
                        self.db,
                        rows,
                        dataset_id=ds,
                        source=source,
                        existing=existing_rows,
                        metadata=parsed.metadata,
                    )
                created = reads.totals(self.db)[0] - rows_before
                reused = rows.num_rows - created
            if run is None and parsed.classes:
                catalog.ensure_classes(
                    self.db, [(n, k, 0) for n, k in parsed.classes], create=True, source=source
                )
            run_id = None
            if run is not None:
                try:
                    run_id = catalog.get_run(self.db, run).id
                except NotFoundError:
                    run_id = catalog.create_run(self.db, run, model=model, config={}).id
            with _json_paths(parsed.json_array):
                n = insert_annotations(
                    self.db, annotations, source=source, run_id=run_id, create_classes=run is None
                )
        report("writing", 1, 1)
        rows_after, classes_after = reads.totals(self.db)
        return ImportReport(
            source=source,
            data_rows_created=rows_after - rows_before,
            data_rows_reused=reused,
            classes_created=classes_after - classes_before,
            labels=n if run is None else 0,
            predictions=n if run is not None else 0,
            run=run,
        )


def _from_records(records: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Records to a table with the union of their keys (``Table.from_pylist`` would take
    the first record's keys only and drop, say, the ``text`` of a later text row)."""
    rows = list(records)
    names = list(dict.fromkeys(k for r in rows for k in r))
    return pa.table({n: [r.get(n) for r in rows] for n in names})


def _annotations(records: pa.Table | Sequence[Mapping[str, Any]]) -> pa.Table:
    table = records if isinstance(records, pa.Table) else _from_records(records)
    if "line" not in table.column_names:
        table = table.append_column("line", pa.array(range(1, table.num_rows + 1), pa.int64()))
    return conform(table, ANNOTATION_SCHEMA)


def open_workspace(path: str | Path | None = None, *, create: bool = True) -> Workspace:
    """Open (or create) the workspace at ``path`` (default: see ``default_workspace_path``)."""
    return Workspace(default_workspace_path() if path is None else path, create=create)
