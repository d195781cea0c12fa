"""Ingest benchmark: 1M data rows with 10M boxes, from NDJSON and from COCO.

Generates the synthetic files (with DuckDB, in seconds), then imports each into a fresh
workspace in its own process, recording wall time and peak RSS. For reference it loads
the same COCO file with pycocotools' ``COCO()`` (which only parses and indexes it) and
prints the ratios side by side. Results go to ``benchmarks/RESULTS.md`` by hand.

    python benchmarks/ingest.py [--rows 1000000] [--boxes-per-row 10] [--no-reference]
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import duckdb

CLASSES = 20


def generate(out: Path, rows: int, per_row: int) -> dict[str, Path]:
    """Write data rows NDJSON, annotations NDJSON and a COCO file for the same boxes."""
    con = duckdb.connect()
    n = rows * per_row
    box = f"""
        (hash(i) % 400)::DOUBLE AS x, (hash(i + 1) % 300)::DOUBLE AS y,
        (1 + hash(i + 2) % 100)::DOUBLE AS w, (1 + hash(i + 3) % 80)::DOUBLE AS h,
        (i // {per_row}) AS img, (hash(i + 4) % {CLASSES}) AS cls"""
    paths = {
        k: out / f
        for k, f in [("rows", "rows.ndjson"), ("ndjson", "boxes.ndjson"), ("coco", "coco.json")]
    }
    con.execute(f"""COPY (SELECT 'img-' || i || '.jpg' AS global_key,
                                 'images/img-' || i || '.jpg' AS row_data,
                                 'IMAGE' AS media_type, 640 AS width, 480 AS height
                          FROM range({rows}) t(i))
                    TO '{paths["rows"]}' (FORMAT json)""")
    con.execute(f"""COPY (SELECT 'a' || i AS uuid, {{'globalKey': 'img-' || img || '.jpg'}}
                                 AS "dataRow", 'class_' || cls AS name,
                                 {{'top': y, 'left': x, 'height': h, 'width': w}} AS bbox
                          FROM (SELECT i, {box} FROM range({n}) t(i)))
                    TO '{paths["ndjson"]}' (FORMAT json)""")
    images, anns = out / "_images.json", out / "_anns.json"
    con.execute(f"""COPY (SELECT i AS id, 'img-' || i || '.jpg' AS file_name, 640 AS width,
                                 480 AS height FROM range({rows}) t(i))
                    TO '{images}' (FORMAT json, ARRAY true)""")
    con.execute(f"""COPY (SELECT i + 1 AS id, img AS image_id, cls + 1 AS category_id,
                                 [x, y, w, h] AS bbox, w * h AS area, 0 AS iscrowd
                          FROM (SELECT i, {box} FROM range({n}) t(i)))
                    TO '{anns}' (FORMAT json, ARRAY true)""")
    cats = json.dumps([{"id": c + 1, "name": f"class_{c}"} for c in range(CLASSES)])
    with paths["coco"].open("wb") as fh:
        fh.write(b'{"images": ')
        with images.open("rb") as src:
            shutil.copyfileobj(src, fh, 1 << 24)
        fh.write(f', "categories": {cats}, "annotations": '.encode())
        with anns.open("rb") as src:
            shutil.copyfileobj(src, fh, 1 << 24)
        fh.write(b"}\n")
    images.unlink()
    anns.unlink()
    return paths


CHILD = textwrap.dedent(
    """
    import json, resource, sys, time
    kind, ws_path, *files = sys.argv[1:]
    t0 = time.perf_counter()
    if kind == "pycocotools":
        from pycocotools.coco import COCO
        import contextlib, io
        with contextlib.redirect_stdout(io.StringIO()):
            coco = COCO(files[0])
        count = len(coco.anns)
    else:
        import errorscope as es
        with es.open_workspace(ws_path) as ws:
            if kind == "ndjson":
                ws.import_data_rows(files[0])
                count = ws.import_ndjson(files[1]).labels
            else:
                count = ws.import_coco(files[0]).labels
    wall = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(json.dumps({"wall_s": wall, "peak_rss_gib": rss, "count": count}))
    """
)


def measure(kind: str, workdir: Path, *files: Path) -> dict[str, float]:
    ws = workdir / f"ws-{kind}"
    shutil.rmtree(ws, ignore_errors=True)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, kind, str(ws), *map(str, files)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        sys.exit(f"{kind} failed:\n{out.stderr[-3000:]}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    shutil.rmtree(ws, ignore_errors=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--boxes-per-row", type=int, default=10)
    ap.add_argument("--no-reference", action="store_true", help="skip pycocotools")
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--only-coco", action="store_true", help="skip the NDJSON import")
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="errorscope-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    paths = generate(workdir, args.rows, args.boxes_per_row)
    sizes = {k: p.stat().st_size / 2**20 for k, p in paths.items()}
    print(
        f"generated in {time.perf_counter() - t0:.1f} s: "
        + ", ".join(f"{k} {v:,.0f} MiB" for k, v in sizes.items())
    )
    n = args.rows * args.boxes_per_row
    results = {"errorscope import coco": measure("coco", workdir, paths["coco"])}
    if not args.only_coco:
        results["errorscope import ndjson (rows + boxes)"] = measure(
            "ndjson", workdir, paths["rows"], paths["ndjson"]
        )
    if not args.no_reference:
        results["pycocotools COCO() load only"] = measure("pycocotools", workdir, paths["coco"])
    print(
        f"\n{args.rows:,} data rows, {n:,} boxes; {platform.processor() or platform.machine()}, "
        f"{platform.python_version()}"
    )
    print(f"{'what':45} {'wall s':>8} {'peak RSS GiB':>13} {'boxes':>12}")
    for what, r in results.items():
        print(f"{what:45} {r['wall_s']:8.1f} {r['peak_rss_gib']:13.2f} {int(r['count']):12,}")
    ref = results.get("pycocotools COCO() load only")
    if ref:
        coco = results["errorscope import coco"]
        print(
            f"\nerrorscope COCO import vs pycocotools load: "
            f"{ref['wall_s'] / coco['wall_s']:.2f}x the speed, "
            f"{coco['peak_rss_gib'] / ref['peak_rss_gib']:.2f}x the memory"
        )
    if args.workdir is None:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
