"""Batches and labeling projects: send data rows to a labeling tool, take the labels back.

A *labeling project* has a backend, chosen by its config:

* ``files``: a batch is exported as a file (Label Studio JSON, CVAT for images 1.1 XML,
  COCO or NDJSON) with pre-labels, labeled elsewhere, and the completed file imported back
  (:meth:`BatchMixin.export_batch`, :meth:`BatchMixin.import_batch`);
* ``labelstudio``: a real Label Studio server (``config={"url": ...}``, optionally
  ``local_files_root`` to serve images through Label Studio's local files storage; the API token
  from ``token=`` or the environment variable named by ``config["token_env"]``, default
  ``LABEL_STUDIO_API_KEY``): :meth:`BatchMixin.push_batch` creates the Label Studio
  project (its labeling config generated from our ontology) and imports the batch as
  tasks with the run's predictions as pre-annotations; :meth:`BatchMixin.pull_batch`
  reads the completed tasks back into ground truth.

A *batch* is a named set of data rows with a priority (1 = highest ... 5) chosen by an id
list, a filter or slice on a run, or a similarity result (ids). Rows some batch of the
same project already holds are skipped and reported.

Label imports follow Labelbox's conflict rule: ``conflict="keep"`` (default) leaves a row
that already has labels as it is, ``"override"`` replaces them; either way every import
is all-or-nothing, reports what changed, and replaced labels stay in the label history.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc

from errorscope.core.query import Filter, SliceMember
from errorscope.core.types import ANNOTATION_SCHEMA
from errorscope.core.validate import conform, validate_annotations
from errorscope.errors import ConflictError, ErrorscopeError, InvalidInputError, NotFoundError
from errorscope.ingest.common import Parsed
from errorscope.labeling.files import read_tasks, write_tasks
from errorscope.labeling.labelstudio import LabelStudioClient
from errorscope.labeling.lsformat import (
    LsClass,
    RowInfo,
    annotations_from_tasks,
    label_config,
    tasks_for_rows,
)
from errorscope.store import batches as store
from errorscope.store import catalog, reads
from errorscope.store.database import Database

__all__ = ["BatchMixin", "BatchReport", "LabelImportReport"]

Format = Literal["labelstudio", "cvat", "coco", "ndjson"]
FORMATS: tuple[str, ...] = ("labelstudio", "cvat", "coco", "ndjson")
Conflict = Literal["keep", "override"]
BACKENDS = ("files", "labelstudio")


@dataclass(frozen=True)
class BatchReport:
    """A created batch: its rows, and the rows skipped because the project had them."""

    name: str
    project: str
    priority: int
    rows: list[int]
    skipped_in_project: list[int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LabelImportReport:
    """What a label import changed (row ids), and how many labels it added and replaced
    (the replaced ones are in :meth:`BatchMixin.label_history` under ``import_id``)."""

    import_id: int
    source: str
    batch: str | None
    strategy: str
    rows_completed: int
    rows_changed: list[int]
    rows_unchanged: list[int]
    rows_kept_existing: list[int]
    labels_added: int
    labels_replaced: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@contextlib.contextmanager
def _json_paths(array: str | None) -> Iterator[None]:
    """Re-express a ``line`` that is an array position as a JSON path."""
    try:
        yield
    except InvalidInputError as exc:
        if array is None or exc.line is None:
            raise
        where = f"{array}[{exc.line - 1}]" if array else f"[{exc.line - 1}]"
        raise InvalidInputError(
            exc.message, path=exc.path, location=where, field=exc.field
        ) from None


class BatchMixin:
    """The batch and labeling methods of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    # -- projects ----------------------------------------------------------------------------
    def create_labeling_project(
        self, name: str, *, backend: str = "files", config: Mapping[str, Any] | None = None
    ) -> store.ProjectInfo:
        """A labeling project with ``backend`` ``files`` or ``labelstudio`` (config ``url``,
        optional ``token_env`` and ``title``)."""
        if backend not in BACKENDS:
            raise ErrorscopeError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        cfg = dict(config or {})
        if backend == "labelstudio" and not isinstance(cfg.get("url"), str):
            raise ErrorscopeError("a labelstudio project needs config={'url': 'http://...'}")
        if "token" in cfg:
            raise ErrorscopeError("do not store the API token: pass token= or use token_env")
        with self.db.transaction():
            store.add_project(self.db, name, backend, cfg)
        return store.get_project(self.db, name)

    def labeling_projects(self) -> list[store.ProjectInfo]:
        return store.list_projects(self.db)

    # -- batches -----------------------------------------------------------------------------
    def create_batch(
        self,
        name: str,
        *,
        project: str,
        run: str | None = None,
        ids: Sequence[int] | None = None,
        filter: Filter | Mapping[str, Any] | None = None,
        slice: str | None = None,
        similar: Sequence[int] | None = None,
        priority: int = 3,
    ) -> BatchReport:
        """A batch of ``project`` from exactly one of: ``ids`` (a selection), ``filter``
        or ``slice`` (evaluated on ``run``, or without one on the catalog of every data
        row), ``similar`` (the ids of a similarity search). ``run`` is also the run whose
        predictions become pre-labels.
        Rows already in the project are skipped and listed in the report."""
        if isinstance(priority, bool) or not isinstance(priority, int) or not 1 <= priority <= 5:
            raise ErrorscopeError(f"priority must be an integer 1 (highest) to 5, not {priority!r}")
        given = [x is not None for x in (ids, filter, slice, similar)]
        if sum(given) != 1:
            raise ErrorscopeError("choose the rows by exactly one of ids, filter, slice, similar")
        store.get_project(self.db, project)
        if any(b.name == name for b in store.list_batches(self.db)):
            raise ConflictError(f"a batch named {name!r} already exists")
        if run is not None:
            catalog.get_run(self.db, run)
        origin: dict[str, Any]
        if ids is not None or similar is not None:
            chosen = [int(i) for i in (ids if ids is not None else similar or [])]
            origin = {"ids" if ids is not None else "similar": len(chosen)}
        else:
            where: Any = SliceMember(slice) if slice is not None else filter
            # without a run, on the catalog (every data row; run-less filters only)
            ws = cast(Any, self)
            chosen = ws.catalog_ids(where) if run is None else self._all_ids(run, where)
            from errorscope.core.queryparse import filter_to_json
            from errorscope.sdk.slices import as_filter

            origin = (
                {"slice": slice}
                if slice is not None
                else {"filter": filter_to_json(as_filter(where))}
            )
        chosen = list(dict.fromkeys(chosen))
        skipped = store.rows_in_project(self.db, project, chosen) if chosen else []
        keep = [i for i in chosen if i not in set(skipped)]
        if not keep:
            raise ErrorscopeError(
                f"no rows for batch {name!r}: "
                + (
                    f"all {len(chosen)} are already in project {project!r}"
                    if chosen
                    else "the selection is empty"
                )
            )
        with self.db.transaction():
            store.add_batch(
                self.db, name, project=project, priority=priority, run=run, origin=origin, ids=keep
            )
        return BatchReport(name, project, priority, sorted(keep), skipped)

    def _all_ids(self, run: str, where: Any) -> list[int]:
        out: list[int] = []
        cursor = None
        while True:
            page = cast(Any, self).query(run, where, limit=10_000, cursor=cursor)
            out += [r.id for r in page.rows]
            cursor = page.next_cursor
            if cursor is None:
                return out

    def batches(self, project: str | None = None) -> list[store.BatchInfo]:
        """Batches by priority (1 first), then age."""
        return store.list_batches(self.db, project)

    def batch(self, name: str) -> store.BatchInfo:
        return store.get_batch(self.db, name)

    def batch_rows(self, name: str) -> pa.Table:
        store.get_batch(self.db, name)
        return store.batch_rows(self.db, name)

    def label_history(self, row: int | None = None) -> pa.Table:
        """Labels that imports replaced, with the import that replaced them."""
        return store.history_table(self.db, row)

    # -- pre-labels and rows -----------------------------------------------------------------
    def _rows(self, name: str) -> list[RowInfo]:
        t = store.batch_rows(self.db, name).to_pylist()
        return [
            RowInfo(
                r["id"],
                r["global_key"],
                r["media_type"],
                r["uri"],
                r["width"],
                r["height"],
                r["text"],
            )
            for r in t
        ]

    def _prelabels(
        self, batch: store.BatchInfo, prelabels: str, run: str | None, confidence: float
    ) -> dict[int, list[dict[str, Any]]]:
        if prelabels == "none":
            return {}
        if prelabels == "labels":
            table = reads.annotations_table(self.db)
        elif prelabels == "predictions":
            run = run or batch.run
            if run is None:
                raise ErrorscopeError(
                    f"batch {batch.name!r} has no run: pass run= for its pre-labels"
                )
            table = reads.annotations_table(self.db, run_id=catalog.get_run(self.db, run).id)
            table = table.filter(pc.greater_equal(table.column("confidence"), confidence))
        else:
            raise ErrorscopeError(
                f"prelabels must be predictions, labels or none, not {prelabels!r}"
            )
        ids = store.batch_rows(self.db, batch.name).column("id")
        table = table.filter(pc.is_in(table.column("data_row_id"), value_set=ids))
        out: dict[int, list[dict[str, Any]]] = {}
        for rec in table.to_pylist():
            out.setdefault(int(rec["data_row_id"]), []).append(rec)
        return out

    def _ls_classes(self) -> dict[str, LsClass]:
        return {
            c.name: LsClass(c.name, c.kind, tuple(c.options or ()))
            for c in catalog.list_classes(self.db)
        }

    # -- files -------------------------------------------------------------------------------
    def export_batch(
        self,
        name: str,
        out: str | Path,
        *,
        format: Format = "labelstudio",
        prelabels: Literal["predictions", "labels", "none"] = "predictions",
        run: str | None = None,
        confidence: float = 0.0,
    ) -> int:
        """Write batch ``name`` to ``out`` in ``format`` with pre-labels: the predictions of
        ``run`` (default: the batch's run) at or above ``confidence``, the current
        labels, or none. Returns the number of rows written."""
        if format not in FORMATS:
            raise ErrorscopeError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        batch = store.get_batch(self.db, name)
        rows = self._rows(name)
        anns = self._prelabels(batch, prelabels, run, confidence)
        path = Path(out)
        if format == "labelstudio":
            key = "annotations" if prelabels == "labels" else "predictions"
            tasks = tasks_for_rows(
                rows, anns, self._ls_classes(), key=key, model_version=run or batch.run or ""
            )
            return write_tasks(path, tasks)
        if format == "cvat":
            from errorscope.export.cvat import write_cvat

            classes = [(c.name, c.kind) for c in catalog.list_classes(self.db)]
            write_cvat(path, [asdict(r) for r in rows], anns, classes)
            return len(rows)
        flat = [a for r in rows for a in anns.get(r.id, [])]
        table = conform(pa.Table.from_pylist(flat), _store_schema(flat))
        if format == "coco":
            from errorscope.export.coco import coco_document, write_json

            row_table = store.batch_rows(self.db, name)
            classes_t = pa.table(
                {
                    "id": [c.id for c in catalog.list_classes(self.db)],
                    "name": [c.name for c in catalog.list_classes(self.db)],
                    "kind": [c.kind for c in catalog.list_classes(self.db)],
                }
            )
            doc = coco_document(table, row_table, classes_t, scored=False)
            if prelabels == "predictions":  # pre-labels carry their scores
                for ann, rec in zip(doc["annotations"], _coco_kept(flat), strict=True):
                    ann["score"] = rec["confidence"]
            write_json(path, doc)
            return len(rows)
        from errorscope.export.ndjson import ndjson_records, write_ndjson

        write_ndjson(path, ndjson_records(table, scope=f"batch:{name}"))
        return len(rows)

    def import_batch(
        self,
        name: str,
        path: str | Path,
        *,
        format: Format = "labelstudio",
        conflict: Conflict = "keep",
    ) -> LabelImportReport:
        """Import a completed export of batch ``name`` as ground truth (see the module
        doc for ``conflict``). Label Studio JSON: the tasks with a (non-cancelled)
        annotation are the completed rows; CVAT and COCO: every image of the file; NDJSON:
        every row of the batch. A file naming rows outside the batch, unknown classes or
        malformed geometry is refused with file, location and field; nothing changes."""
        if format not in FORMATS:
            raise ErrorscopeError(f"format must be one of {', '.join(FORMATS)}, not {format!r}")
        batch = store.get_batch(self.db, name)
        source = str(path)
        p = Path(path)
        if format == "labelstudio":
            table, completed = self._from_tasks(name, read_tasks(p), source)
            return self._write_labels(batch.name, table, completed, source, conflict, "")
        parsed = self._parse_file(p, format)
        ann = parsed.annotations
        if parsed.rows is not None:
            rkeys = parsed.rows.column("global_key").to_pylist()
            rows_ids = store.resolve_row_keys(self.db, rkeys, [None] * len(rkeys))
            with _json_paths(parsed.rows_array):
                self._check_in_batch(name, rows_ids, parsed.rows.column("line").to_pylist(), source)
            completed = [int(i) for i in rows_ids if i is not None]
        else:
            completed = store.batch_rows(self.db, name).column("id").to_pylist()
        keys = ann.column("row_key").to_pylist()
        rids = ann.column("row_id").to_pylist()
        resolved = store.resolve_row_keys(self.db, keys, rids) if ann.num_rows else []
        with _json_paths(parsed.json_array):
            self._check_in_batch(name, resolved, ann.column("line").to_pylist(), source)
        ann = ann.set_column(
            ann.schema.get_field_index("row_id"), "row_id", pa.array(resolved, pa.int64())
        )
        ann = ann.set_column(
            ann.schema.get_field_index("row_key"), "row_key", pa.nulls(ann.num_rows, pa.string())
        )
        return self._write_labels(name, ann, completed, source, conflict, parsed.json_array)

    def _parse_file(self, path: Path, format: str) -> Parsed:
        if format == "cvat":
            from errorscope.ingest.cvat import parse_cvat

            return parse_cvat(path)
        if format == "coco":
            from errorscope.ingest.coco import parse_coco

            return parse_coco(path)
        from errorscope.ingest.ndjson import parse_ndjson

        return parse_ndjson(path)

    def _check_in_batch(
        self, name: str, ids: list[int | None], lines: list[int], source: str
    ) -> None:
        bad = store.first_outside_batch(self.db, name, ids)
        if bad is None:
            return
        msg = (
            "unknown data row"
            if ids[bad] is None
            else f"data row {ids[bad]} is not in batch {name!r}"
        )
        raise InvalidInputError(msg, path=source, line=lines[bad], field="dataRow")

    def _from_tasks(self, name: str, tasks: Any, source: str) -> tuple[pa.Table, list[int]]:
        sizes = {r.id: (r.width, r.height) for r in self._rows(name)}

        def fail(location: str, field: str, message: str) -> InvalidInputError:
            return InvalidInputError(
                message, path=source, location=location or None, field=field or None
            )

        cols, completed = annotations_from_tasks(tasks, self._ls_classes(), sizes, fail)
        table = conform(
            pa.table(cols) if cols["line"] else ANNOTATION_SCHEMA.empty_table(), ANNOTATION_SCHEMA
        )
        return table, [rid for _, rid in completed]

    def _write_labels(
        self,
        batch: str | None,
        table: pa.Table,
        completed: list[int],
        source: str,
        conflict: str,
        array: str | None,
    ) -> LabelImportReport:
        if conflict not in ("keep", "override"):
            raise ErrorscopeError(f"conflict must be 'keep' or 'override', not {conflict!r}")
        table = conform(table, ANNOTATION_SCHEMA)
        table = table.set_column(
            table.schema.get_field_index("uuid"), "uuid", pa.nulls(table.num_rows, pa.string())
        )
        with _json_paths(array):
            validate_annotations(table, source)
            with self.db.transaction():
                summary = store.import_labels(
                    self.db, table, completed, source=source, batch=batch, strategy=conflict
                )
        return LabelImportReport(**summary)

    # -- Label Studio ------------------------------------------------------------------------
    def _client(self, project: store.ProjectInfo, token: str | None) -> LabelStudioClient:
        if project.backend != "labelstudio":
            raise ErrorscopeError(
                f"project {project.name!r} uses the {project.backend} backend: "
                "use export_batch / import_batch"
            )
        env = str(project.config.get("token_env") or "LABEL_STUDIO_API_KEY")
        token = token or os.environ.get(env)
        if not token:
            raise ErrorscopeError(f"no Label Studio API token: pass token= or set ${env}")
        return LabelStudioClient(str(project.config["url"]), token)

    def push_batch(
        self,
        name: str,
        *,
        run: str | None = None,
        confidence: float = 0.0,
        token: str | None = None,
    ) -> dict[str, Any]:
        """Send batch ``name`` to its Label Studio project as tasks with the predictions of
        ``run`` (default: the batch's) at or above ``confidence`` as pre-annotations with
        their scores. Creates the Label Studio project on first use."""
        batch = store.get_batch(self.db, name)
        project = store.get_project(self.db, batch.project)
        client = self._client(project, token)
        rows = self._rows(name)
        if any(r.media_type != rows[0].media_type for r in rows):
            raise ErrorscopeError("a batch sent to Label Studio must be all images or all texts")
        anns = self._prelabels(batch, "predictions", run, confidence)
        classes = self._ls_classes()
        root = project.config.get("local_files_root")
        tasks = tasks_for_rows(
            rows,
            anns,
            classes,
            model_version=run or batch.run or "",
            media_url=None if root is None else _local_files(str(root)),
        )
        with client:
            ls_id = project.config.get("project_id")
            if ls_id is None:
                config = label_config(list(classes.values()), rows[0].media_type)
                title = str(project.config.get("title") or project.name)
                ls_id = client.create_project(title, config)
                with self.db.transaction():
                    store.update_project_config(
                        self.db,
                        project.name,
                        {**project.config, "project_id": ls_id, "media_type": rows[0].media_type},
                    )
            task_ids = client.import_tasks(int(ls_id), tasks)
        with self.db.transaction():
            store.set_external_ids(self.db, name, [r.id for r in rows], [str(t) for t in task_ids])
        return {
            "project_id": int(ls_id),
            "tasks": len(task_ids),
            "prelabels": sum(len(v) for v in anns.values()),
        }

    def labelstudio_client(self, project: str, *, token: str | None = None) -> LabelStudioClient:
        """A client for the project's Label Studio server (for scripts and tests)."""
        return self._client(store.get_project(self.db, project), token)

    def pull_batch(
        self, name: str, *, conflict: Conflict = "keep", token: str | None = None
    ) -> LabelImportReport:
        """Read batch ``name``'s completed tasks from Label Studio into ground truth."""
        batch = store.get_batch(self.db, name)
        project = store.get_project(self.db, batch.project)
        ls_id = project.config.get("project_id")
        if ls_id is None:
            raise NotFoundError(f"batch {name!r} has not been pushed to Label Studio")
        ext = store.batch_rows(self.db, name).column("external_id").to_pylist()
        wanted = {int(e) for e in ext if e is not None}
        with self._client(project, token) as client:
            tasks = [t for t in client.tasks(int(ls_id)) if int(t["id"]) in wanted]
        source = f"{project.config['url']}/projects/{ls_id}"
        try:
            table, completed = self._from_tasks(name, tasks, source)
            return self._write_labels(name, table, completed, source, conflict, "")
        except InvalidInputError as exc:  # name Label Studio's task id, not a list position
            loc = exc.location or ""
            if not loc.startswith("[") or "]" not in loc:
                raise
            at = int(loc[1 : loc.index("]")])
            where = f"task {tasks[at]['id']}{loc[loc.index(']') + 1 :]}"
            raise InvalidInputError(
                exc.message, path=source, location=where, field=exc.field
            ) from None


def _local_files(root: str) -> Callable[[RowInfo], str]:
    """Image URLs Label Studio serves from its local-files storage under ``root``
    (``LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true`` and
    ``LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT=<root>`` on the server)."""
    base = Path(root).resolve()

    def url(row: RowInfo) -> str:
        path = Path(row.uri or "").resolve()
        if not path.is_relative_to(base):
            return row.uri or row.global_key or ""
        return "/data/local-files/?d=" + quote(str(path.relative_to(base)))

    return url


def _store_schema(flat: list[dict[str, Any]]) -> pa.Schema:
    """The stored annotation columns (``data_row_id`` and ``id`` too) for the exporters."""
    fields = [
        *ANNOTATION_SCHEMA,
        pa.field("data_row_id", pa.int64()),
        pa.field("id", pa.int64()),
    ]
    return pa.schema(fields)


def _coco_kept(flat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    from errorscope.export.coco import COCO_KINDS

    return [a for a in flat if a["kind"] in COCO_KINDS]
