"""The served dashboard in headless Chromium: Voila with the same command line as ``landslide-app app``.

Checks that the page renders the map and the chip layer, that switching the inputs changes the
map, that clicking a chip opens the inspector, and that the Jupyter API and the notebook source
are not reachable. Saves ``map.jpg`` and ``inspector.jpg`` under the session's temporary folder
(never into the repository: ``benchmarks/bench_dashboard.py --screenshots`` refreshes the
README's pictures).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser_support import chromium_page, skip_without_browser, voila_server

pytestmark = pytest.mark.browser
skip_without_browser()

CHIP_PATHS = ".leaflet-overlay-pane svg path.leaflet-interactive"


@pytest.fixture(scope="module")
def app_dir(scene_dir, tiny_store, tmp_path_factory) -> Path:
    """The tiny scene and store with the default configuration computed (1 epoch); the same
    directory as tests/test_dashboard.py uses, so one pytest session trains it once."""
    from landslide_app.testing.datadir import link_data_dir

    return link_data_dir(tmp_path_factory.getbasetemp() / "dashboard-data", scene_dir, tiny_store, epochs=1).root


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where the screenshots go: a temporary folder."""
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def server(app_dir):
    with voila_server({"LANDSLIDE_APP_DATA": str(app_dir)}) as url:
        yield url


@pytest.fixture(scope="module")
def page(server, app_dir):
    with chromium_page(server + "/", {"width": 1500, "height": 1250}, ".leaflet-container") as (pg, resp):
        pg.raw_html = resp.text() if resp is not None else ""
        yield pg


def _n_chips(app_dir: Path) -> int:
    from landslide_app.chips.store import ChipStore

    return len(ChipStore.open(app_dir / "chips").ids)


def _map_state(page) -> dict:
    return page.evaluate(
        """() => ({
            imgs: Array.from(document.querySelectorAll('.leaflet-image-layer')).map(e => e.src),
            fills: Array.from(document.querySelectorAll('.leaflet-overlay-pane svg path.leaflet-interactive'))
                        .map(e => e.getAttribute('fill')),
        })"""
    )


def test_page_renders_map_and_chip_layer(page, app_dir, shots):
    n = _n_chips(app_dir)
    page.wait_for_function(f"document.querySelectorAll('{CHIP_PATHS}').length >= {n}", timeout=60_000)
    assert page.locator(".leaflet-container").count() == 1
    st = _map_state(page)
    assert len(st["imgs"]) >= 2 and all(s.startswith("data:image/png") for s in st["imgs"])  # hillshade + embedding
    assert page.locator(".leaflet-heatmap-layer").count() == 0  # the heads are off by default (they hide classes)
    page.locator(".ls-show-heads input").check()
    page.wait_for_selector(".leaflet-heatmap-layer", timeout=30_000)
    assert page.locator(".leaflet-heatmap-layer").count() == 1  # the heads: one canvas
    page.locator(".ls-show-heads input").uncheck()
    body = page.inner_text("body")
    assert "Landslide density" in body and "Paper Table 2" in body
    assert "Traceback" not in body
    for html in (page.content(), page.raw_html):  # the notebook's code is stripped from the page
        assert "build_app(" not in html and "LANDSLIDE_APP_DATA" not in html
    page.wait_for_timeout(800)  # let the overlays paint
    page.screenshot(path=str(shots / "map.jpg"), type="jpeg", quality=80, full_page=False)
    assert (shots / "map.jpg").stat().st_size > 10_000


def test_switching_inputs_changes_map(page):
    before = _map_state(page)
    page.get_by_role("button", name="DEM only").click()
    page.wait_for_function(
        """(before) => {
            const imgs = Array.from(document.querySelectorAll('.leaflet-image-layer')).map(e => e.src);
            return JSON.stringify(imgs) !== JSON.stringify(before);
        }""",
        arg=before["imgs"],
        timeout=30_000,
    )
    after = _map_state(page)
    assert after["imgs"] != before["imgs"]
    assert "dem-r" in page.inner_text("body")
    page.get_by_role("button", name="fused").click()  # back to the computed default
    page.wait_for_function(
        "(before) => JSON.stringify(Array.from(document.querySelectorAll('.leaflet-image-layer')).map(e => e.src)) "
        "=== JSON.stringify(before)",
        arg=before["imgs"],
        timeout=30_000,
    )


def test_clicking_a_chip_opens_the_inspector(page, app_dir, shots):
    from landslide_app.chips.store import ChipStore

    k = int(ChipStore.open(app_dir / "chips").index["head_count"].to_numpy().argmax())  # paths follow chip ids
    page.locator(CHIP_PATHS).nth(k).click(force=True)
    page.wait_for_selector("text=/Chip \\d+ \\(row/", timeout=60_000)
    page.wait_for_function(
        "Array.from(document.querySelectorAll('img')).some(i => i.naturalWidth > 900 && i.src.startsWith('blob:'))",
        timeout=30_000,
    )
    body = page.inner_text("body")
    assert "true class" in body and "predicted" in body and "Traceback" not in body
    page.set_viewport_size({"width": 1500, "height": 2000})  # the map, the selected chip and the inspector
    page.wait_for_timeout(500)
    page.screenshot(path=str(shots / "inspector.jpg"), type="jpeg", quality=80)
    assert (shots / "inspector.jpg").stat().st_size > 10_000
    page.set_viewport_size({"width": 1500, "height": 1250})


@pytest.mark.parametrize(
    "path",
    [
        "/api/contents",
        "/api/kernels",
        "/api/sessions",
        "/api/terminals",
        "/api/kernelspecs",
        "/tree",
        "/lab",
        "/notebooks/app.ipynb",
        "/files/app.ipynb",
        "/voila/files/app.ipynb",
        "/api/contents/app.ipynb",
    ],
)
def test_jupyter_api_and_sources_are_closed(server, path):
    req = urllib.request.Request(server + path, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:  # follows redirects
            status, body, final = r.status, r.read().decode(errors="replace"), r.url
    except urllib.error.HTTPError as e:
        status, body, final = e.code, e.read().decode(errors="replace"), e.url
    assert status in (403, 404) or status < 400, status
    if status == 200:
        assert not final.rstrip("/").endswith(path.rstrip("/")) or path == "/", final
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    assert not isinstance(data, list), f"{path} returned a JSON listing"
    assert not (isinstance(data, dict) and ({"content", "cells"} & set(data))), f"{path} returned a listing or notebook"
    assert "build_app(" not in body and "landslide_app.dashboard import" not in body
