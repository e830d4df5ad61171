"""Workspaces in headless Chromium (issue 14), served by Voila as ``landslide-app app`` does.

One server over a root of CLI-made workspaces (``event``: an unlabelled store and a prediction;
``lab``: a trained DEM run), the Planetary Computer pointed at a closed loopback port (offline),
and the tiny demo catalog served over HTTP on loopback. In page order: opening the unlabelled
workspace (no true-class toggle), the before/after split map, an offline Planetary Computer request
(one message, at once), drawing an area over the served catalog with an uploaded inventory -> chips
-> respond with the other workspace's model -> map and exports, and a cancelled run. Screenshots go
to a temporary folder (``benchmarks/screenshots.py`` refreshes the README's).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium to run the browser tests", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="Python playwright is not installed")
pytest.importorskip("voila", reason="voila is not installed (pip install -e '.[app]')")

from test_browser import CHROMIUM_ARGS, _free_port, _stop, _wait_port  # noqa: E402 - after the skips

PATHS = ".leaflet-overlay-pane svg path.leaflet-interactive"


@pytest.fixture(scope="module")
def root(scene_dir: Path, dem_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from landslide_app.cli import main

    r = tmp_path_factory.mktemp("browser-workspaces")
    assert main(["-q", "chips", "--source", str(scene_dir / "catalog.json"), "--out", str(r / "event" / "chips")]) == 0
    shutil.copytree(dem_run, r / "lab" / "run-dem")
    assert (
        main(
            [
                "-q",
                "predict",
                "--model",
                str(r / "lab" / "run-dem"),
                "--chips",
                str(r / "event" / "chips"),
                "--out",
                str(r / "event" / "pred"),
            ]
        )
        == 0
    )
    return r


@pytest.fixture(scope="module")
def catalog_url(scene_dir: Path):
    from landslide_app.testing.range_server import RangeServer

    with RangeServer(scene_dir) as srv:
        yield f"{srv.url}/catalog.json"


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("workspace-screenshots")


@pytest.fixture(scope="module")
def server(root: Path):
    from landslide_app.dashboard.serve import notebook_path, voila_command

    port, offline = _free_port(), _free_port()  # nothing listens on `offline`: connections are refused
    env = {
        **os.environ,
        "LANDSLIDE_APP_DATA": str(root / "event"),
        "LANDSLIDE_APP_ROOT": str(root),
        "LANDSLIDE_APP_PC_STAC_URL": f"http://127.0.0.1:{offline}/api/stac/v1",
        "OMP_NUM_THREADS": "1",
    }
    proc = subprocess.Popen(
        voila_command(port, False),
        env=env,
        cwd=notebook_path().parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.fixture(scope="module")
def page(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            pg = browser.new_page(viewport={"width": 1500, "height": 1300})
            pg.goto(server + "/", timeout=120_000)
            pg.wait_for_selector(".ls-respond-view .leaflet-container", timeout=120_000)
            yield pg
        finally:
            browser.close()


def _tab(page, name: str) -> None:
    page.locator(".ls-respond-view .lm-TabBar-tab, .ls-respond-view .p-TabBar-tab", has_text=name).first.click()


def _bbox(page, bbox) -> None:
    for label, v in zip("WSEN", bbox):
        box = (
            page.locator(".ls-respond-view .widget-text")
            .filter(has=page.locator(f"label:text-is('{label}')"))
            .locator("input")
            .first
        )
        box.fill(str(v))
        box.press("Enter")


def _catalog_form(page, url: str) -> None:
    """Source: the served catalog; event 2017-09-20."""
    page.get_by_role("button", name="STAC catalog (path or URL)").click()
    src = page.locator(".ls-respond-view input[placeholder='STAC API URL, or catalog.json path / URL']")
    src.fill(url)
    src.press("Enter")
    page.locator(".ls-respond-view input[placeholder='YYYY-MM-DD']").fill("2017-09-20")
    page.locator(".ls-respond-view input[placeholder='YYYY-MM-DD']").press("Enter")


def test_opens_a_cli_workspace_without_labels(page, root: Path, shots: Path):
    from landslide_app.chips.store import ChipStore

    n = len(ChipStore.open(root / "event" / "chips").ids)
    page.wait_for_function(f"document.querySelectorAll('{PATHS}').length >= {2 * n}", timeout=60_000)  # chips + map
    body = page.inner_text("body")
    assert "event — event 2017-09-20" in body and "unlabelled (no inventory)" in body
    assert "Traceback" not in body and "Paper Table 2" not in body  # no labels: no analyst tables
    assert page.get_by_role("button", name="true", exact=True).count() == 0  # no true classes to show
    assert "km²" in page.inner_text(".ls-km2") and "dem-r1" in body
    page.locator(".ls-top-list select option").first.click()
    page.wait_for_selector("text=/Chip \\d+ · predicted class/", timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "respond.jpg"), type="jpeg", quality=80)


def test_split_map_before_after(page, shots: Path):
    _tab(page, "SAR change")
    page.locator(".ls-split-toggle input").check()
    page.wait_for_selector(".leaflet-sbs-divider", timeout=30_000)
    imgs = page.evaluate(
        "Array.from(document.querySelectorAll('.ls-respond-view .leaflet-image-layer')).map(e => e.src.slice(0, 30))"
    )
    assert len(imgs) == 2 and all(s.startswith("data:image/png") for s in imgs)
    assert "2017-09-16 (pre)" in page.inner_text("body") and "2017-09-22 (post)" in page.inner_text("body")
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "split.jpg"), type="jpeg", quality=80)
    page.locator(".ls-split-toggle input").uncheck()
    page.wait_for_selector(".leaflet-sbs-divider", state="detached", timeout=30_000)


def test_offline_planetary_computer_is_one_message(page):
    _tab(page, "New area")
    _bbox(page, (-67.28, 18.48, -67.24, 18.51))
    t = time.monotonic()
    page.locator(".ls-fetch").click()
    page.wait_for_selector(".ls-messages >> text=/cannot reach the Planetary Computer/", timeout=15_000)
    assert time.monotonic() - t < 15
    assert "looks offline" in page.inner_text(".ls-messages") and "Traceback" not in page.inner_text("body")


def test_draw_fetch_with_inventory_respond_and_export(page, root: Path, scene_dir: Path, catalog_url: str, shots: Path):
    _tab(page, "New area")
    page.locator(".ls-fit").click()  # the map back on the whole area (the inspector zoomed in)
    page.wait_for_timeout(1000)
    page.locator(".leaflet-draw-draw-rectangle").click()
    box = page.locator(".ls-respond-view .leaflet-container").bounding_box()
    x0, y0 = box["x"] + box["width"] * 0.42, box["y"] + box["height"] * 0.42  # the middle of the scene
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + box["width"] * 0.16, y0 + box["height"] * 0.16, steps=8)
    page.mouse.up()
    page.wait_for_function(
        """() => {
        const i = Array.from(document.querySelectorAll('.ls-respond-view .widget-text input'));
        const typed = [-67.28, 18.48, -67.24, 18.51];  // the offline test's box: all four must change
        return i.length >= 4 && typed.every((v, k) => Number(i[k].value) !== v); }""",
        timeout=30_000,
    )
    w, s, e, n = (
        float(v)
        for v in page.evaluate(
            "Array.from(document.querySelectorAll('.ls-respond-view .widget-text input')).slice(0, 4).map(e => e.value)"
        )
    )
    assert -68 < w < e < -67 and 18 < s < n < 19 and (e - w) > 0.01  # the drawn rectangle filled W S E N
    # where the drag lands depends on the map's pan after the earlier tests: fetch a box known to lie
    # inside the served scene (its SAR covers it fully)
    _bbox(page, (-67.265, 18.48, -67.225, 18.51))
    _catalog_form(page, catalog_url)
    with page.expect_file_chooser() as chooser:  # the upload button opens the browser's file dialog
        page.locator(".ls-inventory").click()
    chooser.value.set_files(str(scene_dir / "inventory.gpkg"))
    page.wait_for_selector(".ls-inventory >> text=/\\(1\\)/", timeout=30_000)  # "Inventory (optional) (1)"
    name = (
        page.locator(".ls-respond-view .widget-text")
        .filter(has=page.locator("label:text-is('Workspace')"))
        .locator("input")
    )
    name.fill("drawn")
    name.press("Enter")
    page.wait_for_timeout(300)
    page.locator(".ls-fetch").click()
    page.wait_for_selector(".ls-messages >> text=/Chips of drawn built|failed|error/i", timeout=180_000)
    assert "Chips of drawn built" in page.inner_text(".ls-messages"), page.inner_text(".ls-run-list")
    ws = root / "drawn"
    from landslide_app.chips.store import ChipStore

    store = ChipStore.open(ws / "chips")
    assert store.meta.labelled and len(store.ids) > 0  # the uploaded inventory labelled it
    assert "drawn — event 2017-09-20" in page.inner_text(".ls-title")
    _tab(page, "Respond")
    page.locator(".ls-apply").click()
    page.wait_for_selector(".ls-messages >> text=/Prediction finished/", timeout=180_000)
    page.wait_for_function(f"document.querySelectorAll('{PATHS}').length >= {2 * len(store.ids)}", timeout=30_000)
    assert "km²" in page.inner_text(".ls-km2") and "map.png" in page.inner_text(".ls-files")
    out = ws / "predictions" / "lab-run-dem-training"
    assert all((out / f).exists() for f in ("density.tif", "chips.gpkg", "map.png", "summary.json"))
    page.get_by_role("button", name="p(class 2)").click()
    page.wait_for_selector("text=/p\\(class 2\\) 0.8/", timeout=30_000)  # the choropleth's legend
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "fetch-respond.jpg"), type="jpeg", quality=80)


def test_a_cancelled_run(page, root: Path, catalog_url: str):
    _tab(page, "New area")
    _catalog_form(page, catalog_url)
    name = (
        page.locator(".ls-respond-view .widget-text")
        .filter(has=page.locator("label:text-is('Workspace')"))
        .locator("input")
    )
    name.fill("cancelled")
    name.press("Enter")
    page.wait_for_timeout(300)
    page.locator(".ls-fetch").click()
    page.wait_for_selector(".ls-cancel:not([disabled])", timeout=30_000)
    page.locator(".ls-cancel").click()
    page.wait_for_selector(".ls-run-list >> text=cancelled", timeout=30_000)
    assert "cancelled" in page.inner_text(".ls-run-status")
    store = root / "cancelled" / "chips"
    if (store / "store.json").exists():  # cancelled after the build had started: an incomplete store, resumable
        from landslide_app.chips.meta import StoreMeta

        assert not StoreMeta.read(store).complete
