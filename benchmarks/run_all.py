"""Run every benchmark and collect the figures in ``benchmarks/results.json`` (``make bench``).

Usage: ``python benchmarks/run_all.py [--quick] [--skip-scale] [--only NAME ...]``.

The demo scene is generated and chipped once (``bench_data``, which times exactly that) into a
temporary directory shared by the other benchmarks:

========== ===============================================================================
data       scene generation time, chip-building throughput          (section ``data_demo``)
chips      chip building vs reading the same COG windows, breakdown (section ``chips``)
training   project loop vs plain reference loop, GEMM peak fraction,
           bf16 vs fp32 validation AUC                              (section ``training``)
inference  ``predict`` chips/s and peak memory                      (section ``inference``)
ablation   the 9-configuration ablation wall time and breakdown     (section ``ablation``)
scale      Puerto-Rico-size scene: peak memory of each step         (section ``scale_pr``)
========== ===============================================================================

Every figure that compares two things is a ratio measured in the same run (interleaved repeats,
medians) with the load average next to it; run it on a quiet machine. ``--quick``: fewer repeats
and AUC seeds, no scale run (minutes instead of about an hour). The scale run needs ~12 GB of disk.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger("run_all")
HERE = Path(__file__).resolve().parent
ORDER = ("data", "chips", "training", "inference", "ablation", "scale")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats, 1 AUC seed, no scale run")
    ap.add_argument("--skip-scale", action="store_true")
    ap.add_argument("--only", nargs="+", choices=ORDER, default=None)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    todo = [b for b in ORDER if (a.only is None or b in a.only)]
    if (a.quick or a.skip_scale) and a.only is None:
        todo.remove("scale")
    work = Path(tempfile.mkdtemp(prefix="landslide_bench_"))
    py = sys.executable
    repeats = "1" if a.quick else "3"

    def run(script: str, *args: str) -> None:
        t0 = time.perf_counter()
        log.info("== %s %s", script, " ".join(args))
        subprocess.run([py, str(HERE / script), *args], check=True, cwd=HERE)
        log.info("== %s done in %.0f s", script, time.perf_counter() - t0)

    try:
        scene, store = work / "scene", work / "chips"
        if {"chips", "training", "inference", "ablation"} & set(todo):
            from landslide_app.chips.build import build_chips
            from landslide_app.scene import generate_scene
            from landslide_app.sources.stac import open_local_catalog

            log.info("preparing the demo scene and chip store in %s", work)
            generate_scene(scene, size="demo", seed=0, progress=False)
            build_chips(open_local_catalog(scene / "catalog.json"), scene / "inventory.gpkg", store, progress=False)
        if "data" in todo:
            run("bench_data.py", "--size", "demo")
        if "chips" in todo:
            run("bench_chips.py", "--scene", str(scene), "--repeats", repeats, "--distributed")
        if "training" in todo:
            run(
                "bench_training.py",
                "--store",
                str(store),
                "--repeats",
                "3" if a.quick else "5",
                "--auc-seeds",
                *(["0"] if a.quick else ["0", "1", "2", "3", "4", "5"]),
            )
        if "inference" in todo:
            run("bench_inference.py", "--store", str(store), "--repeats", repeats, "--distributed")
        if "ablation" in todo:
            run("bench_ablation.py", "--store", str(store))
        if "scale" in todo:
            run("bench_scale.py", "--size", "pr", "--ablate")
        log.info("all figures in %s", HERE / "results.json")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
