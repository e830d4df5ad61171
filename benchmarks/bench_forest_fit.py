"""Which chips the density forest is fitted on (issue 13): ``forest_fit="train"`` vs ``"validation"``, paired.

The forest of :class:`landslide_app.model.embedding_forest.EmbeddingForest` is fitted by default on
the training chips' embeddings, which the network has fitted (in-sample), while the test chips'
embeddings are out-of-sample. The alternative fits it on the validation chips' embeddings (which
the network did not fit) and calibrates the map's decision on the forest's out-of-bag
probabilities of those chips.

For each seed and configuration the network is trained **once** per fold: the ``"train"`` setting
is exactly :func:`landslide_app.model.cnn_protocol.run_configuration` (what ``ablate`` runs), and
the ``"validation"`` setting refits only the forests on the same fold networks and features
(:meth:`EmbeddingForest.with_forest_fit`) over the same split, so the comparison is paired (same
split, same networks) and costs one training. Per setting: held-out (test) AUC, the map's accuracy
and macro-F1 under the default decision rule and the landslide chips the map shows as class 0
(``missed_landslide_chips``); then per configuration the mean of each and the mean paired
difference (validation − train) with its two-sided 95 % paired t interval over seeds
(:mod:`landslide_app.experiments.seed_stats`).

``--from-ablation DIR`` trains nothing: it reuses the fold networks an ``ablate`` run saved
(``DIR/runs/<key>/model_fold<k>.pt``, the seeds whose repeat kept them) on the same store, redraws
the run's split from its seed, re-embeds the chips and fits both forest settings; the ``"train"``
setting must reproduce the run's recorded held-out AUC (checked, logged).

Usage: ``python benchmarks/bench_forest_fit.py --chips STORE [--configs fused-r3 dem-r1]
[--seeds 0 1 2 3 4] [--epochs 5] [--from-ablation DIR] [--no-write]``. Writes ``"forest_fit"`` in
``benchmarks/results.json`` after every seed (so a stopped run keeps the seeds it finished).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import load_average, merge_results, saved_cross_prediction, saved_run_dir

from landslide_app.chips.store import ChipStore
from landslide_app.core.vocabulary import FOREST_FITS
from landslide_app.experiments.seed_stats import INTERVAL_METHOD, metric_value, paired_difference, t_interval
from landslide_app.model.cnn_protocol import run_configuration
from landslide_app.model.crossval import CrossValResult, FoldData, cross_predict
from landslide_app.model.decision import DEFAULT_DECISION
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.map_classes import map_classes

log = logging.getLogger("bench_forest_fit")
#: What is compared: ``auc_test`` and the map metrics (seed_stats' metric names).
METRICS = ("auc_test", "auc_val", "map_accuracy", "map_macro_f1", "map_missed_landslide_chips")


def _result(cv: CrossValResult, rule: str) -> dict[str, Any]:
    """The parts of a result the statistics read (``auc``, ``map``), as ``ablate`` records them."""
    m = map_classes(cv, rule).metrics
    return {"auc": {s: a.macro for s, a in cv.auc.items()}, "map": m}


def run_seed(
    store: ChipStore, config: ModelConfig, seed: int, epochs: int, rule: str, run: Path | None = None
) -> dict[str, Any]:
    """Both settings of one configuration and seed, from one training (or ``run``'s saved networks):
    ``{setting: result, "seconds": ..., "n_forest_chips": ...}``."""
    ids, classes = store.ids, store.classes
    t0, c0 = time.perf_counter(), time.process_time()
    if run is None:
        cv = run_configuration(store, ids, classes, config, "random", epochs=epochs, seed=seed, progress=False).cv
    else:
        cv = saved_cross_prediction(store, config, "random", seed, epochs, run)
        recorded = json.loads((run / "result.json").read_text())["auc"]["test"]
        log.info("%s seed %d: saved networks reproduce AUC test %.4f (run: %.4f)", config.name, seed,
                 cv.auc["test"].macro, recorded)  # fmt: skip
    t1, c1 = time.perf_counter(), time.process_time()
    models = cv.models

    def refit(data: FoldData) -> Any:
        return models[data.k].with_forest_fit("validation", data)

    cv_val = cross_predict(cv.split, ids, classes, refit, label=f"{config.name} forest on validation")
    t2, c2 = time.perf_counter(), time.process_time()
    out: dict[str, Any] = {"train": _result(cv, rule), "validation": _result(cv_val, rule)}
    out["seconds"] = {
        "network_and_train_forest_wall": round(t1 - t0, 1),
        "network_and_train_forest_cpu": round(c1 - c0, 1),
        "validation_forest_wall": round(t2 - t1, 1),
        "validation_forest_cpu": round(c2 - c1, 1),
    }
    out["n_forest_chips"] = {
        "train": [int(len(f.train)) for f in cv.split.folds],
        "validation": [int(len(f.val)) for f in cv.split.folds],
    }
    return out


def summarise(per_seed: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """Means per setting and the paired difference validation − train, per metric."""
    out: dict[str, Any] = {}
    for metric in METRICS:
        row: dict[str, Any] = {}
        for setting in FOREST_FITS:
            t = t_interval(metric_value(per_seed[s][setting], metric) for s in per_seed)
            row[setting] = {"mean": t["mean"], "ci95": t["ci95"]}
        d = paired_difference(
            {s: per_seed[s]["validation"] for s in per_seed}, {s: per_seed[s]["train"] for s in per_seed}, metric
        )
        row["validation_minus_train"] = {k: d[k] for k in ("mean", "ci95", "n", "differences")}
        out[metric] = row
    return out


def saved_run(out: Path, name: str, seed: int) -> Path:
    """The random-split run folder of configuration ``name`` (``fused-r3``) and ``seed`` in an ablate
    output, with its fold networks."""
    d = saved_run_dir(out, f"{name}-random", seed)
    if d is None:
        raise SystemExit(f"{out}: no saved fold networks of {name} for seed {seed}")
    return d


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chips", required=True)
    ap.add_argument("--configs", nargs="+", default=["fused-r3", "dem-r1"], help="INPUTS-rREVISITS")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--decision", default=DEFAULT_DECISION)
    ap.add_argument("--from-ablation", type=Path, help="reuse this ablate output's saved fold networks")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("landslide_app").setLevel(logging.WARNING)
    store = ChipStore.open(a.chips)
    configs = {c: ModelConfig(c.split("-r")[0], int(c.split("-r")[1])) for c in a.configs}
    runs: dict[str, dict[int, dict[str, Any]]] = {c: {} for c in configs}
    load_before = load_average()
    for seed in a.seeds:  # seeds outer: a stopped run has every configuration for the seeds it finished
        for name, config in configs.items():
            run = None if a.from_ablation is None else saved_run(a.from_ablation, name, seed)
            r = run_seed(store, config, seed, a.epochs, a.decision, run)
            runs[name][seed] = r
            log.info(
                "%s seed %d: AUC test train %.3f / validation %.3f, accuracy %.3f / %.3f, macro-F1 %.3f / %.3f, "
                "missed %d / %d (%s)",
                name,
                seed,
                *(
                    metric_value(r[s], m)
                    for m in ("auc_test", "map_accuracy", "map_macro_f1", "map_missed_landslide_chips")
                    for s in FOREST_FITS
                ),
                r["seconds"],
            )
        figures = {
            "store": str(a.chips),
            "n_chips": int(len(store.ids)),
            "true_counts": np.bincount(store.classes, minlength=3).tolist(),
            "split": "random",
            "epochs": a.epochs,
            "decision": a.decision,
            "seeds_done": sorted(runs[next(iter(runs))]),
            "interval_method": INTERVAL_METHOD,
            "summary": {c: summarise(runs[c]) for c in runs if len(runs[c]) >= 1},
            "per_seed": {c: {str(s): v for s, v in runs[c].items()} for c in runs},
            "load_before": load_before,
            "load_now": load_average(),
            "cpu_count": os.cpu_count(),
        }
        if not a.no_write:
            log.info("written to %s", merge_results("forest_fit", figures))
    for c in runs:
        for metric, row in summarise(runs[c]).items():
            d = row["validation_minus_train"]
            ci = "n/a" if d["ci95"] is None else f"[{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}]"
            log.info(
                "%s %-28s train %.3f validation %.3f difference %+.3f 95%% %s (n=%d)",
                c,
                metric,
                row["train"]["mean"],
                row["validation"]["mean"],
                d["mean"],
                ci,
                d["n"],
            )


if __name__ == "__main__":
    main()
