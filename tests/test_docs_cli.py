"""docs/cli.md is the output of every command's ``--help`` (scripts/gen_cli_doc.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _generator() -> object:
    spec = importlib.util.spec_from_file_location("gen_cli", ROOT / "scripts" / "gen_cli_doc.py")
    assert spec is not None
    assert spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    return gen


def test_cli_reference_is_current() -> None:
    gen = _generator()
    expected = gen.render()  # type: ignore[attr-defined]
    actual = (ROOT / "docs" / "cli.md").read_text()
    assert actual == expected, "docs/cli.md is stale: run python scripts/gen_cli_doc.py"


def test_cli_reference_covers_every_command() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    for command in ("errorscope demo", "errorscope import coco", "errorscope evaluate"):
        assert f"## `{command}`" in text
    assert "--no-open" in text
