"""Per-row analysis scores of a model run: table ``row_scores`` (run, score name, data row,
value), e.g. ``mislabel``, the label-mistake score of :mod:`errorscope.sdk.labelissues`
(in [0, 1], higher = more likely a labeling mistake) that the query language reads as
the row metric ``mislabel_score``.

A run's scores of one name are written as a whole (:func:`write_row_scores` replaces them
in one data transaction, so :attr:`Database.generation` moves and caches built on the
data are rebuilt) and read as arrays sorted by data row id (:func:`read_row_scores`).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from errorscope.errors import ErrorscopeError
from errorscope.store.database import Database

__all__ = [
    "MISLABEL",
    "delete_row_scores",
    "read_row_scores",
    "row_score_names",
    "write_row_scores",
]

#: The name of the label-mistake score.
MISLABEL = "mislabel"

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


def read_row_scores(db: Database, run_id: int, name: str) -> tuple[I64, F64]:
    """The run's scores ``name``: ``(data row ids ascending, values)``; empty arrays when
    none are stored."""
    t = db.con.sql(
        """SELECT data_row_id, value FROM row_scores
           WHERE run_id = $run AND name = $name ORDER BY data_row_id""",
        params={"run": int(run_id), "name": name},
    ).to_arrow_table()
    ids = t.column("data_row_id").to_numpy().astype(np.int64)
    values = t.column("value").to_numpy().astype(np.float64)
    return ids, values


def row_score_names(db: Database, run_id: int) -> list[str]:
    """The names of the scores stored for the run, sorted."""
    rows = db.rows(
        "SELECT DISTINCT name FROM row_scores WHERE run_id = ? ORDER BY name", [int(run_id)]
    )
    return [str(r[0]) for r in rows]


def write_row_scores(
    db: Database,
    run_id: int,
    name: str,
    data_row_ids: npt.ArrayLike,
    values: npt.ArrayLike,
) -> bool:
    """Replace the run's scores ``name`` by ``values`` (one finite number per data row id,
    ids unique) in one data transaction. Returns False, writing nothing, when exactly
    these scores are already stored (repeated reads of a score do not invalidate the
    workspace's caches)."""
    ids = np.asarray(data_row_ids, np.int64).ravel()
    vals = np.asarray(values, np.float64).ravel()
    if len(ids) != len(vals):
        raise ErrorscopeError(f"{len(ids)} data row ids but {len(vals)} {name!r} scores")
    if not np.isfinite(vals).all():
        raise ErrorscopeError(f"{name!r} scores must be finite numbers")
    order = np.argsort(ids, kind="stable")
    ids, vals = ids[order], vals[order]
    if len(ids) > 1 and (np.diff(ids) == 0).any():
        raise ErrorscopeError(f"{name!r} scores name a data row twice")
    old_ids, old_vals = read_row_scores(db, run_id, name)
    if np.array_equal(old_ids, ids) and np.array_equal(old_vals, vals):
        return False
    table = pa.table(
        {"data_row_id": pa.array(ids, pa.int64()), "value": pa.array(vals, pa.float64())}
    )
    with db.transaction():
        db.con.execute("DELETE FROM row_scores WHERE run_id = ? AND name = ?", [int(run_id), name])
        db.con.register("_row_scores", table)
        try:
            db.con.execute(
                """INSERT INTO row_scores (run_id, name, data_row_id, value)
                   SELECT ?, ?, data_row_id, value FROM _row_scores""",
                [int(run_id), name],
            )
        finally:
            db.con.unregister("_row_scores")
    return True


def delete_row_scores(db: Database, run_id: int, name: str | None = None) -> None:
    """Delete the run's scores ``name`` (all of the run's scores when None)."""
    with db.transaction():
        if name is None:
            db.con.execute("DELETE FROM row_scores WHERE run_id = ?", [int(run_id)])
        else:
            db.con.execute(
                "DELETE FROM row_scores WHERE run_id = ? AND name = ?", [int(run_id), name]
            )
