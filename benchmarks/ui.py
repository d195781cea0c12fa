"""Browser UI benchmark: the gallery and the projector on a 100k-row run, in Debian's chromium.

Builds (once, cached under ``benchmarks/_data/``) the synthetic evaluated workspace of
``benchmarks/query.py`` with 100k image rows, serves it with ``errorscope serve`` and
drives the real UI headless with Playwright (``/usr/bin/chromium``), timing:

(a) the gallery: first tiles of the run sorted by IoU, then a scroll through 40 screens,
    counting the rows the app asked for (keyset pages of 200) against the run's total;
(b) the projector's row-metrics space: the rows as points (IoU x mean confidence, colored
    by result), the switch to ground-truth class colors, a redraw after a zoom step;
(c) the projector's embedding space ``bench-2d`` (2-D vectors, added once to the cached
    workspace, PCA-projected) in which ``--cluster`` rows (default 12,000) form a planted
    cluster away from the rest: first load, the switch to class colors, then a lasso drawn
    through the real UI around the cluster — time from pointer up to the id filter
    (selection count shown), then the gallery on exactly those rows — and the selected
    ids against the expected ones (the points inside the same polygon, computed here).

Times in the page are ``performance.now()`` stamps (pointer up / change event captured on
``window``; done = the first animation frame where the page shows the result).

    python benchmarks/ui.py [--rows 100000] [--per-row 2] [--cluster 12000]

Results are printed as a Markdown table (and appended to benchmarks/RESULTS.md by hand).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from liveserver import serve

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


SPACE = "bench-2d"


def _arm(page: Any, event: str, done: str) -> None:
    """Stamp the next ``event`` (captured on ``window``, before the app sees it) and the
    first animation frame after it in which the JS expression ``done`` holds."""
    page.evaluate(
        """event => {
            const t = {};
            window.__stamp = t;
            window.addEventListener(event, () => {
                t.start = performance.now();
                const tick = () => {
                    if (DONE) t.end = performance.now();
                    else requestAnimationFrame(tick);
                };
                requestAnimationFrame(tick);
            }, {capture: true, once: true});
        }""".replace("DONE", done),
        event,
    )


def _stamped_ms(page: Any) -> float:
    page.wait_for_function("() => window.__stamp && window.__stamp.end !== undefined")
    t = page.evaluate("() => window.__stamp")
    return float(t["end"] - t["start"])


def _planted_space(path: Path, cluster: int, seed: int = 1) -> tuple[Any, Any, Any]:
    """Add the ``bench-2d`` space (once) to the workspace at ``path``: ``cluster`` random
    rows in a tight blob at (12, 0), the others in five blobs at least 9 away. Returns the
    projection's ids and xy (as the server will serve them) and the cluster's ids."""
    import errorscope as es

    with es.open_workspace(path) as ws:
        ids = ws.row_metric_columns("bench", ["tp"])[0]  # every row of the run
        rng = np.random.default_rng(seed)
        members = np.sort(rng.choice(ids, cluster, replace=False))
        if SPACE not in {s.name for s in ws.embedding_spaces()}:
            centres = np.array([[-6.0, 4.0], [-6.0, -4.0], [0.0, 6.0], [0.0, -6.0], [-2.0, 0.0]])
            xy = centres[rng.integers(0, len(centres), len(ids))] + rng.normal(
                0, 0.8, (len(ids), 2)
            )
            inside = np.isin(ids, members)
            xy[inside] = np.array([12.0, 0.0]) + rng.normal(0, 0.5, (int(inside.sum()), 2))
            ws.add_embeddings(SPACE, xy.astype(np.float32), ids=ids.tolist())
        proj = ws.projection(SPACE, "pca")
    return np.asarray(proj.ids), np.asarray(proj.xy, np.float64), members


def _inside(xs: Any, ys: Any, poly: list[tuple[float, float]]) -> Any:
    """Even-odd point in polygon for arrays of points (the rule of ui/src/lib/lasso.ts)."""
    inside = np.zeros(len(xs), bool)
    j = len(poly) - 1
    for i in range(len(poly)):
        (xi, yi), (xj, yj) = poly[i], poly[j]
        cross = (yi > ys) != (yj > ys)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = (xj - xi) * (ys - yi) / (yj - yi) + xi
        inside ^= cross & (xs < at)
        j = i
    return inside


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def _switch(page: Any, color: str) -> str:
    """Change the projector's color-by select and time it until the legend shows it."""
    _arm(
        page, "change", f"document.querySelector('[data-testid=legend][data-color-by={color}] li')"
    )
    page.get_by_test_id("point-color").select_option(color)
    ms = _stamped_ms(page)
    compute = page.get_by_test_id("legend").get_attribute("data-ms")
    groups = page.get_by_test_id("legend").locator("li").count()
    return f"{ms:.0f} ms to the next frame ({compute} ms coloring in the page; {groups} groups)"


def _lasso_polygon(
    page: Any, ids: Any, xy: Any, members: Any, sides: int = 40
) -> tuple[Any, list[tuple[float, float]]]:
    """A ``sides``-gon on screen around the cluster's points (radius 1.2 x the farthest
    member) and the ids of the points inside it (computed here, in screen coordinates
    from the projector's transform: screen = k * world + t, world = (x - min x,
    max y - y))."""
    canvas = page.get_by_test_id("projector-canvas")
    box = canvas.bounding_box()
    k = float(canvas.get_attribute("data-k"))
    tx, ty = float(canvas.get_attribute("data-tx")), float(canvas.get_attribute("data-ty"))
    xs = box["x"] + tx + k * (xy[:, 0] - xy[:, 0].min())
    ys = box["y"] + ty + k * (xy[:, 1].max() - xy[:, 1])
    inside = np.isin(ids, members)
    cx, cy = float(xs[inside].mean()), float(ys[inside].mean())
    r = 1.2 * float(np.hypot(xs[inside] - cx, ys[inside] - cy).max())
    poly = [
        (cx + r * math.cos(2 * math.pi * i / sides), cy + r * math.sin(2 * math.pi * i / sides))
        for i in range(sides)
    ]
    return np.sort(ids[_inside(xs, ys, poly)]), poly


def _requests(sent: list[Any]) -> list[str]:
    """The API requests by route (row ids folded), with their largest URL and body."""
    groups: dict[str, list[Any]] = {}
    for r in sent:
        route = r.url.split("?")[0].split("/api/")[1]
        route = "/".join("{id}" if part.isdigit() else part for part in route.split("/"))
        groups.setdefault(f"{r.method} /api/{route}", []).append(r)
    out = []
    for route, rs in groups.items():
        url = max(len(r.url) for r in rs)
        body = max(len(r.post_data_buffer or b"") for r in rs)
        size = f"URL {url:,} B" + (f", body {body:,} B" if body else "")
        out.append(f"{len(rs)} x {route} ({size})")
    return out


def _count(page: Any) -> int:
    counter = page.locator("[data-testid=row-count][data-count]:not([data-count=''])")
    counter.wait_for(timeout=120_000)
    return int(counter.get_attribute("data-count"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--per-row", type=int, default=2)
    parser.add_argument("--cluster", type=int, default=12_000)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    qb = _query_bench()
    path = HERE / "_data" / f"ui-{args.rows}x{args.per_row}"
    if not path.exists():
        print(f"building {path} ...", flush=True)
        qb.build(path, args.rows, args.per_row)
    proj_ids, proj_xy, members = _planted_space(path, args.cluster)
    results: list[tuple[str, str]] = [("machine load at the start", _load())]
    with serve(path) as (base, _), sync_playwright() as p:
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

        # (b) projector, row-metrics space
        t0 = time.perf_counter()
        page.goto(f"{base}/?run=bench&view=projector&pcolor=result&space=m%3Aiou%3Amean_confidence")
        page.wait_for_selector("[data-testid=legend][data-color-by=result] li")
        points = page.get_by_test_id("point-count").inner_text()
        results.append(
            (
                "projector (IoU x confidence): points loaded, colored by result, drawn",
                f"{points} in {time.perf_counter() - t0:.2f} s",
            )
        )
        results.append(("projector (IoU x confidence): color by GT class", _switch(page, "gt")))
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

        # (c) projector, embedding space with the planted cluster
        page.goto(f"{base}/?run=bench&view=projector&pcolor=result&space={SPACE}")
        page.wait_for_selector("[data-testid=legend][data-color-by=result] li")
        first = page.evaluate("() => performance.now()") / 1000
        points = page.get_by_test_id("point-count").inner_text()
        results.append(
            (
                f"projector ({SPACE}): first load (projection + codes), colored, drawn",
                f"{points} in {first:.2f} s from navigation start",
            )
        )
        results.append((f"projector ({SPACE}): color by GT class", _switch(page, "gt")))
        results.append((f"projector ({SPACE}): color by predicted class", _switch(page, "pred")))
        expected, polygon = _lasso_polygon(page, proj_ids, proj_xy, members)
        page.get_by_test_id("mode-lasso").click()
        page.mouse.move(*polygon[0])
        page.mouse.down()
        for x, y in polygon[1:]:
            page.mouse.move(x, y, steps=2)
        _arm(page, "pointerup", "document.querySelector('[data-testid=projector-selection]')")
        page.mouse.up()
        lasso_ms = _stamped_ms(page)
        picked = page.get_by_test_id("projector-selection").inner_text()
        got = page.evaluate("() => JSON.parse(new URLSearchParams(location.search).get('f')).ids")
        exact = sorted(got) == sorted(expected.tolist())
        cluster_exact = sorted(got) == members.tolist()
        results.append(
            (
                f"projector ({SPACE}): lasso around the planted cluster, pointer up -> id "
                "filter in the URL and count shown",
                f"{lasso_ms:.0f} ms; {len(got):,} selected, {len(expected):,} expected inside "
                f"the polygon ({'same ids' if exact else 'DIFFERENT ids'}), cluster of "
                f"{len(members):,} ({'exactly' if cluster_exact else 'not exactly'} its rows); "
                f"page says: {picked}",
            )
        )
        _arm(
            page,
            "click",
            "document.querySelector('[data-testid=row-count]')?.dataset.count === "
            f"'{len(got)}' && document.querySelector('[data-testid=tile]')",
        )
        sent: list[Any] = []
        page.on("request", lambda r: sent.append(r) if "/api/" in r.url else None)
        page.get_by_test_id("open-selection").click()
        gallery_ms = _stamped_ms(page)
        page.wait_for_load_state("networkidle")
        wire = "; ".join(_requests(sent))
        results.append(("requests of the gallery on the selection", wire))
        status = page.evaluate(
            """ids => fetch('/api/runs/bench/histogram?metric=iou&filter=' +
                encodeURIComponent(JSON.stringify({type: 'ids', ids}))).then(r => r.status)""",
            got,
        )
        results.append(("the same ids in a GET URL (metrics view histogram)", f"HTTP {status}"))
        results.append(
            (
                "gallery on the lasso's rows: click -> count and first tiles",
                f"{gallery_ms:.0f} ms ({_count(page):,} matching rows); lasso + gallery "
                f"{lasso_ms + gallery_ms:.0f} ms",
            )
        )
        results.append(("machine load at the end", _load()))
        browser.close()

    print(f"\nUI benchmark on {path.name} ({platform.machine()}, chromium headless)\n")
    print("| step | result |")
    print("| --- | --- |")
    for step, value in results:
        print(f"| {step} | {value} |")


if __name__ == "__main__":
    main()
