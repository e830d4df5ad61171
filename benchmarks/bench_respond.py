"""Rapid response timing: from ``landslide-app respond`` start to ``map.png`` (issue 11).

Usage: ``python benchmarks/bench_respond.py [--size demo|pr|tiny|COLSxROWS] [--scene DIR] [--model RUN]
[--workdir DIR] [--section NAME]``.

The scene is read from its local STAC catalog (no download time). ``respond`` runs as the CLI in its
own process (``run_measured``: wall time and peak RSS of the process from ``wait4``); its
``respond.json`` gives the seconds per stage (acquisitions, chips, predict, workspace). Reported:
seconds to ``map.png`` (its modification time minus the process start: interpreter start-up and
imports included, and reported apart), seconds per stage (model load, acquisitions, chips, predict,
workspace), chips/s of the chip and predict stages and overall, peak RSS, and the CPU time of the
process (all its threads; per stage from ``respond.json``): on a machine shared with other work the
wall time depends on the load, while CPU seconds / cores bounds the wall time of a quiet machine.
Target (issue 11): the ``pr``-size island (~5,700 land chips) in <= 2 minutes, <= 4 GB.

``--model``: a run directory (default: fused / 3 revisits trained here for 1 epoch on the tiny island
of seed 0: respond's time depends on the network's size, not on how well it was trained).
Writes the ``"respond_<size>"`` section of ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import time
from datetime import datetime
from pathlib import Path

from common import cli, load_average, report, run_measured

log = logging.getLogger("bench_respond")
TARGET_S, TARGET_MIB = 120.0, 4096.0


def _default_model(workdir: Path) -> Path:
    from landslide_app.chips.build import build_chips
    from landslide_app.experiments.production import train_run
    from landslide_app.model.inputs import ModelConfig
    from landslide_app.scene import generate_scene
    from landslide_app.sources.stac import open_local_catalog

    run = workdir / "model-fused-r3"
    if (run / "run.json").exists():
        return run
    scene = workdir / "train-scene"
    if not (scene / "catalog.json").exists():
        generate_scene(scene, size="tiny", seed=0, progress=False)
    store = build_chips(
        open_local_catalog(scene / "catalog.json"), scene / "inventory.gpkg", workdir / "train-chips", progress=False
    ).store.path
    train_run(store, ModelConfig("fused", 3), run, epochs=1, progress=False)
    return run


def _children_cpu() -> float:
    """User + system CPU seconds of the waited-for child processes so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="demo", help="island size when --scene is not given (default demo)")
    ap.add_argument("--seed", type=int, default=1, help="island seed (default 1: not the training island)")
    ap.add_argument("--scene", type=Path, help="an existing scene folder (its catalog.json is read)")
    ap.add_argument("--model", type=Path, help="run directory (default: fused-r3 trained here on the tiny island)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench_respond"))
    ap.add_argument("--keep", action="store_true", help="keep the respond output folder")
    ap.add_argument(
        "--section", help="results.json section to write (default respond_<size>; e.g. another model's figures)"
    )
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    a.workdir.mkdir(parents=True, exist_ok=True)
    model = a.model or _default_model(a.workdir)
    scene = a.scene
    if scene is None:
        from landslide_app.scene import generate_scene

        scene = a.workdir / f"scene-{a.size}-s{a.seed}"
        if not (scene / "catalog.json").exists():
            t = time.perf_counter()
            generate_scene(scene, size=a.size, seed=a.seed, progress=False)
            log.info("scene %s generated in %.0f s (not part of the timing)", scene, time.perf_counter() - t)
    size = a.size if a.scene is None else json.loads((scene / "scene.json").read_text()).get("size", a.size)
    out = a.workdir / f"respond-{size}"
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.time()
    cpu0 = _children_cpu()
    res = run_measured(
        cli(
            "-q",
            "respond",
            "--source",
            str(scene / "catalog.json"),
            "--event-date",
            "2017-09-20",
            "--model",
            str(model),
            "--out",
            str(out),
        ),
        env={"OMP_WAIT_POLICY": "PASSIVE"},
    )
    cpu = round(_children_cpu() - cpu0, 1)
    to_map = (out / "map.png").stat().st_mtime - t0
    rj = json.loads((out / "respond.json").read_text())
    startup = datetime.fromisoformat(rj["started"]).timestamp() - t0  # interpreter start-up and imports
    n = rj["n_chips"]
    stages = rj["seconds"]
    figures = {
        "size": size,
        "scene": str(scene),
        "model": json.loads((Path(model) / "run.json").read_text())["name"],
        "n_chips": n,
        "seconds_to_map_png": round(to_map, 1),
        "seconds_process": res["seconds"],
        "seconds_startup": round(startup, 1),
        "seconds_per_stage": stages,
        "chips_per_s": {
            "chips": round(n / stages["chips"], 1) if stages["chips"] else None,
            "predict": round(n / stages["predict"], 1) if stages["predict"] else None,
            "overall": round(n / to_map, 1),
        },
        "cpu_seconds_process": cpu,
        "cpu_seconds_per_stage": rj.get("cpu_seconds"),
        "quiet_machine_bound_s": round(cpu / (os.cpu_count() or 1), 1),
        "peak_rss_mib": res["max_rss_mib"],
        "target": {
            "seconds": TARGET_S,
            "peak_rss_mib": TARGET_MIB,
            "met": bool(to_map <= TARGET_S and res["max_rss_mib"] <= TARGET_MIB) if size == "pr" else None,
        },
        "load_average": load_average(),
    }
    report(a.section or f"respond_{size}", figures)
    if not a.keep:
        shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
