"""Memory at scale: a Puerto-Rico-size scene (~5,700 land chips, ~6 GB of float32 chips) built,
trained and predicted with the peak memory of each step.

Usage: ``python benchmarks/bench_scale.py [--size pr] [--workdir DIR] [--keep] [--ablate]``.
Each step is the ``landslide-app`` CLI in its own process; its wall time and peak RSS (``wait4``:
the process and the children it waited for) are recorded:

1. ``scene``: generate the scene (not part of the memory target: ~6 min, ~4.7 GB);
2. ``chips``: build the chip store;
3. ``train``: train fused / 3 revisits for 1 epoch (80 % train, 20 % validation, forest);
4. ``predict``: predict every chip (GeoTIFF + GeoPackage);
5. ``ablate`` (``--ablate``): one ablation configuration (fused / 3 revisits, 1 epoch, both folds,
   held-out embeddings written to disk).

Target: steps 2-5 each peak at <= 4 GiB (chips stream from the store: never all in memory).
Disk: ~6 GB for the scene plus ~6 GB for the store; the work directory is deleted afterwards
unless ``--keep``. Writes the ``"scale"`` section of ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from common import cli, load_average, report, run_measured

log = logging.getLogger("bench_scale")
TARGET_MIB = 4096


def _du_mb(path: Path) -> float | None:
    try:
        return float(subprocess.run(["du", "-sm", str(path)], capture_output=True, text=True).stdout.split()[0])
    except (OSError, IndexError, ValueError):
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="pr", help="scene size (pr, demo, or COLSxROWS)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temporary directory)")
    ap.add_argument("--scene", type=Path, default=None, help="an already generated scene (skips step 1)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--ablate", action="store_true", help="also run one ablation configuration")
    ap.add_argument("--epochs", type=int, default=1)
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    work = Path(a.workdir or tempfile.mkdtemp(prefix="bench_scale_"))
    work.mkdir(parents=True, exist_ok=True)
    scene, chips, run, pred = a.scene or work / "scene", work / "chips", work / "run", work / "pred"
    steps: dict[str, Any] = {}

    def step(name: str, args: list[str]) -> None:
        load = load_average()
        r = run_measured(cli("-q", *args))
        steps[name] = {
            "seconds": r["seconds"],
            "peak_rss_mib": r["max_rss_mib"],
            "load_before": load,
            "load_after": load_average(),
            "stdout": r["stdout"].strip()[-400:],
        }
        log.info(
            "%-8s %7.1f s  peak RSS %6.0f MiB  (load %s)  %s",
            name,
            r["seconds"],
            r["max_rss_mib"],
            load,
            r["stdout"].strip()[-200:],
        )

    try:
        if a.scene is None:
            step("scene", ["scene", "--out", str(scene), "--size", a.size, "--seed", str(a.seed)])
        step(
            "chips",
            [
                "chips",
                "--source",
                str(scene / "catalog.json"),
                "--inventory",
                str(scene / "inventory.gpkg"),
                "--out",
                str(chips),
            ],
        )
        info = json.loads(run_measured(cli("info", str(chips), "--json"))["stdout"])
        step(
            "train",
            [
                "train",
                "--chips",
                str(chips),
                "--inputs",
                "fused",
                "--revisits",
                "3",
                "--epochs",
                str(a.epochs),
                "--out",
                str(run),
            ],
        )
        step("predict", ["predict", "--model", str(run), "--chips", str(chips), "--out", str(pred)])
        if a.ablate:
            step(
                "ablate",
                [
                    "ablate",
                    "--chips",
                    str(chips),
                    "--out",
                    str(work / "ablation"),
                    "--inputs",
                    "fused",
                    "--revisits",
                    "3",
                    "--epochs",
                    str(a.epochs),
                    "--no-baselines",
                ],
            )
        n = info["n_chips"]
        figures = {
            "size": a.size,
            "n_chips": n,
            "chips_gb_float32": round(n * 17 * 128 * 128 * 4 / 1e9, 2),
            "store_disk_mb": _du_mb(chips),
            "scene_disk_mb": _du_mb(scene),
            "epochs": a.epochs,
            "steps": {k: {kk: vv for kk, vv in v.items() if kk != "stdout"} for k, v in steps.items()},
            "peak_rss_mib": {k: v["peak_rss_mib"] for k, v in steps.items()},
            "max_peak_rss_mib_excluding_scene": max(v["peak_rss_mib"] for k, v in steps.items() if k != "scene"),
            "target_mib": TARGET_MIB,
        }
        figures["within_target"] = figures["max_peak_rss_mib_excluding_scene"] <= TARGET_MIB
        report(f"scale_{a.size}", figures)
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
