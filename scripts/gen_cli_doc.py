"""Write docs/cli.md, the command-line reference, from every command's ``--help``.

Run ``python scripts/gen_cli_doc.py`` after changing a command; tests/test_docs_cli.py
fails when docs/cli.md is stale.
"""

from __future__ import annotations

from pathlib import Path

import click

from errorscope.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "cli.md"
WIDTH = 90

HEADER = """# Command-line reference

Generated from each command's `--help` by `python scripts/gen_cli_doc.py` (do not edit;
`tests/test_docs_cli.py` fails when this file is stale). Every command takes
`-w/--workspace PATH` (default `$ERRORSCOPE_WORKSPACE`, else `./errorscope-workspace`)
unless it says otherwise, and `errorscope --debug COMMAND` shows tracebacks.
"""


def _walk(command: click.Command, name: str, parent: click.Context | None) -> list[tuple[str, str]]:
    settings = {"terminal_width": WIDTH, "max_content_width": WIDTH, **command.context_settings}
    ctx = click.Context(command, info_name=name, parent=parent, **settings)
    out = [(ctx.command_path, command.get_help(ctx))]
    if isinstance(command, click.Group):
        for sub in sorted(command.list_commands(ctx)):
            child = command.get_command(ctx, sub)
            if child is not None and not child.hidden:
                out += _walk(child, sub, ctx)
    return out


def render() -> str:
    """The whole of docs/cli.md."""
    parts = [HEADER]
    sections = _walk(cli, "errorscope", None)
    parts.append("\n".join(f"- [`{path}`](#{path.replace(' ', '-')})" for path, _ in sections))
    for path, text in sections:
        anchor = path.replace(" ", "-")
        body = "\n".join(line.rstrip() for line in text.splitlines())
        parts.append(f'<a id="{anchor}"></a>\n\n## `{path}`\n\n```text\n{body}\n```')
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":
    TARGET.write_text(render())
    print(f"wrote {TARGET}")
