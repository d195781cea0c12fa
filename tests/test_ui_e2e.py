"""End-to-end tests of the browser UI: Debian's chromium (headless, driven by Playwright,
never a browser Playwright downloads) against a real ``errorscope serve`` subprocess on the
real voc100 workspace evaluated with the real detector. What the UI shows is checked
against the API and the CLI (the same query engine), not against numbers written here.

Skips with a reason when ../shared, /usr/bin/chromium, the playwright package or the UI
build (``make ui``) is missing. With ``ERRORSCOPE_SCREENSHOTS=1`` the screenshots of each
view go to docs/screenshots/ (else to a temporary directory).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

import errorscope as es
from errorscope.server.ui import STATIC_DIR
from tests.conftest import load_voc100, shared_path

pytestmark = pytest.mark.shared_data

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CLI = [sys.executable, "-c", "from errorscope.cli import main; main()"]
TIMEOUT_MS = 20_000
#: A text row whose text, key and metadata are HTML/script payloads.
PAYLOAD = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'
EVIL_KEY = '<img src=x onerror="window.__xss = 3">.txt'
#: The gallery query of the class + IoU + sort test, in CLI form.
PERSON_IOU_CLI = [
    "--class",
    "person",
    "--where",
    "iou>=0.2",
    "--where",
    "iou<=0.8",
    "--sort",
    "iou:desc",
]


@dataclass
class Served:
    url: str
    workspace: Path
    cli: dict[str, Any]  # `errorscope rows --json` answers, computed before serving

    def api(self, path: str, **kwargs: Any) -> Any:
        r = httpx.get(self.url + path, timeout=30, **kwargs)
        r.raise_for_status()
        return r.json()

    def ids(self, run: str, filter: Any, sort: str | None = None) -> list[int]:
        body = {"filter": filter, "sort": sort, "limit": 10_000}
        r = httpx.post(f"{self.url}/api/runs/{run}/rows", json=body, timeout=30)
        r.raise_for_status()
        return [row["id"] for row in r.json()["rows"]]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli_rows(workspace: Path, *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [*CLI, "rows", "-w", str(workspace), "--json", "--limit", "10000", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _add_evil_text_row(ws: es.Workspace, tmp: Path) -> None:
    text = "Evil text " + PAYLOAD
    rows = tmp / "rows.ndjson"
    rows.write_text(
        json.dumps(
            {
                "row_data": text,
                "global_key": EVIL_KEY,
                "media_type": "text",
                "metadata_fields": [{"name": "note", "value": PAYLOAD}],
            }
        )
        + "\n"
    )
    gold = tmp / "gold.jsonl"
    gold.write_text(json.dumps({"global_key": EVIL_KEY, "text": text, "label": "pos"}) + "\n")
    pred = tmp / "pred.jsonl"
    pred.write_text(
        json.dumps({"global_key": EVIL_KEY, "text": text, "label": "neg", "confidence": 0.9}) + "\n"
    )
    ws.import_data_rows(rows)
    ws.import_jsonl(gold)
    ws.import_jsonl(pred, run="xss")
    ws.evaluate("xss")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    voc = shared_path("voc100")
    if not CHROMIUM.exists():
        pytest.skip(f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="needs the playwright package (dev extra)")
    if not (STATIC_DIR / "index.html").is_file():
        pytest.skip("the UI is not built: run `make ui` (npm ci && npm run build in ui/)")
    tmp = tmp_path_factory.mktemp("ui")
    path = tmp / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det", mode="labelbox")
        _add_evil_text_row(ws, tmp)
        ws.create_labeling_project("review", backend="files")
    cli = {
        "all": _cli_rows(path, "--run", "det"),
        "person_iou": _cli_rows(path, "--run", "det", *PERSON_IOU_CLI),
    }
    port = _free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "-w", str(path), "--port", str(port), "--media-root", str(voc / "images")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/api/info", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("errorscope serve did not start") from None
                time.sleep(0.2)
        yield Served(url, path, cli)
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert b"Traceback" not in out, out.decode()


@pytest.fixture(scope="module")
def browser(served: Served) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on("dialog", lambda d: errors.append(f"dialog: {d.message}") or d.dismiss())
    yield pg
    context.close()
    assert errors == [], errors


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("ERRORSCOPE_SCREENSHOTS") == "1":
        out = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        return out
    return tmp_path_factory.mktemp("screenshots")


def _count(page: Any) -> int:
    counter = page.locator("[data-testid=row-count][data-count]:not([data-count=''])")
    counter.wait_for()
    return int(counter.get_attribute("data-count"))


def _tile_ids(page: Any) -> list[int]:
    ids: list[int] = page.eval_on_selector_all(
        "[data-testid=tile]", "els => els.map(e => Number(e.dataset.rowId))"
    )
    return ids


def _wait_for_ids(page: Any, expected: list[int]) -> None:
    page.wait_for_function(
        """want => {
            const got = [...document.querySelectorAll('[data-testid=tile]')]
                .map(e => Number(e.dataset.rowId));
            return got.length > 0 && want.slice(0, got.length).every((id, i) => got[i] === id)
                && (got.length === want.length || got.length >= 12);
        }""",
        arg=expected,
    )


def _wait_tiles(page: Any, n: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('[data-testid=tile]').length === n", arg=n
    )


def _wait_thumbnails(page: Any) -> None:
    """Until the first tiles (all of them, if fewer) show their loaded thumbnails."""
    page.wait_for_function(
        """() => {
            const tiles = [...document.querySelectorAll('[data-testid=tile]')].slice(0, 12);
            return tiles.length > 0 && tiles.every(t => {
                const img = t.querySelector('img');
                return img && img.complete && img.naturalWidth > 0;
            });
        }"""
    )


def test_gallery_shows_the_runs_rows_with_thumbnails(
    page: Any, served: Served, shots: Path
) -> None:
    page.goto(served.url + "/")
    assert _count(page) == served.cli["all"]["total"] == served.api("/api/info")["data_rows"]
    assert "run=det" in page.url  # the first run is picked and written to the URL
    _wait_for_ids(page, [r["id"] for r in served.cli["all"]["rows"]])
    _wait_thumbnails(page)
    assert page.locator("[data-testid=tile] [data-testid=shape-gt]").count() > 0
    page.screenshot(path=str(shots / "gallery.png"))


def test_class_filter_iou_range_and_sort_match_the_cli_and_survive_reload(
    page: Any, served: Served, shots: Path
) -> None:
    expected = served.cli["person_iou"]
    want = [r["id"] for r in expected["rows"]]
    assert 0 < expected["total"] < served.cli["all"]["total"]
    page.goto(served.url + "/?run=det")
    _count(page)
    page.get_by_test_id("gt-classes").locator("summary").click()
    page.get_by_test_id("gt-classes").locator("input[value=person]").check()
    page.get_by_test_id("gt-classes").locator("summary").click()
    page.get_by_test_id("add-range").select_option("iou")
    page.get_by_test_id("range-iou-lo").fill("0.2")
    page.get_by_test_id("range-iou-lo").press("Tab")
    page.get_by_test_id("range-iou-hi").fill("0.8")
    page.get_by_test_id("range-iou-hi").press("Tab")
    page.get_by_test_id("sort-metric").select_option("iou")
    page.get_by_test_id("sort-dir").click()  # asc -> desc
    page.wait_for_function("() => location.search.includes('sort=iou%3Adesc')")
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=row-count]')?.dataset.count === "
        f"'{expected['total']}'"
    )
    _wait_for_ids(page, want)
    shown = _tile_ids(page)
    assert shown == want[: len(shown)]
    values = page.locator("[data-testid=sort-value]").all_inner_texts()
    assert [float(v) for v in values] == pytest.approx(
        [r["sort_value"] for r in expected["rows"][: len(values)]], abs=5e-4
    )
    _wait_thumbnails(page)
    page.screenshot(path=str(shots / "gallery-filtered.png"))

    url = page.url
    page.reload()
    assert _count(page) == expected["total"]
    _wait_for_ids(page, want)
    assert page.url == url
    assert page.get_by_test_id("range-iou-lo").input_value() == "0.2"
    assert page.get_by_test_id("sort-metric").input_value() == "iou"
    assert "person" in page.get_by_test_id("gt-classes").locator("summary").inner_text()


def test_opening_a_row_shows_all_its_objects(page: Any, served: Served, shots: Path) -> None:
    page.goto(served.url + "/?run=det&sort=fp:desc")
    _count(page)
    first = page.locator("[data-testid=tile]").first
    row_id = int(first.get_attribute("data-row-id"))
    first.locator("button.media").click()
    detail = page.get_by_test_id("detail")
    row = served.api(f"/api/rows/{row_id}", params={"run": "det"})
    labels, preds = len(row["labels"]), len(row["predictions"])
    assert labels > 0
    assert preds > 0
    detail.locator("[data-testid=object-row]").nth(labels + preds - 1).wait_for()
    assert detail.locator("[data-testid=shape-gt]").count() == labels
    assert detail.locator("[data-testid=shape-pred]").count() == preds
    assert detail.locator("[data-testid=object-row]").count() == labels + preds
    statuses = detail.locator("[data-testid=shape-pred]").evaluate_all(
        "els => els.map(e => e.dataset.status)"
    )
    assert sorted(statuses) == sorted(p["evaluation"]["status"] for p in row["predictions"])
    assert f"row={row_id}" in page.url
    page.reload()  # the open row is part of the view
    detail.locator("[data-testid=object-row]").nth(labels + preds - 1).wait_for()
    assert detail.get_by_test_id("detail-key").inner_text() == row["global_key"]

    detail.locator("[data-testid=shape-gt] rect").first.hover(force=True)
    tip = page.get_by_test_id("hover-tip").inner_text()  # the topmost object under the mouse
    described = [("GT", a) for a in row["labels"]] + [("pred", p) for p in row["predictions"]]
    assert any(
        tip.startswith(f"{side} {a['class_name']}") and a["evaluation"]["status"] in tip
        for side, a in described
    ), tip
    page.get_by_test_id("color-by").select_option("result")
    page.screenshot(path=str(shots / "detail.png"))
    page.get_by_test_id("toggle-gt").uncheck()
    assert detail.locator("[data-testid=shape-gt]").count() == 0
    assert detail.locator("[data-testid=shape-pred]").count() == preds

    # keyboard: next row in the gallery's order, then back
    order = _tile_ids(page)
    page.get_by_test_id("detail-key").click()  # focus off the color select
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => location.search.includes('row={order[1]}')")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(f"() => location.search.includes('row={row_id}')")
    page.keyboard.press("Escape")
    detail.wait_for(state="detached")


def test_confusion_cell_click_lands_on_exactly_its_rows(
    page: Any, served: Served, shots: Path
) -> None:
    agg = served.api("/api/runs/det/aggregate")
    cells = [c for c in agg["confusion"]["cells"] if 2 <= c["rows"] <= 12]
    cell = next(c for c in cells if c["gt_class"] != c["pred_class"])
    want = sorted(served.ids("det", cell["filter"]))
    assert len(want) == cell["rows"]
    page.set_viewport_size({"width": 1400, "height": 2000})
    page.goto(served.url + "/?run=det&view=metrics")
    page.get_by_test_id("confusion").wait_for()
    page.get_by_test_id("histogram-iou").wait_for()
    page.get_by_test_id("pr-line").first.wait_for()
    page.screenshot(path=str(shots / "metrics.png"), full_page=True)
    gt = cell["gt_class"] or "None"
    pred = cell["pred_class"] or "None"
    page.locator(f"[data-testid=cell][data-gt='{gt}'][data-pred='{pred}']").click()
    assert _count(page) == cell["rows"]
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=tile]').length === {len(want)}"
    )
    assert sorted(_tile_ids(page)) == want
    assert "view=" not in page.url  # the gallery, with the cell's filter in the URL
    assert page.get_by_test_id("extra-filter").is_visible()

    # a histogram bin opens the gallery on its rows too
    page.goto(served.url + "/?run=det&view=metrics")
    bin_ = page.locator(
        "[data-testid=histogram-iou] [data-testid=bin][data-count]:not([data-count='0'])"
    ).first
    n = int(bin_.get_attribute("data-count"))
    bin_.click()
    assert _count(page) == n


def test_lasso_in_the_projector_selects_a_cluster(page: Any, served: Served, shots: Path) -> None:
    # the cluster: rows whose IoU is (about) 0 and that have a kept prediction
    cluster = {
        "type": "and",
        "filters": [
            {"type": "metric", "name": "iou", "hi": 0.02},
            {"type": "metric", "name": "mean_confidence", "lo": 0},
        ],
    }
    want = sorted(served.ids("det", cluster))
    assert len(want) > 3
    space = "m%3Aiou%3Amean_confidence"  # the row-metrics space: IoU x mean confidence
    page.goto(f"{served.url}/?run=det&view=projector&pcolor=result&space={space}")
    canvas = page.get_by_test_id("projector-canvas")
    page.wait_for_function(
        "() => /\\d+ points/.test(document.querySelector('[data-testid=point-count]').textContent)"
    )
    page.get_by_test_id("legend").locator("li").first.wait_for()
    page.screenshot(path=str(shots / "projector.png"))
    box = canvas.bounding_box()
    k = float(canvas.get_attribute("data-k"))
    tx = float(canvas.get_attribute("data-tx"))
    # world x = iou - min iou (0 here), so IoU 0.02 is at screen x = k * 0.02 + tx
    right = box["x"] + k * 0.02 + tx + 1
    left, top, bottom = box["x"] + 2, box["y"] + 2, box["y"] + box["height"] - 2
    page.get_by_test_id("mode-lasso").click()
    page.mouse.move(left, top)
    page.mouse.down()
    for x, y in [(right, top), (right, bottom), (left, bottom), (left, top + 5)]:
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    page.get_by_test_id("projector-selection").wait_for()
    assert page.get_by_test_id("projector-selection").inner_text().startswith(f"{len(want)} ")
    page.get_by_test_id("open-selection").click()
    assert _count(page) == len(want)
    page.wait_for_function(
        f"() => document.querySelectorAll('[data-testid=tile]').length === {len(want)}"
    )
    assert sorted(_tile_ids(page)) == want


def test_projector_colors_by_class_from_one_request(page: Any, served: Served) -> None:
    # independent: each row's most frequent label class (ties: first name) from its detail
    ids = served.ids("det", None)
    want: dict[str, int] = {}
    for i in ids:
        names = [a["class_name"] for a in served.api(f"/api/rows/{i}?run=det")["labels"]]
        top = min(set(names), key=lambda c: (-names.count(c), c)) if names else "none"
        want[top] = want.get(top, 0) + 1
    assert len(want) > 10
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/" in r.url else None)
    # TP x FN: every row of the run is a point (no NaN)
    page.goto(f"{served.url}/?run=det&view=projector&pcolor=result&space=m%3Atp%3Afn")
    page.wait_for_selector("[data-testid=legend][data-color-by=result] li")
    assert [u for u in asked if "/points" in u] == [
        u for u in asked if "/points" in u and "classes=true" in u
    ]
    assert page.get_by_test_id("point-count").inner_text() == f"{len(ids)} points"
    asked.clear()
    page.get_by_test_id("point-color").select_option("gt")
    page.wait_for_selector("[data-testid=legend][data-color-by=gt] li")
    got = {
        li.get_attribute("data-label"): int(li.get_attribute("data-count"))
        for li in page.get_by_test_id("legend").locator("li").all()
    }
    assert got == want
    # the switch recolors the loaded codes: no request per class, no request at all
    assert [u for u in asked if "/points" in u or "/rows" in u] == []


def test_select_rows_and_save_them_as_a_slice(page: Any, served: Served) -> None:
    page.goto(served.url + "/?run=det")
    _count(page)
    tiles = page.locator("[data-testid=tile]")
    tiles.nth(3).wait_for()
    ids = _tile_ids(page)[:4]
    tiles.nth(0).get_by_test_id("tile-select").click()
    tiles.nth(3).get_by_test_id("tile-select").click(modifiers=["Shift"])
    assert page.get_by_test_id("selection-count").inner_text() == "4 selected"
    page.get_by_test_id("slice-name").fill("picked in the ui")
    page.get_by_test_id("save-slice").click()
    page.get_by_test_id("message").wait_for()
    saved = served.api("/api/slices/picked in the ui")
    assert saved["filter"] == {"type": "ids", "ids": sorted(ids)}
    assert served.ids("det", {"type": "slice", "name": "picked in the ui"}) == sorted(ids)
    page.get_by_test_id("select-all").click()
    assert page.get_by_test_id("selection-count").inner_text() == (
        f"{served.cli['all']['total']} selected"
    )


def _add_to_batch(page: Any, name: str, priority: int) -> str:
    if page.get_by_test_id("batch-form").count() == 0:
        page.get_by_test_id("batch-open").click()
    page.get_by_test_id("batch-name").fill(name)
    page.get_by_test_id("batch-project").select_option("review")
    page.get_by_test_id("batch-priority").fill(str(priority))
    page.get_by_test_id("batch-add").click()
    message = page.get_by_test_id("message")
    page.wait_for_function(
        "n => document.querySelector('[data-testid=message]')?.textContent.includes(n)", arg=name
    )
    return str(message.inner_text())


def test_add_two_selected_rows_to_a_labeling_batch(page: Any, served: Served) -> None:
    page.goto(served.url + "/?run=det")
    _count(page)
    tiles = page.locator("[data-testid=tile]")
    tiles.nth(5).wait_for()
    tiles.nth(4).get_by_test_id("tile-select").click()
    tiles.nth(5).get_by_test_id("tile-select").click()
    assert page.get_by_test_id("selection-count").inner_text() == "2 selected"
    said = _add_to_batch(page, "ui batch", 2)
    assert "2 rows added" in said
    assert "skipped" not in said
    batches = {b["name"]: b for b in served.api("/api/batches", params={"project": "review"})}
    assert batches["ui batch"]["project"] == "review"
    assert batches["ui batch"]["priority"] == 2
    assert batches["ui batch"]["run"] == "det"
    assert batches["ui batch"]["rows"] == 2
    assert batches["ui batch"]["origin"] == {"ids": 2}
    # one row already in the project is skipped, the other one is added
    tiles.nth(4).get_by_test_id("tile-select").click()  # unselect
    tiles.nth(6).get_by_test_id("tile-select").click()
    said = _add_to_batch(page, "ui batch 2", 5)
    assert "1 row added, 1 row skipped as already in the project" in said
    batches = {b["name"]: b for b in served.api("/api/batches")}
    assert batches["ui batch 2"]["rows"] == 1
    assert batches["ui batch 2"]["priority"] == 5
    assert batches["ui batch 2"]["origin"] == {"ids": 2}


def test_text_and_metadata_payloads_are_shown_as_text_and_never_run(
    page: Any, served: Served
) -> None:
    page.goto(served.url + "/?run=xss&q=Evil")
    assert _count(page) == 1
    tile = page.locator("[data-testid=tile]").first
    tile.locator(".text").wait_for()
    assert PAYLOAD in tile.locator(".text").inner_text()
    assert EVIL_KEY in tile.inner_text()
    tile.locator("button.media").click()
    detail = page.get_by_test_id("detail")
    assert PAYLOAD in detail.get_by_test_id("row-text").inner_text()
    assert PAYLOAD in detail.get_by_test_id("metadata").inner_text()
    assert EVIL_KEY in detail.get_by_test_id("detail-key").inner_text()
    page.wait_for_timeout(300)
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("script:not([src])").count() == 0
    assert page.locator("img[src=x]").count() == 0


def test_recompute_with_thresholds_shows_progress_and_reloads(page: Any, served: Served) -> None:
    # the same thresholds as the fixture's evaluation: the other tests' answers stay valid
    before = served.api("/api/runs/det/evaluation")
    page.goto(served.url + "/?run=det")
    _count(page)
    page.get_by_test_id("iou-threshold").fill("0.5")
    page.get_by_test_id("confidence-threshold").fill("0.5")
    page.get_by_test_id("recompute").click()
    page.get_by_test_id("recompute-progress").wait_for()
    page.wait_for_selector("[data-testid=recompute-progress][data-state=done]", timeout=120_000)
    assert page.get_by_test_id("recompute-status").inner_text() == "done"
    after = served.api("/api/runs/det/evaluation")
    assert after["params"] == before["params"]
    assert after["counts"] == before["counts"]
    assert _count(page) == served.cli["all"]["total"]  # the gallery loaded again


# -- catalog: every data row, no run -------------------------------------------------------
@dataclass
class CatalogServed:
    url: str
    unlabeled: set[str]  # global keys of the images whose ground truth was not imported
    key_of: dict[int, str]
    vectors: Any  # the embedding space "pix": unit vectors, by row id
    vector_ids: list[int]

    def api(self, path: str, **kwargs: Any) -> Any:
        r = httpx.get(self.url + path, timeout=30, **kwargs)
        r.raise_for_status()
        return r.json()


@pytest.fixture(scope="module")
def catalog_served(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A second server: voc100 with the VOC ground truth of 3 images in 4 (the others
    unlabeled, known from the file names), no run, an embedding space of 8x8 pixels."""
    import shutil

    import numpy as np
    from PIL import Image

    voc = shared_path("voc100")
    tmp = tmp_path_factory.mktemp("catalog-ui")
    xmls = sorted((voc / "gts" / "pascalvoc_format").glob("*.xml"))
    gt_dir = tmp / "gt"
    gt_dir.mkdir()
    for i, p in enumerate(xmls):
        if i % 4:
            shutil.copy(p, gt_dir / p.name)
    labeled = {p.stem + ".jpg" for p in gt_dir.glob("*.xml")}
    images = sorted((voc / "images").glob("*.jpg"))
    path = tmp / "ws"
    with es.open_workspace(path) as ws:
        ws.import_voc(gt_dir, images_dir=voc / "images")
        rest = []
        for img in images:
            if img.name not in labeled:
                with Image.open(img) as im:
                    w, h = im.size
                rest.append(
                    {
                        "global_key": img.name,
                        "media_type": "image",
                        "uri": str(img),
                        "width": w,
                        "height": h,
                    }
                )
        ws.add_data_rows(rest)
        rows = ws.data_rows().to_pylist()
        pixels = np.stack(
            [
                np.asarray(Image.open(r["uri"]).convert("RGB").resize((8, 8)), np.float32).ravel()
                for r in rows
            ]
        )
        ws.add_embeddings("pix", pixels, ids=[r["id"] for r in rows])
        ws.create_labeling_project("inbox", backend="files")
    port = _free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "-w", str(path), "--port", str(port), "--media-root", str(voc / "images")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/api/info", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("errorscope serve did not start") from None
                time.sleep(0.2)
        unit = pixels / np.linalg.norm(pixels, axis=1, keepdims=True)
        yield CatalogServed(
            url,
            {p.name for p in images} - labeled,
            {int(r["id"]): r["global_key"] for r in rows},
            unit,
            [int(r["id"]) for r in rows],
        )
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert b"Traceback" not in out, out.decode()


def test_catalog_unlabeled_similar_send_to_labeling_and_reload(
    page: Any, catalog_served: CatalogServed, shots: Path
) -> None:
    import numpy as np

    cs = catalog_served
    page.goto(cs.url + "/?view=catalog")
    assert _count(page) == 100  # every row, though the workspace has no run
    page.get_by_test_id("catalog-unlabeled").check()
    page.wait_for_function("() => location.search.includes('gt=__none__')")
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=row-count]')?.dataset.count === "
        f"'{len(cs.unlabeled)}'"
    )
    unlabeled_ids = sorted(i for i, k in cs.key_of.items() if k in cs.unlabeled)
    _wait_for_ids(page, unlabeled_ids)
    _wait_thumbnails(page)
    page.screenshot(path=str(shots / "catalog.png"))

    # two selected rows -> the rows like them, still unlabeled only
    tiles = page.locator("[data-testid=tile]")
    anchors = _tile_ids(page)[:2]
    tiles.nth(0).get_by_test_id("tile-select").click()
    tiles.nth(1).get_by_test_id("tile-select").click()
    assert page.get_by_test_id("selection-count").inner_text() == "2 selected"
    page.get_by_test_id("catalog-space").select_option("pix")
    page.get_by_test_id("find-similar").click()
    page.wait_for_function("() => location.search.includes('similar')")
    index = {row_id: i for i, row_id in enumerate(cs.vector_ids)}
    mean = cs.vectors[[index[a] for a in anchors]].mean(axis=0)
    ranked = [cs.vector_ids[i] for i in np.argsort(-(cs.vectors @ mean), kind="stable")]
    nearest = [r for r in ranked if r not in anchors][:50]
    want = sorted(r for r in nearest if cs.key_of[r] in cs.unlabeled)
    assert 0 < len(want) < len(cs.unlabeled)
    page.wait_for_function(
        f"() => document.querySelector('[data-testid=row-count]')?.dataset.count === '{len(want)}'"
    )
    _wait_tiles(page, len(want))
    assert _tile_ids(page) == want
    assert page.get_by_test_id("extra-filter").is_visible()

    # the whole view comes back from the URL
    url = page.url
    page.reload()
    assert _count(page) == len(want)
    assert page.url == url
    assert page.get_by_test_id("catalog-unlabeled").is_checked()
    assert page.get_by_test_id("extra-filter").is_visible()

    # send every matching row to labeling: a batch without a run
    page.get_by_test_id("select-all").click()
    assert page.get_by_test_id("selection-count").inner_text() == f"{len(want)} selected"
    page.get_by_test_id("batch-open").click()
    page.get_by_test_id("batch-name").fill("catalog picks")
    page.get_by_test_id("batch-project").select_option("inbox")
    page.get_by_test_id("batch-priority").fill("1")
    page.get_by_test_id("batch-add").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=message]')?.textContent.includes('catalog')"
    )
    assert f"{len(want)} rows added" in page.get_by_test_id("message").inner_text()
    batch = {b["name"]: b for b in cs.api("/api/batches")}["catalog picks"]
    assert batch["project"] == "inbox"
    assert batch["run"] is None
    assert batch["rows"] == len(want)
    assert batch["priority"] == 1


# -- failure patterns, intervals, label mistakes (issue 9) ---------------------------------
#: How many patterns the patterns view asks for (ui/src/views/Patterns.svelte).
PATTERNS_TOP = 20


def _patterns(served: Served, filter: Any = None, significant: bool = False) -> list[Any]:
    params: dict[str, Any] = {"top": PATTERNS_TOP, "significant": str(significant).lower()}
    if filter is not None:
        params["filter"] = json.dumps(filter)
    found: list[Any] = served.api("/api/runs/det/patterns", params=params)["patterns"]
    return found


def _wait_patterns(page: Any) -> list[str]:
    page.locator("[data-testid=patterns][data-state=done]").wait_for()
    texts: list[str] = page.eval_on_selector_all(
        "[data-testid=pattern-description]", "els => els.map(e => e.textContent)"
    )
    return texts


def test_patterns_view_lists_the_apis_patterns_and_opens_one_in_the_gallery(
    page: Any, served: Served, shots: Path
) -> None:
    want = _patterns(served)
    assert want, "voc100's detections have failure patterns"
    page.goto(served.url + "/?run=det&view=patterns")
    texts = _wait_patterns(page)
    assert len(texts) == len(want)
    # each description is shown as text, in the API's order (worst first)
    for text, p in zip(texts, want, strict=True):
        assert p["description"] in text
    assert page.get_by_test_id("pattern-rows").all_inner_texts() == [str(p["rows"]) for p in want]
    page.screenshot(path=str(shots / "patterns.png"))

    # under the filter bar's filter: the API's patterns for the same filter
    person = {"type": "class", "side": "label", "class_name": "person"}
    page.goto(served.url + "/?run=det&view=patterns&gt=person")
    texts = _wait_patterns(page)
    under = _patterns(served, person)
    assert len(texts) == len(under)
    assert all(p["description"] in t for t, p in zip(texts, under, strict=True))

    # significant only: a toggle kept in the URL
    page.goto(served.url + "/?run=det&view=patterns")
    _wait_patterns(page)
    page.get_by_test_id("significant-only").check()
    page.wait_for_function("() => location.search.includes('sig=1')")
    significant = _patterns(served, significant=True)
    page.wait_for_function(
        "n => document.querySelector('[data-testid=patterns]')?.dataset.count === String(n)",
        arg=len(significant),
    )
    page.reload()
    assert len(_wait_patterns(page)) == len(significant)
    assert page.get_by_test_id("significant-only").is_checked()

    # open in gallery: exactly the pattern's rows
    page.goto(served.url + "/?run=det&view=patterns")
    _wait_patterns(page)
    first = want[0]
    ids = sorted(served.ids("det", first["filter"]))
    assert len(ids) == first["rows"]
    page.get_by_test_id("pattern-open").first.click()
    assert _count(page) == first["rows"]
    _wait_tiles(page, len(ids))
    assert sorted(_tile_ids(page)) == ids
    assert "view=" not in page.url
    assert page.get_by_test_id("extra-filter").is_visible()


def test_pattern_saved_as_a_slice_appears_in_the_api_and_the_slice_picker(
    page: Any, served: Served
) -> None:
    pattern = _patterns(served)[1]
    page.goto(served.url + "/?run=det&view=patterns")
    _wait_patterns(page)
    page.get_by_test_id("pattern-save").nth(1).click()
    page.get_by_test_id("pattern-slice-name").fill("pattern <b>two</b>")
    page.get_by_test_id("pattern-save-confirm").click()
    page.get_by_test_id("message").wait_for()
    saved = {s["name"]: s for s in served.api("/api/slices")["slices"]}["pattern <b>two</b>"]
    assert saved["filter"] == pattern["filter"]
    assert saved["description"] == pattern["description"]
    assert saved["run"] == "det"
    picker = page.get_by_test_id("slice-picker")
    picker.locator("option", has_text="pattern <b>two</b>").wait_for(state="attached")
    picker.select_option("pattern <b>two</b>")
    page.get_by_test_id("tab-gallery").click()
    assert _count(page) == pattern["rows"]


def test_pattern_descriptions_are_shown_as_text_and_never_run(page: Any, served: Served) -> None:
    # descriptions are made from class names and metadata values: the API's real answer
    # with an HTML/script payload for a description, served to the page as is
    found = served.api("/api/runs/det/patterns", params={"top": PATTERNS_TOP})
    found["patterns"][0]["description"] = "person " + PAYLOAD
    page.route(
        "**/api/runs/det/patterns?*",
        lambda route: route.fulfill(
            status=200, content_type="application/json", body=json.dumps(found)
        ),
    )
    page.goto(served.url + "/?run=det&view=patterns")
    texts = _wait_patterns(page)
    assert ("person " + PAYLOAD) in texts[0]
    assert page.locator("[data-testid=patterns] img, [data-testid=patterns] script").count() == 0
    assert page.evaluate("() => window.__xss") is None


def test_metrics_view_shows_interval_whiskers_on_the_per_class_f1_bars(
    page: Any, served: Served
) -> None:
    intervals = served.api("/api/runs/det/intervals")
    page.goto(served.url + "/?run=det&view=metrics")
    page.locator("[data-testid=overall-intervals][data-state=done]").wait_for()
    page.locator("[data-testid=class-metrics-whisker]").first.wait_for()
    shown: list[dict[str, Any]] = page.eval_on_selector_all(
        "[data-testid=class-metrics-bar]",
        """els => els.map(e => {
            const w = e.querySelector('[data-testid=class-metrics-whisker]');
            return {label: e.dataset.label, value: Number(e.dataset.value),
                    lo: w ? Number(w.dataset.lo) : null, hi: w ? Number(w.dataset.hi) : null};
        })""",
    )
    with_ci = [s for s in shown if s["lo"] is not None]
    assert len(with_ci) >= len(shown) - 1 > 0  # every class with a defined F1 interval
    for s in with_ci:
        f1 = intervals["per_class"][s["label"]]["f1"]
        assert (s["lo"], s["hi"]) == pytest.approx(tuple(f1["ci"]))
        assert s["lo"] <= s["value"] <= s["hi"]
    overall = intervals["overall"]["f1"]
    text = page.get_by_test_id("overall-f1").inner_text()
    assert f"{overall['value']:.3f} [{overall['ci'][0]:.3f}, {overall['ci'][1]:.3f}]" in text


def test_likely_label_mistakes_link_opens_the_candidate_mislabels_in_score_order(
    page: Any, served: Served
) -> None:
    want = served.ids(
        "det", {"type": "slice", "name": "candidate_mislabels"}, sort="mislabel_score:desc"
    )
    assert 0 < len(want) < served.cli["all"]["total"]
    page.goto(served.url + "/?run=det&view=patterns")
    page.get_by_test_id("mislabels-link").click()
    assert _count(page) == len(want)
    _wait_for_ids(page, want)
    assert "slice=candidate_mislabels" in page.url
    assert page.get_by_test_id("slice-picker").input_value() == "candidate_mislabels"


# -- per-object embedding spaces in the projector ------------------------------------------
@pytest.fixture(scope="module")
def object_served(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A third server: voc100 evaluated, whose only embedding space "crops" is per object:
    synthetic vectors (no model) for the first half of the ground-truth objects."""
    import numpy as np

    voc = shared_path("voc100")
    tmp = tmp_path_factory.mktemp("objects-ui")
    path = tmp / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det", mode="labelbox")
        labels = ws.labels().sort_by("id")
        ids = labels.column("id").to_pylist()[: labels.num_rows // 2]
        vectors = np.random.default_rng(7).normal(size=(len(ids), 8)).astype(np.float32)
        ws.add_embeddings("crops", vectors, ids=ids, objects="gt")
    port = _free_port()
    proc = subprocess.Popen(
        [*CLI, "serve", "-w", str(path), "--port", str(port), "--media-root", str(voc / "images")],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/api/info", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("errorscope serve did not start") from None
                time.sleep(0.2)
        yield Served(url, path, {})
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=30)
    assert b"Traceback" not in out, out.decode()


def test_object_space_projector_shows_objects_and_selects_their_rows(
    page: Any, object_served: Served
) -> None:
    import numpy as np

    os_ = object_served
    spaces = {s["name"]: s for s in os_.api("/api/embeddings")["spaces"]}
    assert spaces["crops"]["level"] == "object"
    r = httpx.get(os_.url + "/api/embeddings/crops/projection", timeout=30)
    r.raise_for_status()
    assert r.headers["X-Level"] == "object"
    n = int(r.headers["X-Points"])
    rows = np.frombuffer(r.content, dtype="<i8", offset=16 * n, count=n)
    want = sorted({int(x) for x in rows})
    assert 1 < len(want) < n  # some rows hold several of the objects

    page.goto(f"{os_.url}/?run=det&view=projector&pcolor=gt&space=crops")
    count = page.get_by_test_id("point-count")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=point-count]')?.dataset.level === 'object'"
    )
    assert count.inner_text().startswith(f"{n} points")
    # one point per object, colored by its row's classes: the legend counts every object
    page.wait_for_selector("[data-testid=legend][data-color-by=gt] li")
    legend = page.get_by_test_id("legend").locator("li").all()
    assert sum(int(li.get_attribute("data-count")) for li in legend) == n

    # a box over the whole canvas (fit leaves a margin): every object, i.e. their rows once
    box = page.get_by_test_id("projector-canvas").bounding_box()
    page.get_by_test_id("mode-box").click()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 2, box["y"] + box["height"] - 2, steps=8)
    page.mouse.up()
    page.get_by_test_id("projector-selection").wait_for()
    assert page.get_by_test_id("projector-selection").inner_text().startswith(f"{len(want)} ")
    page.get_by_test_id("open-selection").click()
    assert _count(page) == len(want)
    _wait_for_ids(page, _api_order(os_, want))

    # find similar takes row anchors: with only an object space it is offered disabled
    page.locator("[data-testid=tile]").nth(0).get_by_test_id("tile-select").click()
    similar = page.get_by_test_id("find-similar")
    assert similar.is_disabled()
    assert "objects" in (similar.get_attribute("title") or "")


def _api_order(served: Served, ids: list[int]) -> list[int]:
    """The gallery's order of the rows ``ids`` (the API's default sort)."""
    got = served.ids("det", {"type": "ids", "ids": ids})
    assert sorted(got) == ids
    return got
