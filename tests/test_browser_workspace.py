"""Workspaces in headless Chromium (issue 14), served by Voila as ``landslide-app app`` does.

One server over a root of CLI-made workspaces (``event``: an unlabelled store and a prediction;
``lab``: a trained DEM run and a SAR chip-statistics run), the Planetary Computer pointed at a closed
loopback port (offline), and the tiny demo catalog served over HTTP on loopback. In page order: opening the unlabelled
workspace (no true-class toggle), the before/after split map, an offline Planetary Computer request
(one message, at once), drawing an area over the served catalog with an uploaded inventory -> chips
-> respond with the other workspace's models (the network run, then the statistics run picked in the
Model list) -> map and exports -> a model trained in the page on the drawn chips, and a cancelled run. Screenshots go
to a temporary folder (``benchmarks/screenshots.py`` refreshes the README's).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import pytest
from browser_support import chromium_page, free_port, skip_without_browser, voila_server

pytestmark = pytest.mark.browser
skip_without_browser()

PATHS = ".leaflet-overlay-pane svg path.leaflet-interactive"
#: The outline colour of the area's chips before any prediction (``NO_CLASS_STYLE`` of the page):
#: where they are drawn ties page pixels to lon/lat.
CHIP_STROKE = "#37474f"
#: The rectangle drawn with the mouse: the middle of the part of the area the map shows, this
#: fraction of it cut off each side (inside the served scene, a few chips, not all of them).
INSET = 0.3
#: How far (page pixels) a drawn edge may land from the one aimed at: Leaflet rounds to pixels.
TOL_PX = 2.5
#: How far (page pixels) "Zoom to the area" may put the middle of the area's box from the middle of
#: the visible map, across and down (a map that Leaflet measured taller than shown put it ~170 px low).
CENTRE_TOL_PX = 30


@pytest.fixture(scope="module")
def root(scene_dir: Path, dem_run: Path, tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from landslide_app.cli import main

    r = tmp_path_factory.mktemp("browser-workspaces")
    assert main(["-q", "chips", "--source", str(scene_dir / "catalog.json"), "--out", str(r / "event" / "chips")]) == 0
    shutil.copytree(dem_run, r / "lab" / "run-dem")
    stats = ["-q", "train", "--model", "sar-stats", "--chips", str(tiny_store), "--revisits", "1"]
    assert main([*stats, "--out", str(r / "lab" / "run-stats")]) == 0
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
    offline = free_port()  # nothing listens on `offline`: connections are refused
    env = {
        "LANDSLIDE_APP_DATA": str(root / "event"),
        "LANDSLIDE_APP_ROOT": str(root),
        "LANDSLIDE_APP_PC_STAC_URL": f"http://127.0.0.1:{offline}/api/stac/v1",
        "OMP_NUM_THREADS": "1",
    }
    with voila_server(env) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    viewport = {"width": 1500, "height": 1300}
    with chromium_page(server + "/", viewport, ".ls-respond-view .leaflet-container") as (pg, _):
        yield pg


def _tab(page, name: str) -> None:
    page.locator(".ls-respond-view .lm-TabBar-tab, .ls-respond-view .p-TabBar-tab", has_text=name).first.click()


def _field(page, label: str):
    """The input of the page's text field labelled ``label``."""
    return (
        page.locator(".ls-respond-view .widget-text")
        .filter(has=page.locator(f"label:text-is('{label}')"))
        .locator("input")
        .first
    )


def _type(page, label: str, value) -> None:
    box = _field(page, label)
    box.fill(str(value))
    box.press("Enter")


def _bbox(page, bbox) -> None:
    for label, v in zip("WSEN", bbox):
        _type(page, label, v)


def _merc_y(lat: float) -> float:
    return math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))


class ScreenMap:
    """Lon/lat <-> page pixels of the map, from the page rectangle the area's chips are drawn in and
    their lon/lat bounds (web Mercator: x is linear in longitude, y in Mercator y)."""

    def __init__(self, lonlat: tuple[float, float, float, float], px: tuple[float, float, float, float]) -> None:
        self.lonlat, self.px = lonlat, px

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        (w, s, e, n), (left, top, right, bottom) = self.lonlat, self.px
        x = left + (lon - w) / (e - w) * (right - left)
        y = top + (_merc_y(n) - _merc_y(lat)) / (_merc_y(n) - _merc_y(s)) * (bottom - top)
        return x, y

    def lonlat_of(self, x: float, y: float) -> tuple[float, float]:
        (w, s, e, n), (left, top, right, bottom) = self.lonlat, self.px
        lon = w + (x - left) / (right - left) * (e - w)
        my = _merc_y(n) - (y - top) / (bottom - top) * (_merc_y(n) - _merc_y(s))
        return lon, math.degrees(2 * math.atan(math.exp(my)) - math.pi / 2)

    def deg_per_px(self) -> tuple[float, float]:
        """Degrees of longitude and latitude a page pixel spans (over the chips)."""
        (w, s, e, n), (left, top, right, bottom) = self.lonlat, self.px
        return (e - w) / (right - left), (n - s) / (bottom - top)


def _chip_rects(page) -> list[list[float]]:
    return page.evaluate(
        """([sel, stroke]) => Array.from(document.querySelectorAll(sel))
            .filter(e => e.getAttribute('stroke') === stroke)
            .map(e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; })""",
        [PATHS, CHIP_STROKE],
    )


def _map_rect(page) -> tuple[float, float, float, float]:
    m = page.locator(".ls-respond-view .leaflet-container").bounding_box()
    return m["x"], m["y"], m["x"] + m["width"], m["y"] + m["height"]


def _screen_map(page, workspace: Path) -> ScreenMap:
    """Where the chips of ``workspace`` lie on the page once the map has zoomed to the area and
    stopped moving, with the middle of the area's box in the middle of the visible map (across and
    down, within ``CENTRE_TOL_PX``); fails with the last offsets seen when it never gets there."""
    from landslide_app.chips.store import ChipStore
    from landslide_app.experiments.workspace import Workspace

    ws = Workspace.load(workspace)
    area_w, area_s, area_e, area_n = (ws.main_store() or {}).get("bbox_lonlat") or ws.area["bbox_lonlat"]
    index = ChipStore.open(ws.path(ws.main_store())).index
    w, s, e, n = (float(v) for v in index.to_crs("EPSG:4326").total_bounds)
    mx0, my0, mx1, my1 = _map_rect(page)
    last: tuple[float, ...] | None = None
    offset: tuple[float, float] | None = None
    end = time.monotonic() + 60
    while time.monotonic() < end:
        rects = _chip_rects(page)
        now = None
        if len(rects) == len(index):
            now = (
                min(r[0] for r in rects),
                min(r[1] for r in rects),
                max(r[2] for r in rects),
                max(r[3] for r in rects),
            )
        if now is not None and now == last:  # the map stopped moving
            mx0, my0, mx1, my1 = _map_rect(page)
            screen = ScreenMap((w, s, e, n), now)
            x, y = screen.xy((area_w + area_e) / 2, (area_s + area_n) / 2)  # fit_bounds centres on the mean lat
            offset = (x - (mx0 + mx1) / 2, y - (my0 + my1) / 2)
            if max(abs(d) for d in offset) <= CENTRE_TOL_PX:
                return screen
        last = now
        page.wait_for_timeout(500)
    raise AssertionError(
        f"the middle of the area is not in the middle of the map {(mx0, my0, mx1, my1)}: offset (x, y) "
        f"{offset} px (tolerance {CENTRE_TOL_PX} px), the {len(index)} chips at {last}"
    )


def _bbox_values(page) -> list[float]:
    """W S E N as the page's fields hold them."""
    return [float(_field(page, label).input_value()) for label in "WSEN"]


def _draw_rectangle(page, screen: ScreenMap) -> tuple[tuple[float, ...], list[float]]:
    """Draw a rectangle with the DrawControl's rectangle tool (mouse down on its north-west corner,
    up on its south-east one) in the middle of the area's visible part; the W S E N it covers and the
    W S E N the page's fields then hold."""
    mx0, my0, mx1, my1 = _map_rect(page)
    left, top, right, bottom = screen.px
    left, top, right, bottom = max(left, mx0), max(top, my0), min(right, mx1), min(bottom, my1)
    x0, x1 = left + INSET * (right - left), right - INSET * (right - left)
    y0, y1 = top + INSET * (bottom - top), bottom - INSET * (bottom - top)
    (w, n), (e, s) = screen.lonlat_of(x0, y0), screen.lonlat_of(x1, y1)
    page.locator(".ls-respond-view .leaflet-draw-draw-rectangle").click()
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x1, y1, steps=8)
    page.mouse.up()
    dx, dy = (TOL_PX * d for d in screen.deg_per_px())
    aimed, tol = (w, s, e, n), (dx, dy, dx, dy)
    values: list[float] = []
    end = time.monotonic() + 30
    while time.monotonic() < end:
        values = _bbox_values(page)
        if all(abs(v - t) <= d for v, t, d in zip(values, aimed, tol)):
            break
        page.wait_for_timeout(300)
    for label, v, t, d in zip("WSEN", values, aimed, tol):  # the drawn edges reached the fields
        assert abs(v - t) <= d, f"{label} = {v}, drew {t} (tolerance {d:.5f} deg, {TOL_PX} px)"
    return aimed, values


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
    from landslide_app.chips.store import ChipStore
    from landslide_app.experiments.workspace import Workspace

    _tab(page, "New area")
    page.locator(".ls-fit").click()  # the map back on the whole area (the inspector zoomed in)
    screen = _screen_map(page, root / "event")
    aimed, drawn = _draw_rectangle(page, screen)
    w, s, e, n = screen.lonlat
    assert w < aimed[0] < aimed[2] < e and s < aimed[1] < aimed[3] < n  # inside the served scene
    _catalog_form(page, catalog_url)
    with page.expect_file_chooser() as chooser:  # the upload button opens the browser's file dialog
        page.locator(".ls-inventory").click()
    chooser.value.set_files(str(scene_dir / "inventory.gpkg"))
    page.wait_for_selector(".ls-inventory >> text=/\\(1\\)/", timeout=30_000)  # "Inventory (optional) (1)"
    _type(page, "Workspace", "drawn")
    page.wait_for_timeout(300)
    page.locator(".ls-fetch").click()
    page.wait_for_selector(".ls-messages >> text=/Chips of drawn built|failed|error/i", timeout=180_000)
    assert "Chips of drawn built" in page.inner_text(".ls-messages"), page.inner_text(".ls-run-list")
    ws = root / "drawn"
    assert Workspace.load(ws).area["bbox_lonlat"] == pytest.approx(drawn, abs=1e-9)  # the drawn box, as sent
    store = ChipStore.open(ws / "chips")
    assert store.meta.labelled and len(store.ids) > 0  # the uploaded inventory labelled it
    w, s, e, n = drawn
    for cw, cs, ce, cn in store.index.to_crs("EPSG:4326").geometry.bounds.to_numpy():  # chips of the drawn box
        assert cw < e and ce > w and cs < n and cn > s, (cw, cs, ce, cn, drawn)
    assert len(store.ids) < len(ChipStore.open(root / "event" / "chips").ids)  # not the whole scene
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
    # the other kind of run, a SAR chip-statistics forest, through the same picker and Apply
    picker = page.locator(".ls-respond-view .widget-dropdown").filter(has=page.locator("label:text-is('Model')"))
    label = picker.locator("option", has_text="sar-stats-r1").first.inner_text()
    picker.locator("select").select_option(label=label)
    page.wait_for_timeout(300)
    page.locator(".ls-apply").click()
    stats_out = ws / "predictions" / "lab-run-stats-training"
    deadline = time.monotonic() + 180
    while not (stats_out / "summary.json").exists() and time.monotonic() < deadline:
        page.wait_for_timeout(500)  # summary.json is written last: the prediction is finished
    page.wait_for_selector(".ls-messages >> text=/Prediction finished/", timeout=30_000)
    assert "failed" not in page.inner_text(".ls-run-list").lower(), page.inner_text(".ls-run-list")
    assert all((stats_out / f).exists() for f in ("density.tif", "chips.gpkg", "map.png", "summary.json"))
    assert json.loads((stats_out / "summary.json").read_text())["model"]["kind"] == "sar_stats"
    # a model trained in the page on the drawn area's labelled chips, then listed and picked under Respond
    _tab(page, "Train")
    page.get_by_role("button", name="SAR statistics").click()
    page.wait_for_timeout(300)
    page.screenshot(path=str(shots / "train.jpg"), type="jpeg", quality=80)
    page.locator(".ls-train").click()
    page.wait_for_selector(".ls-messages >> text=/Trained models|failed|error/i", timeout=180_000)
    assert "Trained models/sar-stats-r3" in page.inner_text(".ls-messages"), page.inner_text(".ls-run-list")
    assert json.loads((ws / "models" / "sar-stats-r3" / "run.json").read_text())["kind"] == "sar_stats"
    picked = picker.locator("select").evaluate("s => s.options[s.selectedIndex].text").replace("\xa0", " ")
    assert picked.startswith("sar-stats-r3 (drawn: sar-stats-r3"), picked


def test_a_cancelled_run(page, root: Path, catalog_url: str):
    _tab(page, "New area")
    _catalog_form(page, catalog_url)
    _type(page, "Workspace", "cancelled")
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
