"""Shared fixtures: real workspaces in temporary directories and the shared real data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import errorscope as es

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A path under ``../shared/data``; skips the test with a reason when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs the shared real data at {path} (absent on this machine)")
    return path


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[es.Workspace]:
    """A fresh, real workspace (DuckDB file on disk) closed after the test."""
    with es.open_workspace(tmp_path / "ws") as workspace:
        yield workspace


def snapshot(ws: es.Workspace) -> dict[str, object]:
    """Everything an import may change, for 'the workspace is exactly as before' checks."""
    tables = [
        "datasets",
        "data_rows",
        "metadata_fields",
        "row_metadata",
        "classes",
        "models",
        "runs",
        "run_rows",
        "labels",
        "predictions",
    ]
    return {t: ws.db.rows(f"SELECT * FROM {t} ORDER BY ALL") for t in tables}


def load_voc100(ws: es.Workspace, run: str = "det") -> None:
    """The real voc100 sample: VOC ground truth, and the real detector as ``run``."""
    voc = shared_path("voc100")
    ws.import_voc(voc / "gts" / "pascalvoc_format", images_dir=voc / "images")
    ws.import_yolo(
        voc / "dets" / "abs_xywh",
        names=voc / "voc.names",
        images_dir=voc / "images",
        layout="ltwh",
        run=run,
    )
