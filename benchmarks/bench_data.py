"""Data-layer figures: demo scene generation time and chip-building throughput (chips/s).

Usage: ``python benchmarks/bench_data.py [--size demo] [--workdir DIR]``. Prints the figures and
writes them under ``"data"`` in ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import tempfile
import time
from pathlib import Path

from common import report

from landslide_app.chips.build import build_chips
from landslide_app.scene import generate_scene
from landslide_app.sources.stac import open_local_catalog

log = logging.getLogger("bench_data")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="demo")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench_data_"))
    if work.exists():
        shutil.rmtree(work)
    t0 = time.perf_counter()
    generate_scene(work / "scene", size=a.size, seed=a.seed, progress=False)
    scene_s = time.perf_counter() - t0
    rep = build_chips(
        open_local_catalog(work / "scene" / "catalog.json"),
        work / "scene" / "inventory.gpkg",
        work / "chips",
        progress=False,
    )
    info = rep.store.info()
    figures = {
        "size": a.size,
        "seed": a.seed,
        "scene_seconds": round(scene_s, 2),
        "n_candidate_chips": rep.store.grid.n_chips,
        "n_chips": info["n_chips"],
        "n_heads": info["n_heads"],
        "class_counts": info["class_counts"],
        "chip_build_seconds": round(rep.seconds, 2),
        "chips_per_s": round(rep.n_built / rep.seconds, 2),
        "candidate_chips_per_s": round(rep.store.grid.n_chips / rep.seconds, 2),
    }
    report(f"data_{a.size}", figures)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
