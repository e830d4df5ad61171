"""Chip building against reading the same COG bytes alone, in the same run.

Usage: ``python benchmarks/bench_chips.py [--scene DIR] [--repeats 3] [--distributed]`` (without
``--scene`` the demo scene is generated in a temporary directory). Writes the ``"chips"`` section of
``benchmarks/results.json``.

Each repeat runs, each in a fresh process (no GDAL block cache shared between them), in
alternating order:

* ``read_windows``: rasterio reads every window the build reads: for each chip row, the DEM strip
  with its one-pixel halo and the VV and VH strip of every SAR acquisition (float32, decoded);
* ``read_tiles``: rasterio reads every COG whole (every tile decoded once);
* ``build``: :func:`landslide_app.chips.build.build_chips` into a new store, with the busy time of
  its parts (DEM and SAR strip reads, terrain, chunk writes, done-marker writes, finalising; they
  run on several threads and overlap);
* ``build_distributed`` (``--distributed``): ``landslide-app chips --scheduler local``.

``build_vs_read`` is the build's wall time over ``read_windows``' in the same repeat (median over
repeats); the target is <= 2. The load average is recorded with each repeat.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from common import cli, load_average, report, run_measured, time_calls

log = logging.getLogger("bench_chips")
HERE = Path(__file__).resolve().parent


def _windows(scene: Path):
    """(path, window, boundless) of every strip the build reads."""
    import rasterio
    from rasterio.windows import Window, from_bounds

    from landslide_app.chips.build import default_grid
    from landslide_app.config import CHIP_SIZE
    from landslide_app.sources.loader import DEM_HALO
    from landslide_app.sources.stac import open_local_catalog

    source = open_local_catalog(scene / "catalog.json")
    grid = default_grid(source, CHIP_SIZE)
    s, h, res = grid.chip_size, DEM_HALO, grid.resolution
    left, bottom, right, top = grid.bounds
    files = [(i["assets"][source.dem_asset]["href"], h) for i in source.dem_items]
    files += [(i["assets"][b]["href"], 0) for _, items in source.sar_days for i in items for b in ("vv", "vh")]
    out = []
    for href, halo in files:
        with rasterio.open(href) as ds:
            for row in range(grid.n_rows):
                y1 = top - row * s * res + halo * res
                y0 = top - (row + 1) * s * res - halo * res
                w = from_bounds(left - halo * res, y0, right + halo * res, y1, ds.transform)
                out.append((href, Window(round(w.col_off), round(w.row_off), round(w.width), round(w.height))))
    return out


def child_read(scene: str, mode: str) -> dict[str, Any]:
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    scene_p = Path(scene)
    t0 = time.perf_counter()
    nbytes = 0
    if mode == "windows":
        wins = _windows(scene_p)
        t0 = time.perf_counter()
        by_file: dict[str, list] = {}
        for href, w in wins:
            by_file.setdefault(href, []).append(w)
        for href, ws in by_file.items():
            with rasterio.open(href) as ds:  # one open dataset per file: GDAL's block cache decodes each tile once
                for w in ws:
                    out = np.full((w.height, w.width), np.nan, np.float32)
                    r0, c0 = max(w.row_off, 0), max(w.col_off, 0)
                    r1, c1 = min(w.row_off + w.height, ds.height), min(w.col_off + w.width, ds.width)
                    if r0 < r1 and c0 < c1:  # the part inside the raster (the halo may stick out)
                        out[r0 - w.row_off : r1 - w.row_off, c0 - w.col_off : c1 - w.col_off] = ds.read(
                            1, window=Window(c0, r0, c1 - c0, r1 - r0)
                        )
                    nbytes += out.nbytes
    else:
        files = sorted(str(p) for p in (scene_p / "sar").glob("*.tif")) + sorted(
            str(p) for p in (scene_p / "dem").glob("*.tif")
        )
        for f in files:
            with rasterio.open(f) as ds:
                nbytes += ds.read(1).nbytes
    return {"seconds": time.perf_counter() - t0, "decoded_mb": round(nbytes / 2**20, 1)}


def child_build(scene: str, out: str) -> dict[str, Any]:
    """build_chips with cumulative timers around its parts."""
    import landslide_app.chips.build as build
    import landslide_app.chips.rows as rows
    import landslide_app.chips.store as store_mod
    from landslide_app.sources import loader
    from landslide_app.sources.stac import open_local_catalog

    timers: dict[str, float] = {}

    def timed(owner: Any, name: str, label: str) -> None:
        time_calls(owner, name, label, timers)

    timed(loader.GridReader, "read_dem_row", "read_dem")
    timed(loader.GridReader, "read_sar_row", "read_sar")
    timed(rows, "terrain_stack", "terrain")
    timed(store_mod.ChipStore, "write_chip_data", "write_chunks")
    timed(store_mod.ChipStore, "write_markers", "write_markers")
    timed(store_mod.ChipStore, "finalize", "finalize")
    t0 = time.perf_counter()
    rep = build.build_chips(
        open_local_catalog(Path(scene) / "catalog.json"), Path(scene) / "inventory.gpkg", out, progress=False
    )
    seconds = time.perf_counter() - t0
    return {
        "seconds": seconds,
        "n_built": rep.n_built,
        "n_dropped": rep.n_dropped,
        "breakdown_s": {k: round(v, 2) for k, v in timers.items()},
    }


CHILDREN = {"read": child_read, "build": child_build}


def _child(name: str, **kw: Any) -> dict[str, Any]:
    r = run_measured([sys.executable, str(Path(__file__).resolve()), "--child", name, json.dumps(kw)], cwd=HERE)
    res = json.loads(r["stdout"].strip().splitlines()[-1])
    res["max_rss_mib"] = r["max_rss_mib"]
    return res


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.stdout.write(json.dumps(CHILDREN[sys.argv[2]](**json.loads(sys.argv[3]))) + "\n")
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scene", type=Path, default=None, help="scene directory (default: generate the demo one)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--distributed", action="store_true")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    work = Path(tempfile.mkdtemp(prefix="bench_chips_"))
    try:
        scene = a.scene
        if scene is None:
            from landslide_app.scene import generate_scene

            scene = work / "scene"
            generate_scene(scene, size="demo", seed=0, progress=False)
        variants = ["read_windows", "read_tiles", "build"] + (["build_distributed"] if a.distributed else [])
        rows = []
        for k in range(a.repeats):
            row: dict[str, Any] = {"load": load_average()}
            for v in variants if k % 2 == 0 else variants[::-1]:
                if v == "read_windows":
                    row[v] = _child("read", scene=str(scene), mode="windows")
                elif v == "read_tiles":
                    row[v] = _child("read", scene=str(scene), mode="tiles")
                elif v == "build":
                    row[v] = _child("build", scene=str(scene), out=str(work / f"chips-{k}"))
                    shutil.rmtree(work / f"chips-{k}", ignore_errors=True)
                else:
                    out = work / f"chips-dist-{k}"
                    r = run_measured(
                        cli(
                            "-q",
                            "chips",
                            "--source",
                            str(scene / "catalog.json"),
                            "--inventory",
                            str(scene / "inventory.gpkg"),
                            "--out",
                            str(out),
                            "--scheduler",
                            "local",
                        )
                    )
                    row[v] = {"seconds": r["seconds"], "max_rss_mib": r["max_rss_mib"]}
                    shutil.rmtree(out, ignore_errors=True)
            row["build_vs_read"] = row["build"]["seconds"] / row["read_windows"]["seconds"]
            log.info(
                "repeat %d (load %s): read windows %.2f s, read tiles %.2f s, build %.2f s (x%.2f) %s%s",
                k,
                row["load"],
                row["read_windows"]["seconds"],
                row["read_tiles"]["seconds"],
                row["build"]["seconds"],
                row["build_vs_read"],
                row["build"]["breakdown_s"],
                f", distributed build {row['build_distributed']['seconds']:.1f} s" if a.distributed else "",
            )
            rows.append(row)

        def med(v: str, key: str = "seconds") -> float:
            return round(statistics.median(r[v][key] for r in rows), 3)

        figures = {
            "scene": "demo" if a.scene is None else str(a.scene),
            "repeats": a.repeats,
            "n_chips_built": rows[0]["build"]["n_built"],
            "n_chips_dropped": rows[0]["build"]["n_dropped"],
            "build_seconds": med("build"),
            "read_windows_seconds": med("read_windows"),
            "read_tiles_seconds": med("read_tiles"),
            "decoded_mb": rows[0]["read_windows"]["decoded_mb"],
            "build_vs_read": round(statistics.median(r["build_vs_read"] for r in rows), 3),
            "build_vs_read_tiles": round(
                statistics.median(r["build"]["seconds"] / r["read_tiles"]["seconds"] for r in rows), 3
            ),
            "chips_per_s": round(rows[0]["build"]["n_built"] / med("build"), 2),
            "build_busy_s": {
                k: round(statistics.median(r["build"]["breakdown_s"].get(k, 0.0) for r in rows), 2)
                for k in rows[0]["build"]["breakdown_s"]
            },
            "build_busy_note": "seconds spent in each part (wall time inside it, summed over the build's threads: "
            "strip reads on a reader thread with two SAR read threads, chunk and done-marker "
            "writes on a writer thread, terrain and the rest on the main thread): they overlap, "
            "so they add up to more than the wall time",
            "build_peak_rss_mib": max(r["build"]["max_rss_mib"] for r in rows),
            "load_average": [r["load"] for r in rows],
            "target_build_vs_read": 2.0,
        }
        if a.distributed:
            figures["build_distributed_seconds"] = med("build_distributed")
        report("chips", figures)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
