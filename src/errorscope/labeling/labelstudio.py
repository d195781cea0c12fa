"""A small Label Studio REST client (httpx, legacy API token auth).

Only what the fix loop needs: create a project with a labeling config, import tasks
(with pre-annotations), read a project's tasks with their annotations, and, for
scripted annotators and tests, submit an annotation to a task. Every non-2xx answer is a
:class:`LabelStudioError` naming the request and the server's message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from errorscope.errors import ErrorscopeError

__all__ = ["LabelStudioClient", "LabelStudioError"]


class LabelStudioError(ErrorscopeError):
    """Label Studio refused a request or could not be reached."""


class LabelStudioClient:
    """Talks to one Label Studio server at ``url`` with the API token ``token``."""

    def __init__(self, url: str, token: str, *, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Token {token}"},
            timeout=timeout,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LabelStudioClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise LabelStudioError(f"{method} {self.url}{path}: {exc}") from None
        if r.status_code >= 400:
            raise LabelStudioError(
                f"{method} {self.url}{path}: HTTP {r.status_code}: {r.text[:500]}"
            )
        return r.json() if r.content else None

    # -- projects --------------------------------------------------------------------------
    def create_project(self, title: str, label_config: str, description: str = "") -> int:
        body = {"title": title, "label_config": label_config, "description": description}
        return int(self._call("POST", "/api/projects", json=body)["id"])

    def project(self, project_id: int) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"/api/projects/{project_id}")
        return out

    # -- tasks -----------------------------------------------------------------------------
    def import_tasks(self, project_id: int, tasks: list[dict[str, Any]]) -> list[int]:
        """Import tasks (with ``predictions`` as pre-annotations); returns the new task ids
        in the order given."""
        before = {t["id"] for t in self.tasks(project_id)}
        self._call("POST", f"/api/projects/{project_id}/import", json=tasks)
        new = [t for t in self.tasks(project_id) if t["id"] not in before]
        by_row = {t["data"].get("errorscope_id"): int(t["id"]) for t in new}
        return [by_row[t["data"]["errorscope_id"]] for t in tasks]

    def tasks(self, project_id: int) -> list[dict[str, Any]]:
        """Every task of the project with its annotations and predictions."""
        out: list[dict[str, Any]] = []
        page = 1
        while True:
            found = self._call(
                "GET",
                "/api/tasks",
                params={"project": project_id, "page": page, "page_size": 100, "fields": "all"},
            )
            items = found["tasks"] if isinstance(found, Mapping) else found
            out += items
            total = found.get("total") if isinstance(found, Mapping) else None
            if not items or total is None or len(out) >= int(total):
                return [self._full(t) for t in out]
            page += 1

    def _full(self, task: dict[str, Any]) -> dict[str, Any]:
        """A task with its annotations (the list endpoint may leave them out)."""
        if "annotations" in task and all(isinstance(a, dict) for a in task["annotations"]):
            return task
        full: dict[str, Any] = self._call("GET", f"/api/tasks/{task['id']}")
        return full

    def task(self, task_id: int) -> dict[str, Any]:
        out: dict[str, Any] = self._call("GET", f"/api/tasks/{task_id}")
        return out

    def annotate(self, task_id: int, result: list[dict[str, Any]]) -> int:
        """Submit an annotation (as an annotator would); returns its id."""
        body = {"result": result, "was_cancelled": False}
        return int(self._call("POST", f"/api/tasks/{task_id}/annotations", json=body)["id"])
