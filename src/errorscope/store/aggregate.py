"""Aggregations of a run's rows under a filter: per-class counts and the confusion matrix.

The rows are those of :func:`errorscope.store.query.run_query` (the run's evaluation
scope) matching the filter; every value is a bound parameter and the filter compiles with
the same whitelisted compiler, so no user text is ever part of the SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from errorscope.core.query import Filter
from errorscope.store.database import Database
from errorscope.store.query import METRIC_COLUMNS, FilterCompiler

__all__ = ["Aggregates", "run_aggregate", "run_histogram"]


@dataclass(frozen=True)
class Aggregates:
    labels: list[tuple[str, int, int]]  # (class, annotations, data rows)
    predictions: list[tuple[str, int, int]]  # (class, kept predictions, data rows)
    confusion: list[tuple[str | None, str | None, int, int]]  # (gt, pred, objects, rows)
    rows: int  # matching data rows


def run_aggregate(db: Database, run_id: int, where: Filter | None) -> Aggregates:
    """Per-class label and kept-prediction counts and confusion-matrix cells over the
    run's rows matching ``where``. A prediction is kept unless its evaluation ignored it
    (below the confidence threshold); an unevaluated run's predictions are all kept."""
    comp = FilterCompiler()
    comp.params["run"] = run_id
    cond = "TRUE" if where is None else comp.compile(where)
    comp.confusion = True
    matched = f"{comp.ctes()},\nq AS (SELECT m.id FROM m WHERE coalesce({cond}, FALSE))"
    total = int(db.con.execute(f"{matched} SELECT count(*) FROM q", comp.params).fetchall()[0][0])
    labels = db.con.execute(
        f"""{matched} SELECT c.name, count(*), count(DISTINCT a.data_row_id)
            FROM labels a JOIN q ON q.id = a.data_row_id JOIN classes c ON c.id = a.class_id
            GROUP BY c.name ORDER BY c.name""",
        comp.params,
    ).fetchall()
    predictions = db.con.execute(
        f"""{matched} SELECT c.name, count(*), count(DISTINCT a.data_row_id)
            FROM predictions a JOIN q ON q.id = a.data_row_id JOIN classes c ON c.id = a.class_id
            WHERE a.run_id = $run AND NOT EXISTS (
                SELECT 1 FROM eval_objects o WHERE o.run_id = $run AND o.source = 'prediction'
                AND o.annotation_id = a.id AND o.status = 'ignored')
            GROUP BY c.name ORDER BY c.name""",
        comp.params,
    ).fetchall()
    confusion = db.con.execute(
        f"""{matched} SELECT cm.gt_class, cm.pred_class, count(*), count(DISTINCT cm.data_row_id)
            FROM cm JOIN q ON q.id = cm.data_row_id
            GROUP BY cm.gt_class, cm.pred_class
            ORDER BY cm.gt_class NULLS LAST, cm.pred_class NULLS LAST""",
        comp.params,
    ).fetchall()
    return Aggregates(
        [(str(n), int(k), int(r)) for n, k, r in labels],
        [(str(n), int(k), int(r)) for n, k, r in predictions],
        [(g, p, int(k), int(r)) for g, p, k, r in confusion],
        total,
    )


#: Metrics that are ratios in [0, 1]: their histograms always span [0, 1].
_RATIOS = frozenset({"iou", "precision", "recall", "f1", "mean_confidence"})


def run_histogram(
    db: Database, run_id: int, where: Filter | None, metric: str, bins: int
) -> list[tuple[float, float, int]]:
    """``bins`` equal-width bins ``(lo, hi, rows)`` of the row metric ``metric`` over the
    run's rows matching ``where`` (rows without a value are in no bin). Bins are
    ``[lo, hi)``, the last ``[lo, hi]``; ratios span [0, 1], counts their min..max."""
    col = METRIC_COLUMNS[metric]  # whitelisted identifier
    comp = FilterCompiler()
    comp.params["run"] = run_id
    cond = "TRUE" if where is None else comp.compile(where)
    matched = f"{comp.ctes()},\nq AS (SELECT m.{col} AS v FROM m WHERE coalesce({cond}, FALSE))"
    lo, hi = db.con.execute(f"{matched} SELECT min(v), max(v) FROM q", comp.params).fetchall()[0]
    if lo is None:
        return []
    lo, hi = float(lo), float(hi)
    if metric in _RATIOS:
        lo, hi = min(lo, 0.0), max(hi, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    edges = [lo + (hi - lo) * i / bins for i in range(bins)] + [hi]
    parts = []
    for i in range(bins):
        upper = "<=" if i == bins - 1 else "<"
        a, b = comp.bind(edges[i]), comp.bind(edges[i + 1])
        parts.append(f"count(*) FILTER (WHERE v >= {a} AND v {upper} {b})")
    counts = db.con.execute(f"{matched} SELECT {', '.join(parts)} FROM q", comp.params).fetchall()
    return [(edges[i], edges[i + 1], int(counts[0][i])) for i in range(bins)]
