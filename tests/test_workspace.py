from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

import errorscope as es
from errorscope.sdk.workspace import ENV_WORKSPACE
from errorscope.store.database import DB_FILE
from errorscope.store.schema import SCHEMA_VERSION
from tests.conftest import snapshot

ROWS = [
    {"global_key": f"img-{i:03d}.jpg", "media_type": "image", "uri": f"img-{i:03d}.jpg"}
    for i in range(100)
]


def _boxes(keys: list[str], cls: str = "thing") -> list[dict[str, object]]:
    return [
        {
            "row_key": k,
            "class_name": cls,
            "kind": "bbox",
            "x1": 1.0,
            "y1": 2.0,
            "x2": 3.0,
            "y2": 4.0,
        }
        for k in keys
    ]


def _python(code: str) -> subprocess.CompletedProcess[str]:
    """Run code in a second Python process (a real other process, as a user would)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_reopening_keeps_everything(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    with es.open_workspace(path) as ws:
        ws.add_data_rows(ROWS[:10])
        ws.add_labels(_boxes([r["global_key"] for r in ROWS[:10]]))
        ws.add_predictions("r1", _boxes([r["global_key"] for r in ROWS[:4]]))
        before = snapshot(ws)
        info = ws.info()
    with es.open_workspace(path, create=False) as ws:
        assert snapshot(ws) == before
        assert ws.info() == info
        assert info["labels"] == 10
        assert info["runs"][0]["predictions"] == 4


def test_missing_workspace_without_create(tmp_path: Path) -> None:
    with pytest.raises(es.WorkspaceError, match="no workspace"):
        es.open_workspace(tmp_path / "absent", create=False)
    assert not (tmp_path / "absent").exists()


def test_second_process_is_locked_out(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    with es.open_workspace(path) as ws:
        ws.add_data_rows(ROWS[:5])
        before = snapshot(ws)
        other = _python(
            f"""
            import sys
            import errorscope
            try:
                errorscope.open_workspace({str(path)!r})
            except errorscope.WorkspaceLockedError as exc:
                print(exc)
                sys.exit(3)
            """
        )
        assert other.returncode == 3, other.stderr
        message = other.stdout.strip()
        assert str(path) in message
        assert f"process {os.getpid()}" in message
        assert " ".join(sys.argv) in message  # the holder's command line
        # the failed attempt neither changed nor took over the open workspace
        assert snapshot(ws) == before
        ws.add_data_rows(ROWS[5:6])
        assert ws.info()["data_rows"] == 6
        after = snapshot(ws)

    reopened = _python(
        f"""
        import errorscope
        with errorscope.open_workspace({str(path)!r}, create=False) as ws:
            print(ws.info()["data_rows"])
        """
    )
    assert reopened.returncode == 0, reopened.stderr
    assert reopened.stdout.strip() == "6"
    with es.open_workspace(path, create=False) as ws:
        assert snapshot(ws) == after


def test_fresh_workspace_records_its_schema_version(tmp_path: Path) -> None:
    with es.open_workspace(tmp_path / "ws") as ws:
        assert ws.db.schema_version() == SCHEMA_VERSION
    con = duckdb.connect(str(tmp_path / "ws" / DB_FILE), read_only=True)
    try:
        rows = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
    finally:
        con.close()
    assert rows == [(str(SCHEMA_VERSION),)]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    with es.open_workspace(path) as ws:
        ws.add_data_rows(ROWS[:3])
    # what a later errorscope with one more migration would leave behind
    con = duckdb.connect(str(path / DB_FILE))
    try:
        con.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)]
        )
    finally:
        con.close()

    with pytest.raises(es.SchemaVersionError) as info:
        es.open_workspace(path)
    message = str(info.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message
    assert str(SCHEMA_VERSION) in message
    assert "upgrade errorscope" in message
    assert isinstance(info.value, es.WorkspaceError)

    # the refusal released the file: another process is refused for the same reason,
    # not locked out, and the data is untouched
    other = _python(
        f"""
        import errorscope
        try:
            errorscope.open_workspace({str(path)!r})
        except errorscope.SchemaVersionError:
            print("schema")
        except errorscope.WorkspaceLockedError:
            print("locked")
        """
    )
    assert other.stdout.strip() == "schema", other.stderr
    con = duckdb.connect(str(path / DB_FILE), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM data_rows").fetchall() == [(3,)]
    finally:
        con.close()


def test_environment_variable_names_the_default_workspace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "from-env"
    monkeypatch.setenv(ENV_WORKSPACE, str(target))
    with es.open_workspace(None) as ws:
        assert ws.path == target
        ws.add_data_rows(ROWS[:2])
    assert (target / DB_FILE).is_file()
    with es.open_workspace(target, create=False) as ws:
        assert ws.info()["data_rows"] == 2


def test_default_workspace_without_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_WORKSPACE, raising=False)
    monkeypatch.chdir(tmp_path)
    with es.open_workspace() as ws:
        assert ws.path.resolve().parent == tmp_path.resolve()
    assert (tmp_path / "errorscope-workspace" / DB_FILE).is_file()


# -- splits ---------------------------------------------------------------------------------


def _split_of(ws: es.Workspace, run: str) -> dict[str, str]:
    rows = ws.db.rows(
        """SELECT d.global_key, r.split FROM run_rows r JOIN data_rows d ON d.id = r.data_row_id
           WHERE r.run_id = ?""",
        [ws.run(run).id],
    )
    return dict(rows)


@pytest.fixture
def hundred(ws: es.Workspace) -> es.Workspace:
    ws.add_data_rows(ROWS)
    ws.add_class("thing", "bbox")
    keys = [r["global_key"] for r in ROWS]
    ws.add_predictions("a", _boxes(keys))
    ws.add_predictions("b", _boxes(keys))
    return ws


def test_default_split_is_80_10_10(hundred: es.Workspace) -> None:
    assert hundred.splits("a") == {"train": 0, "valid": 0, "test": 0, "unassigned": 100}
    counts = hundred.assign_splits("a")
    assert counts == {"train": 80, "valid": 10, "test": 10, "unassigned": 0}
    assert hundred.splits("a") == counts
    assert hundred.info()["runs"][0]["splits"] == counts  # same view, same split order


def test_same_seed_same_split(hundred: es.Workspace) -> None:
    hundred.assign_splits("a", seed=7)
    hundred.assign_splits("b", seed=7)
    assert _split_of(hundred, "a") == _split_of(hundred, "b")
    hundred.assign_splits("b", seed=8)
    assert _split_of(hundred, "a") != _split_of(hundred, "b")
    assert hundred.splits("b") == hundred.splits("a")


def test_custom_ratios(hundred: es.Workspace) -> None:
    counts = hundred.assign_splits("a", ratios=(0.5, 0.25, 0.25))
    assert counts == {"train": 50, "valid": 25, "test": 25, "unassigned": 0}
    with pytest.raises(ValueError, match="sum to 1"):
        hundred.assign_splits("a", ratios=(0.5, 0.5, 0.5))


def test_reuse_from_keeps_the_previous_split(hundred: es.Workspace) -> None:
    hundred.assign_splits("a", seed=3)
    previous = _split_of(hundred, "a")
    extra = [
        {"global_key": f"new-{i:03d}.jpg", "media_type": "image", "uri": f"new-{i:03d}.jpg"}
        for i in range(40)
    ]
    hundred.add_data_rows(extra)
    shared = [r["global_key"] for r in ROWS[:60]]
    new = [r["global_key"] for r in extra]
    hundred.add_predictions("c", _boxes(shared + new))

    counts = hundred.assign_splits("c", reuse_from="a", seed=99)
    assert counts["unassigned"] == 0
    assert sum(counts.values()) == 100
    now = _split_of(hundred, "c")
    assert {k: now[k] for k in shared} == {k: previous[k] for k in shared}
    # the 40 rows run "a" never saw are split 80/10/10 among themselves
    fresh = [now[k] for k in new]
    assert (fresh.count("train"), fresh.count("valid"), fresh.count("test")) == (32, 4, 4)
    # and run "a" is untouched
    assert _split_of(hundred, "a") == previous


def test_splits_of_an_unknown_run(hundred: es.Workspace) -> None:
    with pytest.raises(es.NotFoundError, match="nope"):
        hundred.assign_splits("nope")
