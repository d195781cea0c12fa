"""One data row as a JSON-ready dict: the row, its metadata and labels, and for a model
run its split, predictions and (when the run was evaluated) per-object and per-row
results. What the REST server's ``GET /api/rows/{id}`` returns."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from errorscope.core.types import MetadataType
from errorscope.store import catalog, rowdetail
from errorscope.store import results as results_store

if TYPE_CHECKING:
    from errorscope.sdk.workspace import Workspace

__all__ = ["row_detail"]

#: Per-object result fields attached to each label and prediction as ``evaluation``.
RESULT_FIELDS = ("status", "matched_id", "iou", "error_type")


def _records(table: pa.Table) -> list[dict[str, Any]]:
    """Rows of ``table`` without null fields (most geometry columns are null)."""
    return [{k: v for k, v in r.items() if v is not None} for r in table.to_pylist()]


def _metadata(table: pa.Table) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for r in table.to_pylist():
        value: Any
        if r["type"] == MetadataType.NUMBER:
            value = r["num_value"]
        elif r["type"] == MetadataType.DATETIME:
            t = r["time_value"]
            value = t.isoformat() if isinstance(t, datetime) else t
        else:
            value = r["str_value"]
        out[r["name"]] = value
    return out


def row_detail(ws: Workspace, row_id: int, *, run: str | None = None) -> dict[str, Any]:
    """Everything about data row ``row_id``: its fields, ``metadata`` (name -> value),
    ``labels``; with ``run`` also ``run``, ``split``, ``predictions`` (with
    ``confidence``), ``evaluated``, ``row_metrics`` and, on each label and prediction,
    ``evaluation`` (status, matched id, IoU, error type) when the run was evaluated.
    Raises NotFoundError for an unknown row or run."""
    run_id = None if run is None else catalog.get_run(ws.db, run).id
    found = rowdetail.row_detail(ws.db, row_id, run_id)
    out: dict[str, Any] = dict(found["row"])
    out["metadata"] = _metadata(found["metadata"])
    labels = _records(found["labels"])
    out["labels"] = labels
    if run is None:
        return out
    predictions = _records(found["predictions"])
    for p in predictions:
        if "custom_metrics" in p:
            p["custom_metrics"] = dict(p["custom_metrics"])
    results = {
        (r["source"], r["annotation_id"]): {k: r[k] for k in RESULT_FIELDS}
        for r in found["objects"].to_pylist()
    }
    evaluated = run_id is not None and results_store.load_evaluation(ws.db, run_id) is not None
    for source, items in (("label", labels), ("prediction", predictions)):
        for item in items:
            item["evaluation"] = results.get((source, item["id"]))
    out.update(
        run=run,
        split=found["split"],
        predictions=predictions,
        evaluated=evaluated,
        row_metrics=found["row_metrics"],
    )
    return out
