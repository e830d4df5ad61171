"""How accurate can the map of an ablation's models be at best? An upper bound for issue 13.

The map's classes come from the forest's probabilities ``p`` through a decision fitted on the
validation chips (:mod:`landslide_app.model.decision`). Every rule that shows the most probable
*calibrated* class (``accuracy``, and ``macro_f1``, whose class weights add to the log-probabilities)
shows ``argmax_k(log p_k + b_k)`` for some per-class offsets ``b`` (the calibration's shared slope
does not move an argmax). This script fits ``b`` on the **held-out chips themselves** (a grid over
``b_0`` and ``b_2`` with ``b_1 = 0``, step 0.05 over ±6) and reports the best accuracy any such
rule could reach with the run's probabilities: an oracle no honest decision can beat, since it
looks at the answers. Beside it: the map accuracy the run recorded (its own rule, fitted on the
validation chips) and the majority-class baseline (the most frequent class of the folds' training
chips, shown everywhere), each as a mean with its 95 % t interval over the ablation's seeds
(:func:`landslide_app.experiments.seed_stats.t_interval`), paired per seed.

If even the oracle's margin over the majority baseline is small, no decision rule can make the map
beat the baseline by more: the limit is the model's separation of the classes, not the rule.

Usage: ``python benchmarks/bench_map_ceiling.py --ablation DIR [--split random blocked] [--no-write]``
(``DIR``: an ``ablate --seeds N`` output). Writes ``"map_ceiling"`` in ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
from common import load_average, merge_results

from landslide_app.experiments import artifacts
from landslide_app.experiments.seed_stats import t_interval

log = logging.getLogger("bench_map_ceiling")
GRID = np.round(np.arange(-6.0, 6.0001, 0.05), 2)


def oracle_accuracy(proba: np.ndarray, y: np.ndarray) -> tuple[float, list[float]]:
    """Best accuracy of ``argmax(log p + b)`` over the offset grid (``b_1 = 0``), and its ``b``."""
    logp = np.log(np.clip(proba, 1e-9, 1.0))
    best, best_b = -1.0, [0.0, 0.0, 0.0]
    for b0 in GRID:
        # for a fixed b0, vectorise over b2: scores (n, len(GRID), 3)
        s = np.stack(
            [np.broadcast_to(logp[:, :1] + b0, (len(y), len(GRID))),
             np.broadcast_to(logp[:, 1:2], (len(y), len(GRID))),
             logp[:, 2:3] + GRID[None, :]],
            axis=2,
        )  # fmt: skip
        acc = (s.argmax(axis=2) == y[:, None]).mean(axis=0)
        k = int(acc.argmax())
        if acc[k] > best:
            best, best_b = float(acc[k]), [float(b0), 0.0, float(GRID[k])]
    return best, best_b


def measure(ablation: Path, splits: list[str]) -> dict[str, Any]:
    """Per configuration and split: recorded map accuracy, oracle accuracy and majority, over seeds."""
    results = json.loads((ablation / artifacts.RESULTS_FILE).read_text())
    per_key: dict[str, list[dict[str, Any]]] = {}
    for rep in results["repeats"]:
        base = ablation / rep["dir"]
        for r in rep["runs"]:
            if r.get("split") not in splits or r.get("shared_with"):
                continue
            pred = artifacts.read_predictions(base, artifacts.RunSpec.of_result(r))
            oracle, b = oracle_accuracy(pred["proba"], pred["true_class"])
            m = r["map"]
            per_key.setdefault(r["key"], []).append(
                {
                    "seed": rep["seed"],
                    "map_accuracy": m["accuracy"],
                    "majority_accuracy": m["majority_accuracy"],
                    "oracle_accuracy": oracle,
                    "oracle_offsets": b,
                }
            )
    out: dict[str, Any] = {}
    for key, seeds in per_key.items():
        maj = [s["majority_accuracy"] for s in seeds]
        out[key] = {
            "n_seeds": len(seeds),
            "map_minus_majority": t_interval([s["map_accuracy"] - m for s, m in zip(seeds, maj)]),
            "oracle_minus_majority": t_interval([s["oracle_accuracy"] - m for s, m in zip(seeds, maj)]),
            "majority_accuracy": t_interval(maj),
            "seeds": seeds,
        }
        log.info(
            "%-18s map − majority %+.3f [%+.3f, %+.3f]   oracle − majority %+.3f [%+.3f, %+.3f]   (%d seeds)",
            key,
            out[key]["map_minus_majority"]["mean"],
            *out[key]["map_minus_majority"]["ci95"],
            out[key]["oracle_minus_majority"]["mean"],
            *out[key]["oracle_minus_majority"]["ci95"],
            len(seeds),
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ablation", type=Path, required=True, help="an `ablate --seeds N` output folder")
    ap.add_argument("--split", nargs="+", default=["random", "blocked"])
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    figures = {
        "command": f"bench_map_ceiling.py --ablation ABLATION --split {' '.join(a.split)}",
        "grid": {"low": float(GRID[0]), "high": float(GRID[-1]), "step": 0.05},
        "configurations": measure(a.ablation, a.split),
        "load_average": load_average(),
    }
    if not a.no_write:
        log.info("written to %s", merge_results("map_ceiling", figures))


if __name__ == "__main__":
    main()
