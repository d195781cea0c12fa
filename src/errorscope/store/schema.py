"""The workspace schema as an ordered list of migrations.

``MIGRATIONS[i]`` takes a database from version ``i`` to ``i + 1``. A workspace records
its version in ``meta``; opening it applies the missing migrations in one transaction.
Never edit a migration that has shipped: append a new one.
"""

from __future__ import annotations

__all__ = ["ANNOTATION_COLUMNS", "MIGRATIONS", "SCHEMA_VERSION"]

#: Columns shared by ``labels`` and ``predictions`` (in this order).
ANNOTATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("id", "BIGINT NOT NULL"),  # unique by construction: no index to slow bulk loads
    ("uuid", "VARCHAR"),
    ("data_row_id", "BIGINT NOT NULL"),
    ("class_id", "INTEGER NOT NULL"),
    ("kind", "VARCHAR NOT NULL"),
    ("x1", "DOUBLE"),
    ("y1", "DOUBLE"),
    ("x2", "DOUBLE"),
    ("y2", "DOUBLE"),
    ("coords", "DOUBLE[][]"),
    ("rle_counts", "VARCHAR"),
    ("rle_h", "INTEGER"),
    ("rle_w", "INTEGER"),
    ("span_start", "INTEGER"),
    ("span_end", "INTEGER"),
    ("answers", "VARCHAR[]"),
    ("area", "DOUBLE"),
    ("iscrowd", "BOOLEAN NOT NULL DEFAULT false"),
    ("difficult", "BOOLEAN NOT NULL DEFAULT false"),
)


def _annotation_table(name: str, extra: str) -> str:
    cols = ",\n    ".join(f"{n} {t}" for n, t in ANNOTATION_COLUMNS)
    return f"CREATE TABLE {name} (\n    {cols}{extra}\n);"


_V1 = f"""
CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
CREATE TABLE datasets (
    id INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE data_rows (
    id BIGINT PRIMARY KEY,
    dataset_id INTEGER NOT NULL,
    global_key VARCHAR UNIQUE,
    media_type VARCHAR NOT NULL,
    uri VARCHAR,
    width INTEGER,
    height INTEGER,
    text VARCHAR
);
CREATE TABLE metadata_fields (
    name VARCHAR PRIMARY KEY,
    type VARCHAR NOT NULL,
    options VARCHAR[]
);
CREATE TABLE row_metadata (
    data_row_id BIGINT NOT NULL,
    name VARCHAR NOT NULL,
    str_value VARCHAR,
    num_value DOUBLE,
    time_value TIMESTAMP
);
CREATE TABLE classes (
    id INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL UNIQUE,
    kind VARCHAR NOT NULL,
    options VARCHAR[]
);
CREATE TABLE models (
    id INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY,
    model_id INTEGER NOT NULL,
    name VARCHAR NOT NULL UNIQUE,
    config VARCHAR NOT NULL DEFAULT '{{}}',
    status VARCHAR NOT NULL DEFAULT 'created',
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE run_rows (
    run_id INTEGER NOT NULL,
    data_row_id BIGINT NOT NULL,
    split VARCHAR NOT NULL DEFAULT 'unassigned',
    PRIMARY KEY (run_id, data_row_id)
);
{_annotation_table("labels", "")}
{
    _annotation_table(
        "predictions",
        ''',
    run_id INTEGER NOT NULL,
    confidence DOUBLE NOT NULL DEFAULT 1.0,
    custom_metrics MAP(VARCHAR, DOUBLE)''',
    )
}
"""

#: Evaluation results (issue 3): one evaluation per run, replaced when re-run.
#: ``eval_objects`` has one row per evaluated label (``source = 'label'``) or prediction.
_V2 = """
CREATE TABLE eval_runs (
    run_id INTEGER PRIMARY KEY,
    params VARCHAR NOT NULL,
    summary VARCHAR NOT NULL,
    evaluated_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE eval_objects (
    run_id INTEGER NOT NULL,
    source VARCHAR NOT NULL,
    annotation_id BIGINT NOT NULL,
    data_row_id BIGINT NOT NULL,
    class_id INTEGER NOT NULL,
    status VARCHAR NOT NULL,
    matched_id BIGINT,
    iou DOUBLE,
    error_type VARCHAR,
    confidence DOUBLE
);
CREATE TABLE eval_row_metrics (
    run_id INTEGER NOT NULL,
    data_row_id BIGINT NOT NULL,
    tp BIGINT NOT NULL,
    fp BIGINT NOT NULL,
    fn BIGINT NOT NULL,
    "precision" DOUBLE,
    recall DOUBLE,
    f1 DOUBLE,
    iou DOUBLE,
    mean_confidence DOUBLE,
    PRIMARY KEY (run_id, data_row_id)
);
CREATE TABLE eval_class_metrics (
    run_id INTEGER NOT NULL,
    name VARCHAR NOT NULL,       -- class name, or answer of a radio/checklist class
    class_id INTEGER,
    tp BIGINT NOT NULL,
    fp BIGINT NOT NULL,
    fn BIGINT NOT NULL,
    "precision" DOUBLE,
    recall DOUBLE,
    f1 DOUBLE,
    iou DOUBLE,
    mean_confidence DOUBLE,
    ap DOUBLE,
    PRIMARY KEY (run_id, name)
);
"""

#: Precision/recall curves of an evaluation (issue 3), one row per point: ``curve`` is
#: ``coco`` (per class and COCO IoU threshold, area all, maxDets 100; ``point`` = recall
#: threshold index 0..100, ``recall`` = the threshold, null precision/score where
#: pycocotools has -1) or ``voc`` (per class at IoU 0.5; ``point`` = rank of the
#: detection in score order, ``score`` its confidence).
_V3 = """
CREATE TABLE eval_pr_curves (
    run_id INTEGER NOT NULL,
    curve VARCHAR NOT NULL,
    class_id INTEGER NOT NULL,
    iou DOUBLE NOT NULL,
    point INTEGER NOT NULL,
    recall DOUBLE,
    "precision" DOUBLE,
    score DOUBLE
);
"""

#: Saved slices (issue 4): named filters in their JSON form, re-evaluated at query time.
_V4 = """
CREATE TABLE slices (
    name VARCHAR PRIMARY KEY,
    description VARCHAR NOT NULL DEFAULT '',
    filter VARCHAR NOT NULL,
    run VARCHAR,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
"""

#: Embedding spaces (issue 6): one row per space; its vectors (``vectors.npy``, float32 or
#: float16, one row per data row) and data row ids (``ids.npy``, int64, ascending) are
#: files in ``<workspace>/embeddings/<directory>/`` beside its index and projections.
_V5 = """
CREATE TABLE embedding_spaces (
    name VARCHAR PRIMARY KEY,
    dataset_id INTEGER NOT NULL,
    dim INTEGER NOT NULL,
    source VARCHAR NOT NULL,
    dtype VARCHAR NOT NULL,
    count BIGINT NOT NULL,
    directory VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
"""

_HISTORY_EXTRA = """,
    import_id INTEGER NOT NULL"""

#: Labeling (issue 7): labeling projects (a backend and its settings), batches of data
#: rows sent to them, every label import, and the labels an import replaced.
_V6 = f"""
CREATE TABLE labeling_projects (
    name VARCHAR PRIMARY KEY,
    backend VARCHAR NOT NULL,
    config VARCHAR NOT NULL DEFAULT '{{}}',
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE batches (
    name VARCHAR PRIMARY KEY,
    project VARCHAR NOT NULL,
    priority INTEGER NOT NULL,
    run VARCHAR,
    origin VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE batch_rows (
    batch VARCHAR NOT NULL,
    data_row_id BIGINT NOT NULL,
    external_id VARCHAR,
    PRIMARY KEY (batch, data_row_id)
);
CREATE TABLE label_imports (
    id INTEGER PRIMARY KEY,
    batch VARCHAR,
    source VARCHAR NOT NULL,
    strategy VARCHAR NOT NULL,
    summary VARCHAR NOT NULL,
    imported_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
{_annotation_table("label_history", _HISTORY_EXTRA)}
"""

#: Per-row scores a run's analysis derives (issue 9: the label-mistake score behind the
#: ``candidate_mislabels`` slice), one value per (run, score name, data row).
_V7 = """
CREATE TABLE row_scores (
    run_id INTEGER NOT NULL,
    name VARCHAR NOT NULL,
    data_row_id BIGINT NOT NULL,
    value DOUBLE NOT NULL,
    PRIMARY KEY (run_id, name, data_row_id)
);
"""

#: Per-object embedding spaces (issue 6, crops): ``level`` is ``row`` (one vector per data
#: row, ``ids.npy`` holds data row ids) or ``object`` (one vector per annotation or
#: prediction; ``ids.npy`` holds their ids and ``rows.npy`` their data row ids).
_V8 = """
ALTER TABLE embedding_spaces ADD COLUMN level VARCHAR DEFAULT 'row';
"""

MIGRATIONS: tuple[str, ...] = (_V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8)
SCHEMA_VERSION = len(MIGRATIONS)
