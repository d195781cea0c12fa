"""Dependencies point one way.

cli -> server -> sdk -> {ingest, export, embed, labeling, store} -> core
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "errorscope"

#: what each layer may import from errorscope (besides itself and errorscope.errors)
ALLOWED = {
    "core": set(),
    "store": {"core"},
    "ingest": {"core"},
    "export": {"core"},
    "embed": {"core"},
    "labeling": {"core"},
    "sdk": {"core", "store", "ingest", "export", "embed", "labeling"},
    "server": {"sdk", "core"},
    "cli": {"server", "sdk", "core"},
}


def _imports(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
    return {m.split(".")[1] for m in out if m.startswith("errorscope.") and m.count(".") >= 1}


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports_only_what_it_may(layer: str) -> None:
    for path in sorted((SRC / layer).glob("*.py")):
        used = _imports(path) - {layer, "errors"}
        assert used <= ALLOWED[layer], f"{path.relative_to(SRC)} imports {used - ALLOWED[layer]}"


def test_only_store_speaks_sql() -> None:
    for path in sorted(SRC.rglob("*.py")):
        if path.parent.name == "store":
            continue
        text = path.read_text()
        for word in ("SELECT ", "INSERT ", "CREATE TABLE", ".execute("):
            assert word not in text, f"{path.relative_to(SRC)} has SQL ({word.strip()})"
