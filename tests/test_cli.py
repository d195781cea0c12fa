"""The CLI end to end, in-process through click, on real workspaces and real data."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import errorscope as es
from errorscope.cli import cli
from tests.conftest import shared_path


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*prefix, name))
        else:
            out.append((*prefix, name))
    return out


@pytest.mark.parametrize("command", _commands(cli), ids=" ".join)
def test_every_command_has_help_and_a_workspace_option(command: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "-w, --workspace PATH" in result.output
    assert "ERRORSCOPE_WORKSPACE" in result.output


def test_runs_and_splits_through_the_cli(tmp_path: Path) -> None:
    voc = shared_path("voc100")
    ws = str(tmp_path / "ws")
    runner = CliRunner()

    def ok(*args: str) -> str:
        result = runner.invoke(cli, [*args, "-w", ws])
        assert result.exit_code == 0, result.output
        return result.output

    ok("import", "voc", str(voc / "gts" / "pascalvoc_format"), "--images", str(voc / "images"))
    ok("run", "create", "v1", "--model", "det", "--config", '{"epochs": 12}')
    for run in ("v1", "v2"):
        ok(
            "import",
            "yolo",
            str(voc / "dets" / "abs_xywh"),
            "--names",
            str(voc / "voc.names"),
            "--layout",
            "ltwh",
            "--images",
            str(voc / "images"),
            "--run",
            run,
            "--model",
            "det",
        )
    ok("split", "--run", "v1", "--seed", "3")
    ok("split", "--run", "v2", "--reuse-from", "v1")
    runs = json.loads(ok("run", "list", "--json"))
    assert [(r["name"], r["model"], r["config"]) for r in runs] == [
        ("v1", "det", {"epochs": 12}),
        ("v2", "det", {}),
    ]
    info = json.loads(ok("info", "--json"))
    assert info["labels"] == 273
    by_name = {r["name"]: r for r in info["runs"]}
    assert by_name["v1"]["predictions"] == by_name["v2"]["predictions"] == 452
    assert by_name["v1"]["splits"] == by_name["v2"]["splits"]
    assert by_name["v1"]["splits"]["train"] == round(98 * 0.8)
    with es.open_workspace(ws) as w:
        split_of = {
            run: dict(
                w.db.rows(
                    "SELECT data_row_id, split FROM run_rows JOIN runs ON runs.id = run_id "
                    "WHERE runs.name = ?",
                    [run],
                )
            )
            for run in ("v1", "v2")
        }
    assert split_of["v1"] == split_of["v2"]


def test_workspace_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ERRORSCOPE_WORKSPACE", str(tmp_path / "env-ws"))
    result = CliRunner().invoke(cli, ["run", "create", "r"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env-ws" / "errorscope.duckdb").exists()


def test_bad_config_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["run", "create", "r", "--config", "[1]", "-w", str(tmp_path / "ws")]
    )
    assert result.exit_code == 2
    assert "must be a JSON object" in result.output
