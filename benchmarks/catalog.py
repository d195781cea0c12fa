"""Catalog benchmark: every data row of a 1M-row workspace, 30 % of it unlabeled.

Builds (once, cached under ``benchmarks/_data/``) a workspace with ``--rows`` image data
rows, ground-truth boxes (``--per-row`` each, 20 classes) on 70 % of them and a numeric
metadata field, then times ``Workspace.catalog`` in-process (the SQL engine the REST route
and the catalog view use): a first page and the next one for all rows, the unlabeled
rows, a class present / absent and a metadata range; a page 50 deep; a metadata sort; the
per-dataset counts. Each query runs ``--repeat`` times with a data change in between
(cold: the filter is evaluated) and then page after page (warm: the matching ids are
kept until the data change).

    flock /tmp/errorscope-bench.lock python benchmarks/catalog.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from errorscope.sdk.workspace import Workspace

HERE = Path(__file__).resolve().parent
CLASSES = 20


def build(path: Path, rows: int, per_row: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    with Workspace(path) as ws:
        keys = pa.array([f"img-{i}.jpg" for i in range(rows)])
        ws.add_data_rows(
            pa.table(
                {
                    "global_key": keys,
                    "media_type": pa.array(["image"] * rows),
                    "uri": pa.array([f"images/img-{i}.jpg" for i in range(rows)]),
                    "width": pa.array(np.full(rows, 640, np.int32)),
                    "height": pa.array(np.full(rows, 480, np.int32)),
                }
            )
        )
        labeled = np.flatnonzero(rng.random(rows) < 0.7)
        img = np.repeat(labeled, per_row)
        n = len(img)
        x1 = rng.uniform(0, 560, n)
        y1 = rng.uniform(0, 400, n)
        names = np.array([f"class_{c}" for c in range(CLASSES)], dtype=object)
        ws.add_labels(
            pa.table(
                {
                    "row_key": keys.take(pa.array(img)),
                    "class_name": pa.array(names[rng.integers(0, CLASSES, n)]),
                    "kind": pa.array(np.full(n, "bbox", dtype=object)),
                    "x1": x1,
                    "y1": y1,
                    "x2": x1 + rng.uniform(8, 80, n),
                    "y2": y1 + rng.uniform(8, 80, n),
                }
            )
        )
        ws.db.con.execute(
            """INSERT INTO metadata_fields VALUES ('brightness', 'number', NULL);
               INSERT INTO row_metadata (data_row_id, name, num_value)
               SELECT id, 'brightness', hash(id) % 1000 / 1000.0 FROM data_rows"""
        )
    print(f"built {path} in {time.perf_counter() - t0:.0f} s", flush=True)


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-row", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    path = HERE / "_data" / f"catalog-{args.rows}x{args.per_row}"
    if not path.exists():
        build(path, args.rows, args.per_row)
    print(f"load average at the start: {_load()}")
    with Workspace(path, create=False) as ws:

        def timed(label: str, fn: Callable[[], Any], *, cold: bool) -> None:
            times, out = [], None
            for _ in range(args.repeat):
                if cold:
                    ws.db.generation += 1  # as after a data change: nothing is kept
                t = time.perf_counter()
                out = fn()
                times.append(time.perf_counter() - t)
            p50, worst = statistics.median(times) * 1000, max(times) * 1000
            print(f"{label:52s} p50 {p50:8.1f} ms  max {worst:8.1f} ms  ({out})", flush=True)

        cls3 = {"type": "class", "side": "label", "class_name": "class_3"}
        queries: list[tuple[str, dict[str, Any]]] = [
            ("all rows", {}),
            ("unlabeled", {"unlabeled": True}),
            ("class_3 present", {"filter": cls3}),
            ("class_3 absent", {"filter": {"type": "not", "filter": cls3}}),
            (
                "brightness in [0.2, 0.3]",
                {"filter": {"type": "metadata", "name": "brightness", "lo": 0.2, "hi": 0.3}},
            ),
        ]
        for label, kw in queries:
            timed(
                f"{label}: first page (cold)",
                lambda kw=kw: ws.catalog(limit=200, **kw).total,
                cold=True,
            )
            first = ws.catalog(limit=200, **kw)
            timed(
                f"{label}: next page (warm)",
                lambda kw=kw, c=first.next_cursor: len(ws.catalog(limit=200, cursor=c, **kw).rows),
                cold=False,
            )

        def deep() -> int:
            cursor = None
            for _ in range(50):
                page = ws.catalog(unlabeled=True, limit=200, cursor=cursor)
                cursor = page.next_cursor
            return page.rows[0].id

        timed("unlabeled: 50 pages one after another", deep, cold=True)
        timed(
            "unlabeled, sorted by meta(brightness):desc",
            lambda: ws.catalog(unlabeled=True, sort="meta(brightness):desc", limit=200).total,
            cold=True,
        )
        timed("per-dataset counts (cold)", lambda: ws.catalog_summary()["datasets"], cold=True)
        timed("per-dataset counts (warm)", lambda: ws.catalog_summary()["datasets"], cold=False)
    print(f"load average at the end: {_load()}")


if __name__ == "__main__":
    main()
