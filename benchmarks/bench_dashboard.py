"""Dashboard figures: configuration switch time (server side and in the browser) and first render.

Usage: ``python benchmarks/bench_dashboard.py [--data data/demo] [--switches 12] [--loads 3]
[--heads 70000] [--no-browser] [--screenshots]``. Needs a data directory prepared by
``landslide-app demo`` (if it holds a single computed configuration, ``dem-r1`` is computed with
one epoch so that there is something to switch to). Prints the figures and writes them under
``"dashboard"`` in ``benchmarks/results.json``.

* ``switch_server_s``: median time, in the kernel, from setting the inputs/revisits widgets to a
  computed configuration until the map layers (chip styles, embedding overlay, legend) hold the
  new values, plus the JSON encoding of the changed layer state that the kernel then sends.
  ``switch_callback_s`` is the whole callback (the results table, ROC and confusion too).
* ``switch_browser_s``: median time in Chromium from clicking an inputs button to the embedding
  overlay showing the new image.
* ``first_render_s``: median time from navigation start to the chip layer drawn (every chip's
  SVG path present), through Voila (kernel start, notebook run, widget rendering).
* ``first_render_heads_s``: the same with ``--heads`` synthetic landslide heads (default 70,000,
  the size of the USGS inventory) in the heatmap.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import report

from landslide_app.dashboard.app import Dashboard
from landslide_app.experiments.ablation import RunSpec
from landslide_app.experiments.workspace_layout import WorkspaceLayout
from landslide_app.testing.chromium import CHROMIUM, CHROMIUM_ARGS

log = logging.getLogger("bench_dashboard")
SCREENSHOTS = Path(__file__).resolve().parents[1] / "docs" / "screenshots"
CHIP_PATHS = ".leaflet-overlay-pane svg path.leaflet-interactive"


def _state_bytes(d: Dashboard) -> int:
    """JSON-encode the layer state a switch changes (what the kernel sends to the page)."""
    n = len(json.dumps(d.chip_layer.get_state(["data"])))
    n += len(json.dumps(d.emb_layer.get_state(["url", "bounds"])))
    return n


def server_switch(data: Path, switches: int) -> dict:
    d = Dashboard(data, warm=False, autostart=False)
    if d.state is None:
        raise SystemExit(f"the dashboard could not open {data}: {d.msg.value}")
    specs = d.state.computed_specs()
    if len(specs) < 2:
        log.info("only %d computed configuration(s): computing dem-r1 (1 epoch) to switch to", len(specs))
        d.state.run(RunSpec("dem", 1), epochs=1)
        specs = d.state.computed_specs()
    specs = [s for s in specs if s.inputs != "dem" or s.revisits == 1]
    t = time.perf_counter()
    d.state.warm(specs)
    warm_s = time.perf_counter() - t
    map_times, callback_times, sizes = [], [], []
    for n in range(switches):
        spec = specs[(n + 1) % len(specs)]
        t = time.perf_counter()
        with d.inputs.hold_trait_notifications(), d.revisits.hold_trait_notifications():
            d.revisits.value = spec.revisits
            d.inputs.value = spec.inputs
        d._on_selection()  # one switch = one refresh (held notifications may fire twice)
        cb = time.perf_counter() - t
        assert d.spec.key == spec.key and d.view.computed, (d.spec.key, spec.key)
        t = time.perf_counter()
        sizes.append(_state_bytes(d))
        enc = time.perf_counter() - t
        map_times.append(d.timings["map_s"] + enc)
        callback_times.append(cb + enc)
    return {
        "switch_server_s": round(statistics.median(map_times), 4),
        "switch_callback_s": round(statistics.median(callback_times), 4),
        "switch_state_kib": round(statistics.median(sizes) / 1024, 1),
        "warm_views_s": round(warm_s, 2),
        "n_configurations": len(specs),
        "n_chips": int(len(d.state.ids)),
        "switches": switches,
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Voila:
    """``landslide-app app`` 's Voila command on a free port, stopped (with its kernels) on exit."""

    def __init__(self, data: Path) -> None:
        from landslide_app.dashboard.serve import notebook_path, voila_command

        self.port = _free_port()
        env = {**os.environ, "LANDSLIDE_APP_DATA": str(data)}
        self.proc = subprocess.Popen(
            voila_command(self.port, False),
            env=env,
            cwd=notebook_path().parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        end = time.monotonic() + 90
        while time.monotonic() < end:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            time.sleep(0.2)
        self.url = f"http://127.0.0.1:{self.port}/"

    def __enter__(self) -> Voila:
        return self

    def __exit__(self, *exc) -> None:
        kids = []
        try:
            import psutil

            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except Exception:  # noqa: BLE001
            pass
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for k in kids:
            try:
                k.kill()
            except Exception:  # noqa: BLE001
                pass


def _first_render(browser, url: str, n_chips: int) -> float:
    page = browser.new_page(viewport={"width": 1500, "height": 1250})
    try:
        page.goto(url, timeout=180_000)
        page.wait_for_function(f"document.querySelectorAll('{CHIP_PATHS}').length >= {n_chips}", timeout=180_000)
        return page.evaluate("performance.now()") / 1000.0
    finally:
        page.close()


def browser_figures(data: Path, loads: int, heads: int, screenshots: bool) -> dict:
    from playwright.sync_api import sync_playwright

    from landslide_app.chips.store import ChipStore

    n_chips = len(ChipStore.open(WorkspaceLayout(data).chips).ids)
    out: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            with Voila(data) as v:
                firsts = [_first_render(browser, v.url, n_chips) for _ in range(loads)]
                out["first_render_s"] = round(statistics.median(firsts), 2)
                out["first_render_runs_s"] = [round(x, 2) for x in firsts]
                page = browser.new_page(viewport={"width": 1500, "height": 1250})
                page.goto(v.url, timeout=180_000)
                page.wait_for_function(
                    f"document.querySelectorAll('{CHIP_PATHS}').length >= {n_chips}", timeout=180_000
                )
                page.wait_for_timeout(1500)
                if screenshots:
                    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SCREENSHOTS / "demo-map.jpg"), type="jpeg", quality=80)
                times = []
                for name in ["DEM only", "fused"] * 3:
                    before = page.evaluate(
                        "Array.from(document.querySelectorAll('.leaflet-image-layer')).map(e => e.src).join('|')"
                    )
                    t = time.perf_counter()
                    page.get_by_role("button", name=name).click()
                    page.wait_for_function(
                        "(b) => Array.from(document.querySelectorAll('.leaflet-image-layer'))"
                        ".map(e => e.src).join('|') !== b",
                        arg=before,
                        timeout=30_000,
                    )
                    times.append(time.perf_counter() - t)
                out["switch_browser_s"] = round(statistics.median(times), 3)
                if screenshots:
                    k = int(ChipStore.open(WorkspaceLayout(data).chips).index["head_count"].to_numpy().argmax())
                    page.locator(CHIP_PATHS).nth(k).click(force=True)  # paths follow chip ids
                    page.wait_for_selector("text=/Chip \\d+ \\(row/", timeout=60_000)
                    page.set_viewport_size({"width": 1500, "height": 2000})
                    page.wait_for_timeout(1000)
                    page.screenshot(path=str(SCREENSHOTS / "demo-inspector.jpg"), type="jpeg", quality=80)
                page.close()
            if heads:
                with tempfile.TemporaryDirectory(prefix="bench_dash_heads_") as tmp:
                    big = _with_synthetic_heads(data, Path(tmp), heads)
                    with Voila(big) as v:
                        out["first_render_heads_s"] = round(_first_render(browser, v.url, n_chips), 2)
                        out["heads"] = heads
        finally:
            browser.close()
    return out


def _with_synthetic_heads(data: Path, tmp: Path, n: int) -> Path:
    """A copy of the data directory (links) whose inventory holds ``n`` random heads on the chips."""
    import geopandas as gpd
    import numpy as np

    src = WorkspaceLayout(data)
    dst = WorkspaceLayout(tmp / "data")
    (dst.scene / "dem").mkdir(parents=True)
    dst.dem.symlink_to(src.dem.resolve())
    dst.chips.symlink_to(src.chips.resolve(), target_is_directory=True)
    dst.ablation.symlink_to(src.ablation.resolve(), target_is_directory=True)
    idx = gpd.read_file(src.chips / "index.gpkg", layer="chips")
    rng = np.random.default_rng(0)
    pick = idx.iloc[rng.integers(0, len(idx), n)]
    b = pick.geometry.bounds.to_numpy()
    x = b[:, 0] + rng.random(n) * (b[:, 2] - b[:, 0])
    y = b[:, 1] + rng.random(n) * (b[:, 3] - b[:, 1])
    gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=idx.crs).to_file(dst.inventory, driver="GPKG")
    return dst.root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path("data/demo"))
    ap.add_argument("--switches", type=int, default=12)
    ap.add_argument("--loads", type=int, default=3)
    ap.add_argument("--heads", type=int, default=70_000, help="synthetic heads for the heatmap check (0: skip)")
    ap.add_argument("--no-browser", action="store_true")
    ap.add_argument("--screenshots", action="store_true", help="also write docs/screenshots/demo-*.png")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("landslide_app").setLevel(logging.WARNING)
    data = a.data.resolve()
    figures = {"data": str(a.data), **server_switch(data, a.switches)}
    if not a.no_browser:
        if not Path(CHROMIUM).exists() or not _has_voila():
            log.info("no %s or voila: browser figures skipped", CHROMIUM)
        else:
            figures.update(browser_figures(data, a.loads, a.heads, a.screenshots))
    report("dashboard", figures)


def _has_voila() -> bool:
    try:
        import voila  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
