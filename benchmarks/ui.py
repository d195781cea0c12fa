"""Browser UI benchmark: the gallery and the projector on a 100k-row run, in Debian's chromium.

Builds (once, cached under ``benchmarks/_data/``) the synthetic evaluated workspace of
``benchmarks/query.py`` with 100k image rows, serves it with ``errorscope serve`` and
drives the real UI headless with Playwright (``/usr/bin/chromium``), timing:

(a) the gallery: first tiles of the run sorted by IoU, then a scroll through 40 screens,
    counting the rows the app asked for (keyset pages of 200) against the run's total;
(b) the projector: the 100k rows as points (IoU x mean confidence, colored by result),
    then a lasso over about a tenth of them: the selection in the page, the URL's id
    filter, and the gallery showing exactly the selected rows.

    python benchmarks/ui.py [--rows 100000] [--per-row 2]

Results are printed as a Markdown table (and appended to benchmarks/RESULTS.md by hand).
"""

from __future__ import annotations

import argparse
import importlib.util
import platform
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _query_bench() -> Any:
    spec = importlib.util.spec_from_file_location("query_bench", HERE / "query.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _count(page: Any) -> int:
    counter = page.locator("[data-testid=row-count][data-count]:not([data-count=''])")
    counter.wait_for(timeout=120_000)
    return int(counter.get_attribute("data-count"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--per-row", type=int, default=2)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    qb = _query_bench()
    path = HERE / "_data" / f"ui-{args.rows}x{args.per_row}"
    if not path.exists():
        print(f"building {path} ...", flush=True)
        qb.build(path, args.rows, args.per_row)
    results: list[tuple[str, str]] = []
    with qb.serve(path) as base, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)
        pages_asked: list[str] = []
        page.on(
            "request",
            lambda r: pages_asked.append(r.url) if r.url.endswith("/api/runs/bench/rows") else None,
        )

        # (a) gallery
        t0 = time.perf_counter()
        page.goto(f"{base}/?run=bench&sort=iou:asc")
        total = _count(page)
        page.locator("[data-testid=tile]").first.wait_for()
        first = time.perf_counter() - t0
        results.append(("gallery: first tiles of the run sorted by IoU", f"{first:.2f} s"))
        t0 = time.perf_counter()
        for _ in range(40):
            page.get_by_test_id("gallery").evaluate("e => e.scrollBy(0, e.clientHeight)")
            page.wait_for_timeout(25)
        page.wait_for_function(
            """() => {
                const g = document.querySelector('[data-testid=gallery]');
                const tiles = [...g.querySelectorAll('[data-testid=tile]')];
                const box = g.getBoundingClientRect();
                return tiles.some(t => Math.abs(t.getBoundingClientRect().top - box.top) < 300);
            }"""
        )
        scroll = time.perf_counter() - t0
        rendered = page.locator("[data-testid=tile]").count()
        loaded = len(pages_asked) * 200
        results.append(
            (
                "gallery: scroll 40 screens, tiles in view",
                f"{scroll:.2f} s; {loaded:,} of {total:,} rows fetched; "
                f"{rendered} tiles in the DOM",
            )
        )

        # (b) projector
        t0 = time.perf_counter()
        page.goto(f"{base}/?run=bench&view=projector&pcolor=result&space=m%3Aiou%3Amean_confidence")
        page.wait_for_function(
            "() => /\\d+ points/.test(document.querySelector('[data-testid=point-count]')"
            "?.textContent ?? '')"
        )
        page.get_by_test_id("legend").locator("li").nth(1).wait_for()
        points = page.get_by_test_id("point-count").inner_text()
        results.append(
            (
                "projector: points loaded, colored and drawn",
                f"{points} in {time.perf_counter() - t0:.2f} s",
            )
        )
        draw_ms = page.evaluate(
            """() => new Promise(done => {
                const c = document.querySelector('[data-testid=projector-canvas]');
                const t0 = performance.now();
                c.dispatchEvent(new WheelEvent('wheel', {deltaY: -1, clientX: 10, clientY: 10,
                    bubbles: true, cancelable: true}));
                const end = () => done(performance.now() - t0);
                requestAnimationFrame(() => requestAnimationFrame(end));
            })"""
        )
        results.append(("projector: redraw after a zoom step", f"{draw_ms:.0f} ms"))
        box = page.get_by_test_id("projector-canvas").bounding_box()
        assert box is not None
        x0, y0 = box["x"] + 2, box["y"] + 2
        x1, y1 = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
        page.get_by_test_id("mode-lasso").click()
        page.mouse.move(x0, y0)
        page.mouse.down()
        for x, y in [(x1, y0), (x1, y1), (x0, y1), (x0, y0 + 3)]:
            page.mouse.move(x, y, steps=10)
        t0 = time.perf_counter()
        page.mouse.up()
        page.get_by_test_id("projector-selection").wait_for()
        shown = time.perf_counter() - t0
        picked = page.get_by_test_id("projector-selection").inner_text()
        selected = int(picked.split()[0])
        page.get_by_test_id("open-selection").click()
        t1 = time.perf_counter()
        page.wait_for_function(
            "n => document.querySelector('[data-testid=row-count]')?.dataset.count === String(n)",
            arg=selected,
        )
        counted = time.perf_counter() - t1
        page.locator("[data-testid=tile]").first.wait_for()
        tiles = time.perf_counter() - t1
        results.append(
            (
                "projector: lasso -> id filter in the URL",
                f"{picked} (in-page selection); shown {shown:.2f} s after mouse-up",
            )
        )
        results.append(
            (
                "gallery on the lasso's rows",
                f"count of {selected:,} rows {counted:.2f} s, first tiles {tiles:.2f} s "
                "after the click",
            )
        )
        browser.close()

    print(f"\nUI benchmark on {path.name} ({platform.machine()}, chromium headless)\n")
    print("| step | result |")
    print("| --- | --- |")
    for step, value in results:
        print(f"| {step} | {value} |")


if __name__ == "__main__":
    main()
