"""Build hook: the browser UI (``ui/``, Svelte + Vite) is built into the package.

``pip install`` of a source tree without ``src/errorscope/server/static/index.html``
runs ``npm ci && npm run build`` in ``ui/`` first, so the installed server serves a
working UI at ``/``. Without npm the package still installs; the server then answers
``/`` with a page saying how to build the UI. All metadata is in pyproject.toml.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
UI = ROOT / "ui"
INDEX = ROOT / "src" / "errorscope" / "server" / "static" / "index.html"


def build_ui() -> None:
    if INDEX.is_file() or not (UI / "package.json").is_file():
        return
    npm = shutil.which("npm")
    if npm is None:
        print("warning: npm not found; the errorscope UI is not built", file=sys.stderr)
        return
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=UI, check=True)
    subprocess.run([npm, "run", "build"], cwd=UI, check=True)


class BuildPyWithUI(build_py):
    def run(self) -> None:
        build_ui()
        super().run()


setup(cmdclass={"build_py": BuildPyWithUI})
