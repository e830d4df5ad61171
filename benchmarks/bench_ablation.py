"""The full 9-configuration ablation (paper Table 2) on the demo chip store: wall time and where it goes.

Usage: ``python benchmarks/bench_ablation.py [--store DIR] [--epochs 5] [--precision fp32|bf16|auto]
[--baselines]`` (without ``--store`` the demo scene is generated and chipped first, not timed).
The ablation runs in its own process into a fresh output directory (nothing cached), as
``landslide-app ablate`` does (random split, seed 0, baselines off unless ``--baselines``), with
cumulative timers around its parts:

* ``training``: :func:`fit_embedding_model` (statistics pass, cache fill, epochs, validation);
* ``embedding``: the CNN forward passes of the train / validation / test chips (prepare + net);
* ``features``: the 19 percentiles of every embedding;
* ``forest``: random-forest fits and predictions;
* ``chip_reads``: reads from the zarr store (inside training and embedding; the whole store is
  read once into memory when it fits);
* ``saving``: checkpoints, forests, predictions, result files;

plus the wall time of each configuration and the process CPU time (user + system, all threads:
on a busy machine the wall time mostly measures the other processes; CPU time / cores bounds what
a quiet machine would take). Target: <= 360 s wall on a 2-core machine. Writes the
``"ablation"`` section of ``benchmarks/results.json`` with the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_training import ensure_store
from common import load_average, report, run_measured, time_calls

log = logging.getLogger("bench_ablation")
HERE = Path(__file__).resolve().parent


def child(store: str, out: str, epochs: int, precision: str, baselines: bool) -> dict[str, Any]:
    import landslide_app.chips.store as store_mod
    import landslide_app.experiments.ablation as ablation
    import landslide_app.model.pipeline as pipeline
    from landslide_app.model.forest import DensityForest
    from landslide_app.model.train import TrainedModel

    timers: dict[str, float] = {}

    def timed(owner: Any, name: str, label: str) -> None:
        time_calls(owner, name, label, timers)

    timed(pipeline, "fit_embedding_model", "training")
    timed(TrainedModel, "embed_batch", "embedding")
    timed(pipeline, "percentile_features", "features")
    for name in ("fit", "predict_proba", "oob_proba"):
        timed(DensityForest, name, "forest")
    timed(store_mod.ChipStore, "read_many", "chip_reads")
    for name in ("save",):
        timed(TrainedModel, name, "saving")
        timed(DensityForest, name, "saving")
    settings = ablation.AblationSettings(epochs=epochs, precision=precision, baselines=baselines)
    t0, c0 = time.perf_counter(), time.process_time()
    res = ablation.run_ablation(store, out, settings, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    # training time includes the reads made inside it; embedding excludes them (reads happen between batches)
    accounted = timers.get("training", 0) + timers.get("embedding", 0) + timers.get("features", 0) + \
        timers.get("forest", 0) + timers.get("saving", 0)
    return {
        "seconds": seconds, "cpu_seconds": cpu, "n_configurations": len(res["runs"]),
        "per_configuration_s": {r["key"]: r.get("wall_seconds", 0.0) for r in res["runs"] if "shared_with" not in r},
        "auc_test": {r["key"]: round(r["auc"]["test"], 4) for r in res["runs"]},
        "breakdown_s": {**{k: round(v, 1) for k, v in timers.items()}, "other": round(seconds - accounted, 1)},
    }


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.stdout.write(json.dumps(child(**json.loads(sys.argv[2]))) + "\n")
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--store", type=Path, default=None)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--precision", default="auto", choices=["fp32", "bf16", "auto"])
    ap.add_argument("--baselines", action="store_true")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    store, cleanup = ensure_store(a.workdir, a.store)
    out = Path(tempfile.mkdtemp(prefix="bench_ablation_"))
    try:
        load = load_average()
        r = run_measured([sys.executable, str(Path(__file__).resolve()), "--child",
                          json.dumps({"store": str(store), "out": str(out / "abl"), "epochs": a.epochs,
                                      "precision": a.precision, "baselines": a.baselines})], cwd=HERE)
        res = json.loads(r["stdout"].strip().splitlines()[-1])
        figures = {
            "store": "demo" if a.store is None else str(a.store), "epochs": a.epochs, "precision": a.precision,
            "baselines": a.baselines, "wall_seconds": round(res["seconds"], 1),
            "process_seconds": r["seconds"], "cpu_seconds": round(res["cpu_seconds"], 1),
            "peak_rss_mib": r["max_rss_mib"],
            "n_configurations": res["n_configurations"], "per_configuration_s": res["per_configuration_s"],
            "breakdown_s": res["breakdown_s"], "auc_test": res["auc_test"],
            "load_before": load, "load_after": load_average(), "target_seconds": 360,
        }
        report("ablation", figures)
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


if __name__ == "__main__":
    main()
