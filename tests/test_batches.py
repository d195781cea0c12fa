"""Batches on the real voc100 sample: from ids, filters, slices and similarity results,
rows already in the project skipped and reported, priorities, projects and errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import errorscope as es
from errorscope.cli import cli
from errorscope.errors import ConflictError, ErrorscopeError, NotFoundError
from errorscope.server import create_app
from tests.conftest import load_voc100
from tests.test_server import Client

pytestmark = pytest.mark.shared_data


@pytest.fixture
def voc(ws: es.Workspace) -> es.Workspace:
    load_voc100(ws)
    ws.evaluate("det", mode="labelbox")
    ws.create_labeling_project("p", backend="files")
    return ws


def test_batches_skip_rows_already_in_the_project(voc: es.Workspace) -> None:
    a = voc.create_batch("a", project="p", ids=[1, 2, 3, 3], priority=2)
    assert (a.rows, a.skipped_in_project) == ([1, 2, 3], [])
    b = voc.create_batch("b", project="p", ids=[3, 4, 2, 5], priority=1)
    assert (b.rows, b.skipped_in_project) == ([4, 5], [2, 3])
    with pytest.raises(ErrorscopeError, match="all 2 are already in project 'p'"):
        voc.create_batch("c", project="p", ids=[1, 4])
    # another project may hold the same rows
    voc.create_labeling_project("q")
    assert voc.create_batch("c", project="q", ids=[1, 4]).rows == [1, 4]
    assert [x.name for x in voc.batches()] == ["b", "a", "c"]  # priority 1 first
    assert [x.name for x in voc.batches("p")] == ["b", "a"]
    assert voc.batch("b").origin == {"ids": 4}


def test_batch_from_slice_and_similarity(voc: es.Workspace) -> None:
    f = {"type": "metric", "name": "fn", "lo": 2}
    voc.save_slice("misses", f)
    s = voc.create_batch("s", project="p", run="det", slice="misses")
    want = {r.id for r in voc.query("det", f, limit=1000).rows}
    assert set(s.rows) == want
    assert want
    assert voc.batch("s").origin == {"slice": "misses"}
    near = voc.create_batch("n", project="p", similar=[*s.rows[:2], 99])
    assert near.skipped_in_project == s.rows[:2]
    assert near.rows == [99]
    assert voc.batch("n").origin == {"similar": 3}


def test_batch_errors(voc: es.Workspace) -> None:
    with pytest.raises(ErrorscopeError, match="priority"):
        voc.create_batch("x", project="p", ids=[1], priority=6)
    with pytest.raises(ErrorscopeError, match="exactly one"):
        voc.create_batch("x", project="p", ids=[1], similar=[2])
    with pytest.raises(ErrorscopeError, match="run="):
        voc.create_batch("x", project="p", filter={"type": "metric", "name": "fn", "lo": 1})
    with pytest.raises(NotFoundError):
        voc.create_batch("x", project="nope", ids=[1])
    with pytest.raises(NotFoundError, match="no data row with id 100000"):
        voc.create_batch("x", project="p", ids=[1, 100000])
    assert voc.batches() == []
    voc.create_batch("x", project="p", ids=[1])
    with pytest.raises(ConflictError):
        voc.create_batch("x", project="p", ids=[2])
    with pytest.raises(ConflictError):
        voc.create_labeling_project("p")
    with pytest.raises(ErrorscopeError, match="url"):
        voc.create_labeling_project("ls", backend="labelstudio")
    with pytest.raises(ErrorscopeError, match="token"):
        voc.create_labeling_project("ls", backend="labelstudio", config={"url": "x", "token": "t"})
    with pytest.raises(ErrorscopeError, match="files backend"):
        voc.push_batch("x")


def test_batch_cli(voc: es.Workspace, tmp_path: Path) -> None:
    path = voc.path
    voc.close()

    def run(*args: str) -> str:
        res = CliRunner().invoke(cli, [*args[:2], "-w", str(path), *args[2:]])
        assert res.exit_code == 0, res.output
        return res.output

    assert "created files labeling project 'cli'" in run("batch", "project", "cli")
    out = run("batch", "create", "b2", "--project", "cli", "--ids", "1,2,3", "--priority", "1")
    assert "batch 'b2': " in out
    f = '{"type": "metric", "name": "fn", "lo": 2}'
    out = run("batch", "create", "b1", "--project", "cli", "--run", "det", "--filter", f)
    assert "rows (priority 3)" in out
    listed = run("batch", "list").splitlines()
    assert listed[0].startswith("b2\tproject cli\tpriority 1")
    export = tmp_path / "b2.xml"
    assert "wrote 3 rows" in run(
        "batch", "export", "b2", str(export), "--format", "cvat", "--prelabels", "labels"
    )
    out = run("batch", "import", "b2", str(export), "--format", "cvat", "--conflict", "override")
    assert "3 completed rows, 0 changed, 3 unchanged" in out
    res = CliRunner().invoke(
        cli,
        [
            "batch",
            "import",
            "-w",
            str(path),
            "b2",
            str(tmp_path / "missing.xml"),
            "--format",
            "cvat",
        ],
    )
    assert res.exit_code != 0


def test_batch_api(voc: es.Workspace) -> None:
    path = voc.path
    voc.close()
    client = Client(create_app(path))
    try:
        body = {"name": "sel", "project": "p", "ids": [3, 1, 2], "priority": 2}
        r = client.post("/api/batches", json=body)
        assert r.status_code == 201, r.text
        assert r.json()["rows"] == [1, 2, 3]
        f = {"type": "metric", "name": "fn", "lo": 2}
        r = client.post(
            "/api/batches",
            json={"name": "f", "project": "p", "run": "det", "filter": f, "priority": 1},
        )
        assert r.status_code == 201, r.text
        assert set(r.json()["skipped_in_project"]) <= {1, 2, 3}
        assert client.post("/api/batches", json=body).status_code == 409
        bad = client.post("/api/batches", json={**body, "name": "x", "priority": 9})
        assert bad.status_code == 400
        listed = client.get("/api/batches").json()
        assert [b["name"] for b in listed] == ["f", "sel"]
        assert client.get("/api/labeling-projects").json() == [
            {"name": "p", "backend": "files", "config": {}}
        ]
    finally:
        client.close()
