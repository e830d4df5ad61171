"""The network's learning rate over seeds (issue 13): does another Adam rate give better maps or avoid collapses?

The paper's loss is linear in the sigmoid output, so a training can *collapse* (every logit driven
far below 0, constant embeddings: :mod:`landslide_app.model.collapse`). This script decided the
default rate (:data:`landslide_app.core.vocabulary.DEFAULT_LR`): run as ``--lr 1e-3`` against the
former default 3e-3 over 5 seeds (results.json ``learning_rate``: 0 collapses in 70 trainings
instead of 1, held-out AUC +0.012 [-0.001, +0.026]), 1e-3 became the default. It compares any rate
with the default, paired: the same seeds draw the same splits and initialisations at both rates, and
only the rate differs.

The script runs ``ablate`` (random split, no baselines, ``--seeds N``) at ``--lr`` into
``--out/lr-<rate>`` (resumed from its cache when rerun) and compares it with a reference ablation
of the same store and seeds at the default rate: ``--reference DIR`` (an ``ablate --seeds N``
output, e.g. ``bench_ablation.py --seeds 5 --keep DIR``), or, without it, the same ablation run
here at the default rate. Per configuration and over all of them: the held-out AUC and the map's
accuracy, its gain over the majority-class baseline and its missed landslide chips at each rate,
their paired differences (``--lr`` − default) with 95 % paired t intervals
(:func:`landslide_app.experiments.seed_stats.paired_difference`), the collapsed trainings at each
rate, and the CPU time. Writes the ``"learning_rate"`` section of ``benchmarks/results.json``.

Usage: ``python benchmarks/bench_learning_rate.py --chips STORE --lr 1e-3 --seeds 5 --out DIR
[--reference DIR] [--epochs 5] [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from common import load_average, merge_results

from landslide_app.experiments.ablation import run_ablation
from landslide_app.experiments.ablation_settings import AblationSettings
from landslide_app.experiments.seed_stats import (
    INTERVAL_METHOD,
    metric_value,
    paired_difference,
    repeats_of,
    results_by_key,
    t_interval,
)
from landslide_app.model.train import DEFAULT_LR

log = logging.getLogger("bench_learning_rate")
#: Compared per configuration (seed_stats' metric names).
METRICS = ("auc_test", "map_accuracy", "map_accuracy_gain", "map_missed_landslide_chips")


def ablation_at(store: Path, out: Path, lr: float | None, seeds: int, epochs: int) -> tuple[dict[str, Any], float]:
    """``results.json`` of the random-split ablation at ``lr`` (None: the default) and its CPU seconds
    in this process (0 when it came from the cache of an earlier run)."""
    settings = AblationSettings(
        splits=("random",),
        epochs=epochs,
        seeds=seeds,
        baselines=False,
        train_kwargs={} if lr is None else {"lr": lr},
    )
    c0 = time.process_time()
    run_ablation(store, out, settings, progress=False)
    return json.loads((out / "results.json").read_text()), time.process_time() - c0


def per_seed(results: dict[str, Any]) -> dict[str, dict[int, dict[str, Any]]]:
    """``{configuration key: {seed: result}}`` with the map's gain over the majority baseline added
    (``map.accuracy_gain``); one entry per computed run (a DEM-only run shared by other revisit
    columns counts once)."""
    out: dict[str, dict[int, dict[str, Any]]] = {}
    for key, by_seed in results_by_key(repeats_of(results), "runs").items():
        for seed, r in by_seed.items():
            if r.get("shared_with"):
                continue
            m = dict(r.get("map") or {})
            if m.get("accuracy") is not None and m.get("majority_accuracy") is not None:
                m["accuracy_gain"] = float(m["accuracy"]) - float(m["majority_accuracy"])
            out.setdefault(key, {})[seed] = {**r, "map": m}
    return out


def compare(
    default: dict[str, Any], other: dict[str, Any], names: tuple[str, str] = ("default", "other")
) -> dict[str, Any]:
    """Per configuration and pooled over configurations: means of both ablations, each side's 95 % t
    interval of the map's gain over the majority baseline, the paired difference other − default of
    each metric, and the collapsed trainings of each. ``names``: how the two sides are called in the
    output (``bench_ensemble.py``: single, ensemble)."""
    a, b = per_seed(default), per_seed(other)
    na, nb = names
    rows: dict[str, Any] = {}
    pooled_a: dict[int, dict[str, Any]] = {}
    pooled_b: dict[int, dict[str, Any]] = {}
    for key in sorted(set(a) & set(b)):
        row: dict[str, Any] = {}
        for metric in METRICS:
            d = paired_difference(b[key], a[key], metric)
            means = {
                side: t_interval(metric_value(r, metric) for r in by_seed.values())["mean"]
                for side, by_seed in ((na, a[key]), (nb, b[key]))
            }
            row[metric] = {**means, "difference": {k: d[k] for k in ("mean", "ci95", "n")}}
        row["map_accuracy_gain_ci95"] = {
            side: t_interval(metric_value(r, "map_accuracy_gain") for r in by_seed.values())["ci95"]
            for side, by_seed in ((na, a[key]), (nb, b[key]))
        }
        row["collapsed"] = {
            side: sorted(s for s, r in by_seed.items() if r.get("collapsed"))
            for side, by_seed in ((na, a[key]), (nb, b[key]))
        }
        rows[key] = row
        for s in set(a[key]) & set(b[key]):  # every (configuration, seed) pair as one pooled unit
            pooled_a[len(pooled_a)], pooled_b[len(pooled_b)] = a[key][s], b[key][s]
    pooled = {metric: paired_difference(pooled_b, pooled_a, metric) for metric in METRICS}
    return {
        "per_configuration": rows,
        "pooled": {m: {k: d[k] for k in ("mean", "ci95", "n")} for m, d in pooled.items()},
        "collapsed_total": {
            na: sum(len(r["collapsed"][na]) for r in rows.values()),
            nb: sum(len(r["collapsed"][nb]) for r in rows.values()),
            "trainings_per_rate": 2 * sum(r["auc_test"]["difference"]["n"] for r in rows.values()),
        },
    }


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chips", required=True, type=Path, help="chip store (e.g. the demo store)")
    ap.add_argument("--lr", required=True, type=float, help="the learning rate compared with the default")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--out", required=True, type=Path, help="ablation outputs (kept: a rerun resumes)")
    ap.add_argument("--reference", type=Path, default=None, help="ablate --seeds N output at the default rate")
    ap.add_argument("--no-write", action="store_true", help="log the figures only")
    a = ap.parse_args()
    load = load_average()
    t0 = time.perf_counter()
    other, cpu_other = ablation_at(a.chips, a.out / f"lr-{a.lr:g}", a.lr, a.seeds, a.epochs)
    if a.reference is not None:
        default, cpu_default = json.loads((a.reference / "results.json").read_text()), None
    else:
        default, cpu_default = ablation_at(a.chips, a.out / f"lr-{DEFAULT_LR:g}", None, a.seeds, a.epochs)
    seeds = {side: sorted(rep["seed"] for rep in repeats_of(r)) for side, r in (("default", default), ("other", other))}
    if seeds["default"] != seeds["other"]:
        raise SystemExit(f"the reference has seeds {seeds['default']}, this run {seeds['other']}: not paired")
    figures = {
        "store": str(a.chips),
        "store_fingerprint": other.get("store_fingerprint"),
        "epochs": a.epochs,
        "seeds": other.get("seeds"),
        "split": "random",
        "lr_default": DEFAULT_LR,
        "lr_other": a.lr,
        "reference": str(a.reference) if a.reference else None,
        "interval_method": INTERVAL_METHOD,
        **compare(default, other),
        "cpu_seconds": {
            "other": round(cpu_other, 1),
            "default": None if cpu_default is None else round(cpu_default, 1),
        },
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "load_before": load,
        "load_after": load_average(),
    }
    for key, row in figures["per_configuration"].items():
        log.info(
            "%-16s AUC %.3f -> %.3f (%+.3f %s); map accuracy gain %+.3f -> %+.3f; collapsed %s -> %s",
            key,
            row["auc_test"]["default"],
            row["auc_test"]["other"],
            row["auc_test"]["difference"]["mean"],
            [round(v, 3) for v in row["auc_test"]["difference"]["ci95"]],
            row["map_accuracy_gain"]["default"],
            row["map_accuracy_gain"]["other"],
            row["collapsed"]["default"],
            row["collapsed"]["other"],
        )
    log.info("pooled: %s", json.dumps(figures["pooled"]))
    if not a.no_write:
        merge_results("learning_rate", figures)


if __name__ == "__main__":
    main()
