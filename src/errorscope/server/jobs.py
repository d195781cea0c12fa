"""Background jobs: re-evaluating a run with new thresholds, with progress.

* ``POST /api/runs/{run}/evaluate`` ``{"iou": 0.5, "confidence": 0.5}`` (202): evaluates
  the run again in a background thread with these thresholds and every other parameter of
  its stored evaluation (``GET /api/runs/{run}/evaluation``), holding the workspace lock
  meanwhile (other requests wait). Answers the job, as below.
* ``GET /api/jobs/{id}`` -> ``{"id", "kind", "run", "state": "running" | "done" |
  "failed", "progress": {"stage", "done", "total"} | null, "error": str | null}``; the
  progress is the latest :func:`errorscope.core.progress.report` of the evaluation."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from errorscope.core.progress import progress_to
from errorscope.errors import ErrorscopeError, NotFoundError
from errorscope.sdk.workspace import Workspace

__all__ = ["EvaluateRequest", "Job", "add_job_routes"]

JobState = Literal["running", "done", "failed"]


class EvaluateRequest(BaseModel):
    """The body of ``POST /api/runs/{run}/evaluate``."""

    model_config = ConfigDict(extra="forbid")

    iou: float = Field(ge=0.0, lt=1.0, description="IoU threshold of a match, [0, 1).")
    confidence: float = Field(ge=0.0, le=1.0, description="Confidence threshold, [0, 1].")


@dataclass
class Job:
    id: str
    kind: str
    run: str
    state: JobState = "running"
    progress: dict[str, Any] | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return {
                "id": self.id,
                "kind": self.kind,
                "run": self.run,
                "state": self.state,
                "progress": None if self.progress is None else dict(self.progress),
                "error": self.error,
            }

    def report(self, stage: str, done: int, total: int) -> None:
        with self.lock:
            self.progress = {"stage": stage, "done": done, "total": total}

    def finish(self, state: JobState, error: str | None = None) -> None:
        with self.lock:
            self.state = state
            self.error = error


def add_job_routes(
    app: FastAPI, workspace: Callable[[], AbstractContextManager[Workspace]]
) -> None:
    """Register the routes; ``workspace()`` lends the open workspace (and holds its lock)."""
    jobs: dict[str, Job] = {}
    counter = itertools.count(1)

    def evaluate(job: Job, thresholds: dict[str, float]) -> None:
        try:
            with workspace() as ws, progress_to(job.report):
                params = dict(ws.evaluation(job.run)["params"])
                params.update(thresholds)
                ws.evaluate(job.run, **params)
        except Exception as exc:  # reported through GET /api/jobs/{id}
            message = str(exc) if isinstance(exc, ErrorscopeError) else repr(exc)
            job.finish("failed", message)
        else:
            job.finish("done")

    @app.post("/api/runs/{run}/evaluate", tags=["runs"], status_code=202)
    def post_evaluate(run: str, body: EvaluateRequest) -> dict[str, Any]:
        """Evaluate the run again with these IoU and confidence thresholds (every other
        parameter as in its stored evaluation) in the background; follow the answered
        job at ``GET /api/jobs/{id}``."""
        with workspace() as ws:
            ws.evaluation(run)  # 404 for an unknown or never evaluated run, now
        job = Job(id=str(next(counter)), kind="evaluate", run=run)
        jobs[job.id] = job
        thread = threading.Thread(
            target=evaluate,
            args=(job, {"iou": body.iou, "confidence": body.confidence}),
            name=f"errorscope-job-{job.id}",
            daemon=True,
        )
        thread.start()
        return job.as_dict()

    @app.get("/api/jobs/{job_id}", tags=["runs"])
    def get_job(job_id: str) -> dict[str, Any]:
        """A background job's state, latest progress and error."""
        job = jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no job {job_id!r}")
        return job.as_dict()
