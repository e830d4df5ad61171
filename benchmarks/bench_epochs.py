"""Is the network undertrained at the default 5 epochs? More epochs against the default, paired over seeds (issue 13).

The demo scene holds a map far better than today's (``bench_scene.py``: an oracle that knows each
chip's expected heads reaches AUC 0.96, the terrain oracle 0.71, the models about 0.74), and at 5
epochs the validation loss is usually still falling: the model selection keeps the last epoch in
most folds. This script trains the same configurations with ``--epochs E`` and compares them with
the default epochs, paired: the same seeds draw the same splits and initialisations, and only the
number of epochs (and so the epochs the model selection can choose from) differs.

It runs ``ablate --epochs E --seeds N`` (no baselines) for the chosen configurations and splits into
``--out/epochs<E>`` (resumed from its cache when rerun), and compares it with the ablation at
``--base-epochs`` (default 5) of the same store, seeds and rate: ``--reference DIR`` (e.g. the Table 2
ablation) or, without it, that ablation run here into ``--out/epochs<base>``. Per configuration and
pooled: held-out AUC, the map's accuracy, its gain over the majority-class baseline (each side's 95 %
t interval) and the landslide chips shown as "none", their paired differences (more − base, 95 %
paired t intervals, :func:`bench_learning_rate.compare`), the collapsed trainings, the share of
folds whose selected epoch is the last one trained (``last_epoch_selected``: a model still improving
when training stopped), and the wall time of both. Writes ``"epochs"`` in ``benchmarks/results.json``.

Usage: ``python benchmarks/bench_epochs.py --chips STORE --out DIR [--epochs 20] [--base-epochs 5]
[--seeds 5] [--split random] [--inputs sar fused] [--revisits 3] [--reference DIR] [--no-write]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import time
from pathlib import Path
from typing import Any

from bench_ensemble import ablation_with, add_ablation_options, paired_reference, run_seconds
from bench_learning_rate import compare
from common import load_average, merge_results

from landslide_app.experiments.seed_stats import INTERVAL_METHOD, repeats_of

log = logging.getLogger("bench_epochs")


def last_epoch_selected(results: dict[str, Any], keys: set[str]) -> dict[str, Any]:
    """How many folds of the computed runs (``keys``) kept the last epoch they trained, of how many."""
    folds = [
        fold
        for rep in repeats_of(results)
        for r in rep["runs"]
        if r.get("key") in keys and not r.get("shared_with")
        for fold in r.get("folds") or []
        if fold.get("best_epoch") is not None
    ]
    last = sum(1 for f in folds if int(f["best_epoch"]) == len(f.get("history") or []))
    return {"last": last, "folds": len(folds), "share": round(last / len(folds), 3) if folds else None}


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_ablation_options(ap, ["random"])
    ap.add_argument("--epochs", type=int, default=20, help="the longer training (default 20)")
    ap.add_argument("--base-epochs", type=int, default=5, help="the default it is compared with (5)")
    ap.add_argument("--reference", type=Path, default=None, help="an ablate --seeds N output at the base epochs")
    a = ap.parse_args()
    load = load_average()
    t0 = time.perf_counter()
    longer = ablation_with(a.chips, a.out / f"epochs{a.epochs}", a, 1)
    if a.reference is not None:
        base = json.loads((a.reference / "results.json").read_text())
    else:
        at_base = copy.copy(a)
        at_base.epochs = a.base_epochs
        base = ablation_with(a.chips, a.out / f"epochs{a.base_epochs}", at_base, 1)
    sides = (f"epochs{a.base_epochs}", f"epochs{a.epochs}")
    base = paired_reference(base, longer, a.base_epochs, "longer")
    compared = compare(base, longer, sides)
    keys = set(compared["per_configuration"])
    wall = {side: round(run_seconds(r, keys), 1) for side, r in zip(sides, (base, longer))}
    figures = {
        "store": str(a.chips),
        "store_fingerprint": longer.get("store_fingerprint"),
        "command": " ".join(
            [
                "bench_epochs.py",
                f"--epochs {a.epochs}",
                f"--base-epochs {a.base_epochs}",
                f"--seeds {a.seeds}",
                "--split",
                *a.split,
                "--inputs",
                *a.inputs,
                "--revisits",
                *map(str, a.revisits),
            ]
        )
        + (" --reference REFERENCE" if a.reference else ""),  # fmt: skip
        "epochs": a.epochs,
        "base_epochs": a.base_epochs,
        "lr": longer.get("lr"),
        "seeds": sorted(rep["seed"] for rep in repeats_of(longer)),
        "reference": str(a.reference) if a.reference else None,
        "interval_method": INTERVAL_METHOD,
        **compared,
        "last_epoch_selected": {side: last_epoch_selected(r, keys) for side, r in zip(sides, (base, longer))},
        "run_wall_seconds": wall,
        "run_wall_ratio": round(wall[sides[1]] / wall[sides[0]], 2) if wall[sides[0]] else None,
        "environment": longer.get("environment"),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "load_before": load,
        "load_after": load_average(),
    }
    for key, row in figures["per_configuration"].items():
        gain = row["map_accuracy_gain"]
        log.info(
            "%-16s AUC %.3f -> %.3f (%+.3f %s); map gain %+.3f -> %+.3f; missed %.1f -> %.1f",
            key,
            row["auc_test"][sides[0]],
            row["auc_test"][sides[1]],
            row["auc_test"]["difference"]["mean"],
            [round(v, 3) for v in row["auc_test"]["difference"]["ci95"] or []],
            gain[sides[0]],
            gain[sides[1]],
            row["map_missed_landslide_chips"][sides[0]],
            row["map_missed_landslide_chips"][sides[1]],
        )
    log.info("pooled: %s", json.dumps(figures["pooled"]))
    log.info("last epoch selected: %s", json.dumps(figures["last_epoch_selected"]))
    log.info("run wall seconds %s (ratio %s)", wall, figures["run_wall_ratio"])
    if not a.no_write:
        merge_results("epochs", figures)


if __name__ == "__main__":
    main()
