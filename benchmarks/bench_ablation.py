"""The full 9-configuration ablation (paper Table 2) on the demo chip store: wall time and where it goes.

Usage: ``python benchmarks/bench_ablation.py [--store DIR] [--epochs 5] [--precision fp32|bf16|auto]
[--baselines] [--seeds N [--keep DIR]] [--inputs dem sar fused] [--revisits 1 2 3]`` (without
``--store`` the demo scene is generated and chipped first, not timed).
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

``--seeds N`` (N > 1) measures the multi-seed cost in the same run: the single-seed ablation, then
the N-seed ablation (``ablate --seeds N``), each in its own process into a fresh directory, and
reports ``cost_ratio`` = N-seed wall time / single-seed wall time (issue 13's target: <= 2 for
N = 5), the CPU-time ratio beside it (what a quiet machine would see), and the breakdown of both
runs; section ``"ablation_seeds"``. ``--keep DIR`` keeps the N-seed ablation's ``results.json`` and
``table.md`` (means and paired claims with 95 % intervals) there.

``--compare-train-conv``: the single-seed ablation twice in the same run, its dilated convolutions
trained by the dilated kernel and then on their phase sub-grids (:mod:`landslide_app.model.dilated`,
the default on CPU); section ``"ablation_train_conv"`` (wall, CPU and training time of both).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench_training import ensure_store
from common import load_average, report, run_measured, time_calls

log = logging.getLogger("bench_ablation")
HERE = Path(__file__).resolve().parent


def child(
    store: str,
    out: str,
    epochs: int,
    precision: str,
    baselines: bool,
    seeds: int = 1,
    inputs: list[str] | None = None,
    revisits: list[int] | None = None,
    train_conv: str = "auto",
) -> dict[str, Any]:
    import landslide_app.chips.store as store_mod
    import landslide_app.experiments.ablation as ablation
    import landslide_app.model.embedding_forest as fold_model
    import landslide_app.model.map_classes as map_classes
    from landslide_app.model.forest import DensityForest
    from landslide_app.model.trained import TrainedModel

    timers: dict[str, float] = {}

    def timed(owner: Any, name: str, label: str) -> None:
        time_calls(owner, name, label, timers)

    timed(fold_model, "fit_embedding_model", "training")
    timed(TrainedModel, "embed_batch", "embedding")
    timed(fold_model, "percentile_features", "features")
    timed(map_classes, "fit_decision", "map_decision")
    for name in ("fit", "predict_proba", "oob_proba"):
        timed(DensityForest, name, "forest")
    timed(store_mod.ChipStore, "read_many", "chip_reads")
    for name in ("save",):
        timed(TrainedModel, name, "saving")
        timed(DensityForest, name, "saving")
    grid = {k: v for k, v in (("inputs", inputs), ("revisits", revisits)) if v}
    settings = ablation.AblationSettings(
        epochs=epochs,
        precision=precision,
        baselines=baselines,
        seeds=seeds,
        train_kwargs={"conv": train_conv},
        **grid,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    res = ablation.run_ablation(store, out, settings, progress=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    # training time includes the reads made inside it; embedding excludes them (reads happen between batches)
    accounted = (
        timers.get("training", 0)
        + timers.get("embedding", 0)
        + timers.get("features", 0)
        + timers.get("forest", 0)
        + timers.get("saving", 0)
        + timers.get("map_decision", 0)
    )
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "n_configurations": len(res["runs"]),
        "seeds": seeds,
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
    ap.add_argument("--seeds", type=int, default=1, help="N > 1: also the N-seed ablation, and the cost ratio")
    ap.add_argument("--keep", type=Path, default=None, help="copy the N-seed results.json and table.md here")
    ap.add_argument("--inputs", nargs="+", default=None, choices=["dem", "sar", "fused"])
    ap.add_argument("--revisits", nargs="+", type=int, default=None, choices=[1, 2, 3])
    ap.add_argument("--no-write", action="store_true", help="log the figures only (smoke runs on small stores)")
    ap.add_argument(
        "--compare-train-conv",
        action="store_true",
        help="the single-seed ablation with the dilated convolutions trained by the dilated kernel (direct), then "
        "on their phase sub-grids (the default on CPU), in the same run (section ablation_train_conv)",
    )
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    if a.compare_train_conv:
        return main_train_conv(a)
    if a.seeds > 1:
        return main_seeds(a)
    with _scratch(a, "bench_ablation_") as (store, out):
        load = load_average()
        res, r = _child_run(store, out / "abl", a, seeds=1)
        figures = {
            **_run_settings(a),
            "wall_seconds": round(res["seconds"], 1),
            "process_seconds": r["seconds"],
            "cpu_seconds": round(res["cpu_seconds"], 1),
            "peak_rss_mib": r["max_rss_mib"],
            "n_configurations": res["n_configurations"],
            "per_configuration_s": res["per_configuration_s"],
            "breakdown_s": res["breakdown_s"],
            "auc_test": res["auc_test"],
            "load_before": load,
            "load_after": load_average(),
            "target_seconds": 360,
        }
        _write(a, "ablation", figures)


@contextmanager
def _scratch(a: argparse.Namespace, prefix: str) -> Iterator[tuple[Path, Path]]:
    """The chip store (``--store``, or the demo one built here) and a fresh output folder, both removed
    afterwards (the store only when built here)."""
    store, cleanup = ensure_store(a.workdir, a.store)
    out = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield store, out
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


def _run_settings(a: argparse.Namespace) -> dict[str, Any]:
    """The settings every section records."""
    return {
        "store": "demo" if a.store is None else str(a.store),
        "epochs": a.epochs,
        "precision": a.precision,
        "baselines": a.baselines,
    }


def _write(a: argparse.Namespace, section: str, figures: dict[str, Any]) -> None:
    """Log ``figures`` (``--no-write``) or write them into results.json's ``section``."""
    if a.no_write:
        log.info("%s", json.dumps(figures, indent=1))
    else:
        report(section, figures)


def _child_run(
    store: Path, out: Path, a: argparse.Namespace, seeds: int, train_conv: str = "auto"
) -> tuple[dict[str, Any], dict[str, Any]]:
    r = run_measured(
        [
            sys.executable,
            str(Path(__file__).resolve()),
            "--child",
            json.dumps(
                {
                    "store": str(store),
                    "out": str(out),
                    "epochs": a.epochs,
                    "precision": a.precision,
                    "baselines": a.baselines,
                    "seeds": seeds,
                    "inputs": a.inputs,
                    "revisits": a.revisits,
                    "train_conv": train_conv,
                }
            ),
        ],
        env={"OMP_WAIT_POLICY": "PASSIVE"},
        cwd=HERE,
    )  # as `landslide-app` sets it
    return json.loads(r["stdout"].strip().splitlines()[-1]), r


def main_train_conv(a: argparse.Namespace) -> None:
    """The single-seed ablation trained with the dilated kernel and with the phase split, in the same
    run: how much of an ablation's time the training change saves (issue 16 on issue 13's cost)."""
    with _scratch(a, "bench_ablation_conv_") as (store, out):
        load = load_average()
        runs = {conv: _child_run(store, out / conv, a, 1, train_conv=conv)[0] for conv in ("direct", "phase")}
        d, p = runs["direct"], runs["phase"]
        figures = {
            **_run_settings(a),
            "n_configurations": p["n_configurations"],
            "wall_s": {k: round(r["seconds"], 1) for k, r in runs.items()},
            "cpu_s": {k: round(r["cpu_seconds"], 1) for k, r in runs.items()},
            "training_s": {k: r["breakdown_s"].get("training") for k, r in runs.items()},
            "wall_speedup": round(d["seconds"] / p["seconds"], 3),
            "cpu_speedup": round(d["cpu_seconds"] / p["cpu_seconds"], 3),
            "training_speedup": round(d["breakdown_s"]["training"] / p["breakdown_s"]["training"], 3),
            "breakdown_s": {k: r["breakdown_s"] for k, r in runs.items()},
            "auc_test": {k: r["auc_test"] for k, r in runs.items()},
            "load_before": load,
            "load_after": load_average(),
        }
        _write(a, "ablation_train_conv", figures)


def main_seeds(a: argparse.Namespace) -> None:
    """The single-seed and the ``--seeds`` ablation in the same run, and their cost ratio."""
    with _scratch(a, "bench_ablation_seeds_") as (store, out):
        load = load_average()
        one, p1 = _child_run(store, out / "one", a, 1)
        many, pn = _child_run(store, out / "many", a, a.seeds)
        if a.keep is not None:
            a.keep.mkdir(parents=True, exist_ok=True)
            for name in ("results.json", "table.md", "reliability.png"):
                if (out / "many" / name).exists():
                    shutil.copy2(out / "many" / name, a.keep / name)
        figures = {
            **_run_settings(a),
            "seeds": a.seeds,
            "n_configurations": one["n_configurations"],
            "single_seed_wall_s": round(one["seconds"], 1),
            "multi_seed_wall_s": round(many["seconds"], 1),
            "cost_ratio": round(many["seconds"] / one["seconds"], 2),
            "single_seed_cpu_s": round(one["cpu_seconds"], 1),
            "multi_seed_cpu_s": round(many["cpu_seconds"], 1),
            "cpu_ratio": round(many["cpu_seconds"] / max(one["cpu_seconds"], 1e-9), 2),
            "work_ratio": a.seeds,
            "target_ratio": 2.0,
            "peak_rss_mib": {"single": p1["max_rss_mib"], "multi": pn["max_rss_mib"]},
            "breakdown_s": {"single": one["breakdown_s"], "multi": many["breakdown_s"]},
            "auc_test_seed0": one["auc_test"],
            "seed0_identical_in_both_runs": one["auc_test"] == many["auc_test"],
            "load_before": load,
            "load_after": load_average(),
        }
        _write(a, "ablation_seeds", figures)


if __name__ == "__main__":
    main()
