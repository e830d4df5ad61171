"""Does a deployable ensemble draw a better map than one network? Paired over seeds (issue 13).

``bench_seed_ensemble.py`` found that averaging the held-out probabilities of five seeds raised the
held-out AUC by up to 0.06, but its members had seen different splits. ``--ensemble K``
(:mod:`landslide_app.model.ensemble`) is the model a responder can run: K networks trained on the
**same** chips of each fold, each with its own forest, probabilities averaged, the map's decision
fitted on the averaged validation probabilities. This script measures it against the single network
under the ablation's own protocol, paired: the same seeds draw the same splits, and member 0 of
every fold *is* the single network of that fold, so only the added members differ.

It runs ``ablate --ensemble K --seeds N`` (no baselines) for the chosen configurations and splits
into ``--out/ensemble<K>`` (resumed from its cache when rerun), and compares it with the single
network's ablation of the same store, seeds, epochs and rate: ``--reference DIR`` (e.g. the Table 2
ablation) or, without it, the same ablation at ``--ensemble 1`` run here into ``--out/single``.
Per configuration (and split) and pooled: held-out AUC, the map's accuracy, its gain over the
majority-class baseline (with each side's 95 % t interval over seeds: the issue's "beats the
baseline" test) and the landslide chips shown as "none", their paired differences (ensemble −
single, 95 % paired t intervals), the collapsed trainings, and the wall time of both (the
reference's from its own results, so under its own load). Writes ``"ensemble"`` in
``benchmarks/results.json``.

``--predict-cost`` measures instead what the ensemble costs a responder at prediction time: it trains
a single run and a ``--ensemble K`` run of the first configuration (1 epoch: the weights' values do not
change the work) and times ``predict_run`` of each on the whole store, interleaved, ``--repeats``
times in this process; written as ``"predict_cost"`` in the same section.

Usage: ``python benchmarks/bench_ensemble.py --chips STORE --out DIR [--ensemble 3] [--seeds 5]
[--split random blocked] [--inputs sar fused] [--revisits 3] [--reference DIR] [--predict-cost
[--repeats 3]] [--no-write]``.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import Any

from bench_learning_rate import compare
from common import load_average, merge_results

from landslide_app.experiments.ablation import run_ablation
from landslide_app.experiments.ablation_settings import AblationSettings
from landslide_app.experiments.seed_stats import INTERVAL_METHOD, repeats_of

log = logging.getLogger("bench_ensemble")
SIDES = ("single", "ensemble")


def ablation_with(store: Path, out: Path, a: argparse.Namespace, ensemble: int) -> dict[str, Any]:
    """``results.json`` of the ablation of ``a``'s configurations with ``ensemble`` networks per fold."""
    settings = AblationSettings(
        inputs=a.inputs,
        revisits=a.revisits,
        splits=a.split,
        epochs=a.epochs,
        seeds=a.seeds,
        baselines=False,
        ensemble=ensemble,
    )
    run_ablation(store, out, settings, progress=False)
    return json.loads((out / "results.json").read_text())


def add_ablation_options(ap: argparse.ArgumentParser, splits: list[str]) -> None:
    """The options :func:`ablation_with` reads (but ``--epochs``), shared by the paired comparisons
    (``bench_epochs.py`` too): store, output, seeds, splits (default ``splits``), configurations, --no-write."""
    ap.add_argument("--chips", required=True, type=Path, help="chip store (e.g. the demo store)")
    ap.add_argument("--out", required=True, type=Path, help="ablation outputs (kept: a rerun resumes)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--split", nargs="+", default=splits)
    ap.add_argument("--inputs", nargs="+", default=["sar", "fused"])
    ap.add_argument("--revisits", nargs="+", type=int, default=[3])
    ap.add_argument("--no-write", action="store_true", help="log the figures only")


def paired_reference(reference: dict[str, Any], other: dict[str, Any], epochs: Any, name: str) -> dict[str, Any]:
    """``reference`` (an ablation's results) cut to the seeds of ``other`` (the ``name`` run), after
    checking the two pair: every seed of ``other`` in the reference, ``epochs`` epochs and the same
    learning rate. A reference with more seeds would otherwise put unpaired seeds into its means."""
    seeds = {side: sorted(rep["seed"] for rep in repeats_of(r)) for side, r in (("ref", reference), ("other", other))}
    if not set(seeds["other"]) <= set(seeds["ref"]):
        raise SystemExit(f"the reference has seeds {seeds['ref']}, the {name} run {seeds['other']}: not paired")
    if reference.get("epochs") != epochs or (reference.get("lr") or other["lr"]) != other["lr"]:
        raise SystemExit(f"the reference was not trained {epochs} epochs at the {name} run's learning rate: not paired")
    return {**reference, "repeats": [rep for rep in repeats_of(reference) if rep["seed"] in set(seeds["other"])]}


def run_seconds(results: dict[str, Any], keys: set[str]) -> float:
    """Summed wall seconds of the computed runs (``keys``) over every seed of an ablation."""
    return sum(
        float(r.get("wall_seconds") or r.get("seconds") or 0.0)
        for rep in repeats_of(results)
        for r in rep["runs"]
        if r.get("key") in keys and not r.get("shared_with")
    )


def predict_cost(store: Path, out: Path, config_name: str, k: int, repeats: int) -> dict[str, Any]:
    """Seconds of ``predict_run`` with a single run and a ``k``-network run of ``config_name``, interleaved."""
    from landslide_app.experiments.production import predict_run, train_run
    from landslide_app.model.inputs import ModelConfig

    inputs, revisits = config_name.split("-r")
    runs = {}
    for n in (1, k):
        runs[n] = out / f"predict-run-{config_name}-k{n}"
        if not (runs[n] / "run.json").exists():
            train_run(store, ModelConfig(inputs, int(revisits)), runs[n], epochs=1, progress=False, ensemble=n)
    predict_run(runs[1], store, out / "predict-warm", progress=False)  # imports, allocator, caches
    seconds: dict[int, list[float]] = {1: [], k: []}
    for r in range(repeats):
        for n in (1, k):
            t0 = time.perf_counter()
            s = predict_run(runs[n], store, out / f"predict-k{n}", progress=False)
            seconds[n].append(time.perf_counter() - t0)
            log.info("repeat %d, %d network(s): %.1f s for %d chips", r, n, seconds[n][-1], s["n_chips"])
    med = {n: sorted(v)[len(v) // 2] for n, v in seconds.items()}
    return {
        "configuration": config_name,
        "n_chips": int(s["n_chips"]),
        "seconds": {f"k{n}": [round(x, 2) for x in v] for n, v in seconds.items()},
        "median_seconds": {f"k{n}": round(v, 2) for n, v in med.items()},
        "ratio": round(med[k] / med[1], 2),
        "repeats": repeats,
    }


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_ablation_options(ap, ["random", "blocked"])
    ap.add_argument("--ensemble", type=int, default=3, help="networks per fold (default 3)")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--reference", type=Path, default=None, help="the single network's ablate --seeds N output")
    ap.add_argument("--predict-cost", action="store_true", help="time predict with 1 and K networks instead")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved predict repeats (--predict-cost)")
    a = ap.parse_args()
    load = load_average()
    t0 = time.perf_counter()
    if a.predict_cost:
        cost = predict_cost(a.chips, a.out, f"{a.inputs[-1]}-r{a.revisits[-1]}", a.ensemble, a.repeats)
        cost.update(load_before=load, load_after=load_average(), wall_seconds=round(time.perf_counter() - t0, 1))
        log.info("predict cost: %s", json.dumps(cost))
        if not a.no_write:
            merge_results("ensemble", {"predict_cost": cost}, keep=True)
        return
    ens = ablation_with(a.chips, a.out / f"ensemble{a.ensemble}", a, a.ensemble)
    single = (
        json.loads((a.reference / "results.json").read_text())
        if a.reference is not None
        else ablation_with(a.chips, a.out / "single", a, 1)
    )
    single = paired_reference(single, ens, ens.get("epochs"), "ensemble")
    compared = compare(single, ens, SIDES)
    keys = set(compared["per_configuration"])
    figures = {
        "store": str(a.chips),
        "store_fingerprint": ens.get("store_fingerprint"),
        "command": "bench_ensemble.py "
        + " ".join(
            [
                f"--ensemble {a.ensemble}",
                f"--seeds {a.seeds}",
                f"--epochs {a.epochs}",
                "--split",
                *a.split,
                "--inputs",
                *a.inputs,
                "--revisits",
                *map(str, a.revisits),
            ]
        )
        + (" --reference REFERENCE" if a.reference else ""),  # fmt: skip
        "ensemble": a.ensemble,
        "epochs": a.epochs,
        "lr": ens.get("lr"),
        "seeds": ens.get("seeds"),
        "reference": str(a.reference) if a.reference else None,
        "interval_method": INTERVAL_METHOD,
        **compared,
        "run_wall_seconds": {
            "single": round(run_seconds(single, keys), 1),
            "ensemble": round(run_seconds(ens, keys), 1),
        },
        "environment": ens.get("environment"),
        "wall_seconds": round(time.perf_counter() - t0, 1),
        "load_before": load,
        "load_after": load_average(),
    }
    w = figures["run_wall_seconds"]
    figures["run_wall_ratio"] = round(w["ensemble"] / w["single"], 2) if w["single"] else None
    for key, row in figures["per_configuration"].items():
        gain = row["map_accuracy_gain"]
        log.info(
            "%-16s AUC %.3f -> %.3f (%+.3f %s); map gain %+.3f %s -> %+.3f %s; missed %.1f -> %.1f; collapsed %s -> %s",
            key,
            row["auc_test"]["single"],
            row["auc_test"]["ensemble"],
            row["auc_test"]["difference"]["mean"],
            [round(v, 3) for v in row["auc_test"]["difference"]["ci95"] or []],
            gain["single"],
            [round(v, 3) for v in row["map_accuracy_gain_ci95"]["single"] or []],
            gain["ensemble"],
            [round(v, 3) for v in row["map_accuracy_gain_ci95"]["ensemble"] or []],
            row["map_missed_landslide_chips"]["single"],
            row["map_missed_landslide_chips"]["ensemble"],
            row["collapsed"]["single"],
            row["collapsed"]["ensemble"],
        )
    log.info("pooled: %s", json.dumps(figures["pooled"]))
    log.info("run wall seconds %s (ratio %s)", w, figures["run_wall_ratio"])
    if not a.no_write:
        merge_results("ensemble", figures, keep=True)  # keeps "predict_cost"


if __name__ == "__main__":
    main()
