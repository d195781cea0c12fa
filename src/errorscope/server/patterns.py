"""Failure analysis over HTTP: patterns, label-issue scores, metric intervals, run deltas
and the regression check (see :mod:`errorscope.sdk.patterns`,
:mod:`errorscope.sdk.labelissues` and :mod:`errorscope.sdk.uncertainty`)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query

from errorscope.sdk.workspace import Workspace
from errorscope.server.rows import FILTER_HELP, parse_filter_param

__all__ = ["add_pattern_routes"]


def add_pattern_routes(
    app: FastAPI, workspace: Callable[[], AbstractContextManager[Workspace]]
) -> None:
    """Register the routes; ``workspace()`` lends the open workspace."""

    @app.get("/api/runs/{run}/patterns", tags=["analysis"])
    def get_patterns(
        run: str,
        top: Annotated[int, Query(ge=1, le=100)] = 10,
        filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
        alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
        correction: Literal["holm", "bh"] = "holm",
        significant: bool = False,
    ) -> dict[str, Any]:
        """The run's failure patterns, worst first (optionally within ``filter``'s rows):
        each with a plain-language ``description``, counts, the interval of the error-rate
        gap, raw and corrected p-values, F1 inside (with its interval) and outside, and
        the ``filter`` selecting its rows (save it as a slice with POST /api/slices)."""
        where = parse_filter_param(filter)
        with workspace() as ws:
            found = ws.patterns(
                run,
                filter=where,
                top=top,
                alpha=alpha,
                correction=correction,
                significant_only=significant,
            )
        return {"run": run, "patterns": [p.to_json() for p in found]}

    @app.get("/api/runs/{run}/label-issues", tags=["analysis"])
    def get_label_issues(
        run: str,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
        objects: bool = False,
        min_score: Annotated[float, Query(ge=0, le=1)] = 0.0,
    ) -> dict[str, Any]:
        """Per data row (or, with ``objects``, per evaluated object) the score in [0, 1]
        that a disagreement is a labeling mistake rather than a model error, highest
        first, with its kind (overlooked, swapped, badly_located, confident_learning)."""
        with workspace() as ws:
            issues = ws.label_issues(run)
        table = issues.objects if objects else issues.rows
        items = [r for r in table.slice(0, limit).to_pylist() if r["score"] >= min_score]
        return {"run": run, "method": issues.method, "items": items}

    @app.get("/api/runs/{run}/intervals", tags=["analysis"])
    def get_intervals(
        run: str,
        filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
        boot: Annotated[int, Query(ge=50, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        """Precision, recall and F1 (and AP at the IoU threshold for detection) overall
        and per class with 95 % row-bootstrap intervals, within ``filter``'s rows."""
        where = parse_filter_param(filter)
        with workspace() as ws:
            return ws.intervals(run, filter=where, n_boot=boot)

    @app.get("/api/runs/{run}/delta", tags=["analysis"])
    def get_delta(
        run: str,
        baseline: str,
        filter: Annotated[str | None, Query(description=FILTER_HELP)] = None,
        metric: Literal["f1", "precision", "recall"] = "f1",
        boot: Annotated[int, Query(ge=50, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        """The metric of ``run`` and ``baseline`` on their shared rows and the 95 %
        paired-bootstrap interval of the difference, overall and per class."""
        where = parse_filter_param(filter)
        with workspace() as ws:
            return ws.delta_intervals(run, baseline, filter=where, metric=metric, n_boot=boot)

    @app.get("/api/runs/{run}/check", tags=["analysis"])
    def get_check(
        run: str,
        baseline: str,
        slice: Annotated[list[str] | None, Query()] = None,
        class_name: Annotated[list[str] | None, Query(alias="class")] = None,
        max_drop: Annotated[float, Query(ge=0, lt=1)] = 0.02,
        metric: Literal["f1", "precision", "recall"] = "f1",
        boot: Annotated[int, Query(ge=50, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        """The regression gate of ``errorscope check``: ``passed`` is false when a slice or
        class (or the run) lost more than ``max_drop`` beyond its interval."""
        with workspace() as ws:
            result = ws.check(
                run,
                baseline,
                slices=slice or [],
                classes=class_name or [],
                max_drop=max_drop,
                metric=metric,
                n_boot=boot,
            )
        return result.to_json()
