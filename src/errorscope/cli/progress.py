"""Progress bars for the CLI: shows whatever the SDK reports through
:func:`errorscope.core.progress.report` (imports, evaluation)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from tqdm import tqdm

from errorscope.core.progress import progress_to

__all__ = ["progress_bars"]


@contextlib.contextmanager
def progress_bars() -> Iterator[None]:
    """Progress bars on stderr (only on a terminal) for whatever the SDK reports."""
    bars: dict[str, tqdm[Any]] = {}

    def show(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            for other in bars.values():
                other.close()
            bytes_ = stage.startswith("parsing")
            bars[stage] = tqdm(
                total=total,
                desc=stage,
                unit="B" if bytes_ else " step",
                unit_scale=bytes_,
                leave=False,
                disable=None,
                file=sys.stderr,
            )
        bar = bars[stage]
        bar.total = total
        bar.update(done - bar.n)

    try:
        with progress_to(show):
            yield
    finally:
        for bar in bars.values():
            bar.close()
