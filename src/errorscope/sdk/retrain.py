"""``Workspace.new_run_from_labels``: the next model run after a labeling round.

It creates the run, includes the labeled rows (the previous run's rows plus the newly
labeled rows of the given batches, or explicit rows, or every labeled row), assigns
splits (a seeded 80/10/10, or the previous run's split for rows it had, with the new rows
put where the caller says: ``train``, ``valid``, ``test`` or ``random``), imports the
run's predictions and evaluates it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import pyarrow as pa

from errorscope.core.types import Split
from errorscope.errors import ErrorscopeError
from errorscope.store import batches as store
from errorscope.store import catalog
from errorscope.store.database import Database

__all__ = ["RetrainMixin"]

_SPLITS = (str(Split.TRAIN), str(Split.VALID), str(Split.TEST), "random")


class RetrainMixin:
    """The new-run-from-labels method of :class:`~errorscope.sdk.workspace.Workspace`."""

    db: Database  # set by Workspace.__init__

    def new_run_from_labels(
        self,
        name: str,
        *,
        model: str = "default",
        previous: str | None = None,
        batches: Sequence[str] = (),
        rows: Sequence[int] | None = None,
        new_rows: str = "random",
        ratios: tuple[float, float, float] = (0.8, 0.1, 0.1),
        seed: int = 0,
        predictions: pa.Table | Sequence[Mapping[str, Any]] | None = None,
        evaluate: Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create run ``name`` on labeled rows (see the module doc), import
        ``predictions`` (records or a table as :meth:`add_predictions` takes) and, when
        there are some, evaluate with ``evaluate`` (keyword arguments of
        :meth:`evaluate`). Returns the rows, the new rows, the splits and, if evaluated,
        the evaluation's ``counts``."""
        if new_rows not in _SPLITS:
            raise ErrorscopeError(f"new_rows must be one of {', '.join(_SPLITS)}, not {new_rows!r}")
        prev = catalog.get_run(self.db, previous) if previous is not None else None
        old = store.run_row_ids(self.db, prev.id) if prev is not None else []
        fresh: list[int] = []
        for b in batches:
            store.get_batch(self.db, b)
            fresh += store.batch_rows(self.db, b).column("id").to_pylist()
        if rows is not None:
            fresh += [int(r) for r in rows]
        if prev is None and not batches and rows is None:
            fresh = store.labeled_rows(self.db)
        fresh = store.labeled_rows(self.db, list(dict.fromkeys(fresh))) if fresh else []
        new = sorted(set(fresh) - set(old))
        included = sorted(set(old) | set(new))
        if not included:
            raise ErrorscopeError("no labeled rows to put in the run")
        cfg = {
            "previous": previous,
            "batches": list(batches),
            "new_rows": new_rows,
            **(config or {}),
        }
        with self.db.transaction():
            info = catalog.create_run(self.db, name, model=model, config=cfg)
            store.add_rows_to_run(self.db, info.id, included)
            if prev is not None:
                catalog.copy_splits(self.db, info.id, prev.id)
                if new_rows != "random":
                    store.set_splits(self.db, info.id, new, new_rows)
            catalog.assign_random_splits(
                self.db, info.id, ratios=ratios, seed=seed, only_unassigned=prev is not None
            )
        ws = cast(Any, self)
        out: dict[str, Any] = {"run": name, "rows": len(included), "new_rows": new}
        if predictions is not None:
            out["predictions"] = ws.add_predictions(name, predictions, source=f"<run {name}>")
            with self.db.transaction():  # rows predicted on but not included: random split
                catalog.assign_random_splits(
                    self.db, info.id, ratios=ratios, seed=seed, only_unassigned=True
                )
            if out["predictions"]:
                out["counts"] = ws.evaluate(name, **dict(evaluate or {}))["counts"]
        out["splits"] = catalog.split_counts(self.db, info.id)
        return out
