"""Small named things: datasets, ontology classes, models, runs, splits, metadata fields."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from errorscope.core.types import Kind, RunStatus, Split, kind_family
from errorscope.errors import ConflictError, InvalidInputError, NotFoundError
from errorscope.store.database import Database

__all__ = [
    "ClassInfo",
    "RunInfo",
    "assign_random_splits",
    "copy_splits",
    "create_run",
    "ensure_classes",
    "ensure_dataset",
    "ensure_model",
    "get_run",
    "list_classes",
    "list_runs",
    "set_run_status",
    "split_counts",
]


@dataclass(frozen=True)
class ClassInfo:
    id: int
    name: str
    kind: str
    options: tuple[str, ...] | None = None


@dataclass(frozen=True)
class RunInfo:
    id: int
    name: str
    model: str
    config: dict[str, Any]
    status: str


def _next_id(db: Database, table: str) -> int:
    return int(db.scalar(f"SELECT coalesce(max(id), 0) + 1 FROM {table}"))


def ensure_dataset(db: Database, name: str) -> int:
    found = db.scalar("SELECT id FROM datasets WHERE name = ?", [name])
    if found is not None:
        return int(found)
    new_id = _next_id(db, "datasets")
    db.con.execute("INSERT INTO datasets (id, name) VALUES (?, ?)", [new_id, name])
    return new_id


def list_classes(db: Database) -> list[ClassInfo]:
    return [
        ClassInfo(int(i), n, k, None if o is None else tuple(o))
        for i, n, k, o in db.rows("SELECT id, name, kind, options FROM classes ORDER BY id")
    ]


def ensure_classes(
    db: Database,
    wanted: Iterable[tuple[str, str, int]],
    *,
    create: bool,
    source: str,
) -> dict[str, int]:
    """Map class names to ids, creating missing classes when ``create`` is true.

    ``wanted`` holds ``(name, kind, first_line)`` triples. A class may carry annotations
    of several kinds of one family (a COCO class has boxes and masks) but not of two
    families. Unknown classes with ``create=False`` are an :class:`InvalidInputError`.
    """
    existing = {c.name: c for c in list_classes(db)}
    ids: dict[str, int] = {}
    new_id = _next_id(db, "classes")
    for name, kind, line in sorted(wanted, key=lambda t: t[2]):
        if name in ids:
            continue
        cls = existing.get(name)
        if cls is None:
            if not create:
                raise InvalidInputError(
                    f"unknown class {name!r}: it is not in the ontology (known: "
                    f"{', '.join(sorted(existing)) or 'none'})",
                    path=source,
                    line=line,
                    field="class",
                )
            db.con.execute(
                "INSERT INTO classes (id, name, kind) VALUES (?, ?, ?)", [new_id, name, kind]
            )
            cls = ClassInfo(new_id, name, kind)
            existing[name] = cls
            new_id += 1
        elif kind_family(cls.kind) != kind_family(kind):
            raise InvalidInputError(
                f"class {name!r} is a {cls.kind} class; a {kind} annotation cannot use it",
                path=source,
                line=line,
                field="class",
            )
        ids[name] = cls.id
    return ids


def add_class(db: Database, name: str, kind: Kind, options: list[str] | None = None) -> int:
    if db.scalar("SELECT id FROM classes WHERE name = ?", [name]) is not None:
        raise ConflictError(f"class {name!r} already exists")
    new_id = _next_id(db, "classes")
    db.con.execute(
        "INSERT INTO classes (id, name, kind, options) VALUES (?, ?, ?, ?)",
        [new_id, name, str(kind), options],
    )
    return new_id


def ensure_model(db: Database, name: str) -> int:
    found = db.scalar("SELECT id FROM models WHERE name = ?", [name])
    if found is not None:
        return int(found)
    new_id = _next_id(db, "models")
    db.con.execute("INSERT INTO models (id, name) VALUES (?, ?)", [new_id, name])
    return new_id


def create_run(db: Database, name: str, *, model: str, config: Mapping[str, Any]) -> RunInfo:
    if db.scalar("SELECT id FROM runs WHERE name = ?", [name]) is not None:
        raise ConflictError(f"model run {name!r} already exists")
    model_id = ensure_model(db, model)
    new_id = _next_id(db, "runs")
    db.con.execute(
        "INSERT INTO runs (id, model_id, name, config, status) VALUES (?, ?, ?, ?, ?)",
        [new_id, model_id, name, json.dumps(dict(config)), str(RunStatus.CREATED)],
    )
    return RunInfo(new_id, name, model, dict(config), str(RunStatus.CREATED))


_RUN_SQL = (
    "SELECT r.id, r.name, m.name, r.config, r.status FROM runs r JOIN models m ON m.id = r.model_id"
)


def _run(row: tuple[Any, ...]) -> RunInfo:
    return RunInfo(int(row[0]), row[1], row[2], json.loads(row[3]), row[4])


def get_run(db: Database, name: str) -> RunInfo:
    """The run named ``name`` (kept until the next data change: every request asks)."""
    key = ("run-info", name)
    cached = db.derived.get(key)
    if cached is not None and cached[0] == db.generation:
        info: RunInfo = cached[1]
        return info
    rows = db.rows(f"{_RUN_SQL} WHERE r.name = ?", [name])
    if not rows:
        known = [r.name for r in list_runs(db)]
        raise NotFoundError(f"no model run named {name!r} (runs: {', '.join(known) or 'none'})")
    info = _run(rows[0])
    if not db.in_transaction:
        db.derived[key] = (db.generation, info)
    return info


def list_runs(db: Database) -> list[RunInfo]:
    return [_run(r) for r in db.rows(f"{_RUN_SQL} ORDER BY r.id")]


def set_run_status(db: Database, run_id: int, status: RunStatus) -> None:
    db.con.execute("UPDATE runs SET status = ? WHERE id = ?", [str(status), run_id])


def add_run_rows(db: Database, run_id: int, table_sql: str) -> None:
    """Add the rows whose ids ``table_sql`` selects (column ``data_row_id``) to the run."""
    db.con.execute(
        f"""INSERT INTO run_rows (run_id, data_row_id)
            SELECT DISTINCT ?, s.data_row_id FROM ({table_sql}) s
            WHERE s.data_row_id NOT IN (SELECT data_row_id FROM run_rows WHERE run_id = ?)""",
        [run_id, run_id],
    )


def add_dataset_to_run(db: Database, run_id: int, dataset_id: int) -> None:
    """Add every row of the dataset to the run (rows where the model found nothing too)."""
    add_run_rows(
        db, run_id, f"SELECT id AS data_row_id FROM data_rows WHERE dataset_id = {int(dataset_id)}"
    )


def assign_random_splits(
    db: Database,
    run_id: int,
    *,
    ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    only_unassigned: bool = False,
) -> None:
    """Seeded train/valid/test split of the run's rows (all, or only the unassigned ones).

    The rows are ordered by id and permuted with ``numpy.random.default_rng(seed)``, so
    the same rows and seed give the same split on every machine.
    """
    if any(r < 0 for r in ratios) or abs(sum(ratios) - 1.0) > 1e-9:
        raise ValueError(f"split ratios must be non-negative and sum to 1, got {ratios}")
    where = "AND split = 'unassigned'" if only_unassigned else ""
    ids = db.con.execute(
        f"SELECT data_row_id FROM run_rows WHERE run_id = ? {where} ORDER BY data_row_id",
        [run_id],
    ).fetchnumpy()["data_row_id"]
    n = len(ids)
    order = np.random.default_rng(seed).permutation(n)
    n_train = round(n * ratios[0])
    n_valid = round(n * ratios[1])
    labels = np.empty(n, dtype=object)
    labels[order[:n_train]] = str(Split.TRAIN)
    labels[order[n_train : n_train + n_valid]] = str(Split.VALID)
    labels[order[n_train + n_valid :]] = str(Split.TEST)

    assignment = pa.table({"data_row_id": pa.array(ids), "split": pa.array(labels, pa.string())})
    db.con.register("_split_assignment", assignment)
    try:
        db.con.execute(
            """UPDATE run_rows SET split = a.split FROM _split_assignment a
               WHERE run_rows.run_id = ? AND run_rows.data_row_id = a.data_row_id""",
            [run_id],
        )
    finally:
        db.con.unregister("_split_assignment")


def copy_splits(db: Database, run_id: int, from_run_id: int) -> int:
    """Give the run's rows the split they had in ``from_run_id``; returns how many matched."""
    db.con.execute(
        """UPDATE run_rows SET split = p.split FROM run_rows p
           WHERE run_rows.run_id = ? AND p.run_id = ?
             AND p.data_row_id = run_rows.data_row_id""",
        [run_id, from_run_id],
    )
    return int(
        db.scalar(
            """SELECT count(*) FROM run_rows a JOIN run_rows b USING (data_row_id)
               WHERE a.run_id = ? AND b.run_id = ?""",
            [run_id, from_run_id],
        )
    )


def split_counts(db: Database, run_id: int) -> dict[str, int]:
    counts = {str(s): 0 for s in Split}
    for split, n in db.rows(
        "SELECT split, count(*) FROM run_rows WHERE run_id = ? GROUP BY split", [run_id]
    ):
        counts[split] = int(n)
    return counts
