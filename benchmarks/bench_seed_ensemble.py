"""Does averaging the seeds' models give a better map? A measurement on a multi-seed ablation (issue 13).

An ``ablate --seeds N`` output holds, for every configuration and seed, each chip's held-out class
probabilities from a fold model that never trained on that chip. Averaging them over the seeds
gives, per chip, the prediction of an N-member ensemble in which no member saw the chip: still
out-of-sample. Per configuration and split this script reports:

* the held-out macro AUC of each seed (mean and 95 % t interval) and of the ensemble;
* the oracle ceiling of the ensemble's map (:func:`bench_map_ceiling.oracle_accuracy`: the best
  ``argmax(log p + b)`` fitted on the held-out chips themselves) minus the majority baseline;
* the map of the ensemble with a decision rule that never sees the labels of the chips it maps
  (``--rules``, default ``cost`` and ``accuracy``, :func:`landslide_app.model.decision.fit_decision`)
  **cross-fitted**: the chips are split into two random halves, the rule is fitted on one half's
  probabilities and classes and applied to the other, both ways; repeated ``--repeats`` times
  (default 50) with seeded halvings. Reported: accuracy minus the majority baseline ("class 1
  everywhere": the most frequent class of all chips), its 95 % interval from a bootstrap over chips
  (2,000 resamples of the per-chip difference, averaged over the halvings), and the landslide chips
  shown as class 0.

Read it as a lead, not a protocol result: the members saw different training chips (each seed its
own split), which an ensemble trained for a response (N networks on the same chips) would not, and
the rule is fitted on other held-out chips instead of validation chips. It says whether the map is
limited by one network's noise or by the inputs.

Usage: ``python benchmarks/bench_seed_ensemble.py --ablation DIR [--split random blocked]
[--rules cost accuracy] [--repeats 50] [--no-write]``. Writes ``"seed_ensemble"`` in
``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from bench_map_ceiling import oracle_accuracy
from common import load_average, merge_results

from landslide_app.experiments import artifacts
from landslide_app.experiments.seed_stats import t_interval
from landslide_app.model.decision import DECISION_RULES, fit_decision
from landslide_app.model.metrics import multiclass_auc

log = logging.getLogger("bench_seed_ensemble")
#: Bootstrap resamples of the chips for the interval of the ensemble's gain over the majority baseline.
BOOTSTRAP = 2000


def seed_probabilities(ablation: Path, split: str) -> dict[str, dict[int, dict[str, np.ndarray]]]:
    """``{configuration key: {seed: {"chip_id", "true_class", "proba"}}}`` sorted by chip, one entry per
    computed configuration (a DEM-only run shared by other revisit columns counts once)."""
    results = json.loads((ablation / artifacts.RESULTS_FILE).read_text())
    out: dict[str, dict[int, dict[str, np.ndarray]]] = {}
    for rep in results.get("repeats") or [{"seed": results["seed"], "dir": ".", "runs": results["runs"]}]:
        for r in rep["runs"]:
            if r.get("split") != split or r.get("shared_with"):
                continue
            pred = artifacts.read_predictions(ablation / rep["dir"], artifacts.RunSpec.of_result(r))
            order = np.argsort(pred["chip_id"])
            out.setdefault(r["key"], {})[int(rep["seed"])] = {
                k: pred[k][order] for k in ("chip_id", "true_class", "proba")
            }
    return out


def cross_fitted_map(
    proba: np.ndarray, y: np.ndarray, rule: str, repeats: int, seed: int = 0
) -> tuple[np.ndarray, float]:
    """The rule fitted on one random half of the chips and applied to the other, both ways, over
    ``repeats`` halvings: per chip the share of halvings in which it is shown its true class
    (``(n,)`` in [0, 1]), and the mean number of chips with landslides (class > 0) shown as 0."""
    rng = np.random.default_rng(seed)
    n = len(y)
    correct = np.zeros(n)
    missed = 0
    for _ in range(repeats):
        perm = rng.permutation(n)
        halves = (perm[: n // 2], perm[n // 2 :])
        shown = np.empty(n, np.int64)
        for fit_on, apply_to in (halves, halves[::-1]):
            shown[apply_to] = fit_decision(proba[fit_on], y[fit_on], rule).apply(proba[apply_to])
        correct += shown == y
        missed += int(((y > 0) & (shown == 0)).sum())
    return correct / repeats, missed / repeats


def bootstrap_interval(diff: np.ndarray, resamples: int = BOOTSTRAP, seed: int = 0) -> list[float]:
    """95 % percentile interval of ``diff.mean()`` over chip resamples."""
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), size=(resamples, len(diff)))].mean(axis=1)
    return [float(v) for v in np.percentile(means, [2.5, 97.5])]


def measure_configuration(by_seed: dict[int, dict[str, np.ndarray]], rules: list[str], repeats: int) -> dict[str, Any]:
    """The figures of one configuration and split (see the module docstring)."""
    seeds = sorted(by_seed)
    first = by_seed[seeds[0]]
    for s in seeds[1:]:
        if not np.array_equal(by_seed[s]["chip_id"], first["chip_id"]):
            raise SystemExit(f"seed {s} holds other chips than seed {seeds[0]}: not one store")
    y = first["true_class"]
    proba = np.mean([by_seed[s]["proba"] for s in seeds], axis=0)
    majority_class = int(np.bincount(y, minlength=3).argmax())
    majority_correct = (y == majority_class).astype(float)
    oracle, offsets = oracle_accuracy(proba, y)
    maps: dict[str, Any] = {}
    for rule in rules:
        correct, missed = cross_fitted_map(proba, y, rule, repeats)
        diff = correct - majority_correct
        maps[rule] = {
            "accuracy": float(correct.mean()),
            "minus_majority": float(diff.mean()),
            "minus_majority_ci95": bootstrap_interval(diff),
            "missed_landslide_chips": missed,
        }
    return {
        "n_seeds": len(seeds),
        "n_chips": int(len(y)),
        "auc_per_seed": t_interval(multiclass_auc(y, by_seed[s]["proba"]).macro for s in seeds),
        "auc_ensemble": float(multiclass_auc(y, proba).macro),
        "majority_accuracy": float(majority_correct.mean()),
        "oracle_minus_majority": oracle - float(majority_correct.mean()),
        "oracle_offsets": offsets,
        "map": maps,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ablation", type=Path, required=True, help="an `ablate --seeds N` output folder")
    ap.add_argument("--split", nargs="+", default=["random", "blocked"])
    ap.add_argument("--rules", nargs="+", default=["cost", "accuracy"], choices=DECISION_RULES)
    ap.add_argument("--repeats", type=int, default=50, help="random halvings of the cross-fitted rule")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    configurations: dict[str, Any] = {}
    for split in a.split:
        for key, by_seed in seed_probabilities(a.ablation, split).items():
            r = configurations[key] = measure_configuration(by_seed, a.rules, a.repeats)
            log.info(
                "%-18s AUC %.3f per seed -> %.3f ensemble (%d seeds); oracle − majority %+.3f; %s",
                key,
                r["auc_per_seed"]["mean"],
                r["auc_ensemble"],
                r["n_seeds"],
                r["oracle_minus_majority"],
                "; ".join(
                    f"{rule} {m['minus_majority']:+.3f} [{m['minus_majority_ci95'][0]:+.3f}, "
                    f"{m['minus_majority_ci95'][1]:+.3f}], missed {m['missed_landslide_chips']:.1f}"
                    for rule, m in r["map"].items()
                ),
            )
    figures = {
        "command": f"bench_seed_ensemble.py --ablation ABLATION --split {' '.join(a.split)} --repeats {a.repeats}",
        "ablation": str(a.ablation),
        "bootstrap_resamples": BOOTSTRAP,
        "configurations": configurations,
        "load_average": load_average(),
    }
    if not a.no_write:
        log.info("written to %s", merge_results("seed_ensemble", figures))


if __name__ == "__main__":
    main()
