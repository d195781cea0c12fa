"""Progress reporting without threading a callback through every signature.

Long-running code calls :func:`report` (``stage``, units done, units in all); whoever
wants to show progress (the CLI's progress bars) wraps the call in :func:`progress_to`.
With no receiver, :func:`report` costs one context-variable lookup.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

__all__ = ["ProgressFn", "progress_to", "report"]

ProgressFn = Callable[[str, int, int], None]
_RECEIVER: ContextVar[ProgressFn | None] = ContextVar("errorscope_progress", default=None)


@contextlib.contextmanager
def progress_to(receiver: ProgressFn | None) -> Iterator[None]:
    """Send every :func:`report` made inside the block to ``receiver``."""
    token = _RECEIVER.set(receiver)
    try:
        yield
    finally:
        _RECEIVER.reset(token)


def report(stage: str, done: int, total: int) -> None:
    """``done`` of ``total`` units of ``stage`` (e.g. bytes parsed) are finished."""
    receiver = _RECEIVER.get()
    if receiver is not None:
        receiver(stage, done, total)
