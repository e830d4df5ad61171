"""Does the CNN's map need the embedding's tail? The paper's 19 percentiles against more per-chip features.

Usage: ``python benchmarks/bench_tail_features.py --chips STORE [--configs fused-r3 sar-r3]
[--seeds 0 1 2 3 4] [--split blocked random] [--epochs 5] [--from-ablation DIR] [--no-write]``;
``--resummarise`` recomputes the summary from the per-seed figures already in ``benchmarks/results.json``.

The paper describes each chip by 19 percentiles (5 %, 10 %, ..., 95 %) of its per-pixel embedding.
The density classes' first boundary is "any landslide at all", and a chip with a few landslides
differs from one with none in a few hundred of its 16,384 pixels: above the 95th percentile, where
the paper's features do not look. Table 2 found every CNN map at or near "class 1 everywhere". This
measures, on the **same trained networks** (so the comparison is paired: same split, same network,
same forest seed, only the forest's input differs), the forest on:

* ``paper``: the 19 percentiles (exactly the ablation's: the fold model's own features);
* ``tail``: those + the 99th and 99.9th percentiles and the maximum of the chip's embedding;
* ``stats``: the SAR chip-statistics baseline's ten features alone (:mod:`landslide_app.baselines.sar_stats`,
  its 200 trees: Table 2's baseline row), for reference on the same splits;
* ``paper+stats`` and ``tail+stats``: the CNN's features beside the statistics (does the network add
  anything to the ten numbers?).

Per variant, configuration, split and seed: held-out AUC, map accuracy (the ``cost`` rule fitted on
each fold's validation chips, :mod:`landslide_app.model.map_classes`), its gain over the majority
class, macro-F1 and the landslide chips shown as "none"; then means, 95 % t intervals over seeds and
paired differences against ``paper``. Networks are trained as ``landslide-app ablate`` trains them
(:func:`landslide_app.model.cnn_protocol.run_configuration`, the ablation's block size), or loaded
from an ablation's saved fold networks (``--from-ablation``: the seeds and splits that kept them).

The claim tested is written into the output before any figure (``claim``): a confirmation can be
told from a result picked afterwards. Writes ``tail_features`` in ``benchmarks/results.json`` after
every seed (a stopped run keeps what it finished).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from common import RESULTS, load_average, machine, merge_results, saved_cross_prediction, saved_run_dir

from landslide_app.baselines.evaluate import FeatureForestFold
from landslide_app.baselines.sar_stats import N_TREES as STATS_TREES
from landslide_app.baselines.sar_stats import compute_sar_stats_features
from landslide_app.chips.store import ChipStore
from landslide_app.experiments.ablation import AblationSettings, _block_size, chip_classes
from landslide_app.experiments.seed_stats import INTERVAL_METHOD, t_interval
from landslide_app.model.chipsets import ChipSubset, as_batch_getter
from landslide_app.model.cnn_protocol import run_configuration
from landslide_app.model.crossval import CrossValResult, FoldData, check_classes, cross_predict
from landslide_app.model.decision import DEFAULT_DECISION
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.map_classes import map_classes

log = logging.getLogger("bench_tail_features")

CLAIM = (
    "the embedding's tail (p99, p99.9, max beside the 19 percentiles) raises the fused-r3 CNN map's "
    "accuracy gain over 'class 1 everywhere' on the blocked split, with a 95 % paired t interval of "
    "tail − paper above 0 over the seeds; adopted as the default only then, and only if held-out AUC "
    "does not fall (interval of the difference not below 0)"
)
VARIANTS = ("paper", "tail", "stats", "paper+stats", "tail+stats")
TAIL_NAMES = ("p99", "p99_9", "max")
METRICS = ("auc_test", "map_gain", "map_accuracy", "map_macro_f1", "map_missed_landslide_chips", "map_shown_none")


def tail_features(emb: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``(n, 3)``: 99th, 99.9th percentile and maximum of each chip's valid embedding pixels."""
    out = np.full((len(emb), len(TAIL_NAMES)), np.nan, np.float32)
    for i, (e, v) in enumerate(zip(emb, valid)):
        vals = np.asarray(e, np.float64)[np.asarray(v, bool) & np.isfinite(e)]
        if vals.size:
            out[i] = [*np.percentile(vals, [99.0, 99.9]), vals.max()]
    return out


def fold_networks(
    store: ChipStore, config: ModelConfig, split: str, seed: int, epochs: int, saved: Path | None
) -> CrossValResult:
    """The ablation's cross-prediction of one configuration: trained as ``ablate`` trains it, or from the
    fold networks an ablation saved in the run folder ``saved`` (forests refitted, nothing trained)."""
    block = _block_size(store, AblationSettings())
    if saved is not None:
        return saved_cross_prediction(store, config, split, seed, epochs, saved, block)
    ids, y = check_classes(store.ids, chip_classes(store, None))
    kind: Any = split
    return run_configuration(
        store, ids, y, config, kind, epochs=epochs, seed=seed, progress=False, block_size=block,
        train_kwargs={"precision": "auto"},
    ).cv  # fmt: skip


def variant_tables(cv: CrossValResult, store: ChipStore, stats: np.ndarray | None) -> dict[str, list[np.ndarray]]:
    """Per variant, per fold: the forest's input rows of every chip (sorted ids), from that fold's network."""
    ids = np.sort(cv.ids)
    get_batch = as_batch_getter(store)
    out: dict[str, list[np.ndarray]] = {v: [] for v in VARIANTS if stats is not None or "stats" not in v}
    pos = {int(i): n for n, i in enumerate(ids)}
    for model in cv.models:
        paper = model.features(ids)  # the fold model's own 19 features (train, val and test chips)
        tail = np.empty((len(ids), len(TAIL_NAMES)), np.float32)
        for bid, emb, valid in model.model.iter_embeddings(ChipSubset(get_batch, ids), batch_size=16):
            tail[[pos[int(i)] for i in bid]] = tail_features(emb, valid)
        tables = {"paper": paper, "tail": np.hstack([paper, tail])}
        if stats is not None:
            tables.update(
                {
                    "stats": stats,
                    "paper+stats": np.hstack([paper, stats]),
                    "tail+stats": np.hstack([paper, tail, stats]),
                }
            )
        for v in out:
            out[v].append(tables[v])
    return out


def score(cv: CrossValResult, rule: str) -> dict[str, Any]:
    """Held-out AUC and the map's figures of one cross-prediction."""
    m = map_classes(cv, rule).metrics
    return {
        "auc_test": cv.auc["test"].macro,
        "map_accuracy": m["accuracy"],
        "map_gain": m["accuracy"] - m["majority_accuracy"],
        "map_macro_f1": m["macro_f1"],
        "map_missed_landslide_chips": m["missed_landslide_chips"],
        "map_shown_none": m["pred_counts"][0],
        "pred_counts": m["pred_counts"],
    }


def run_one(
    store: ChipStore, config: ModelConfig, split: str, seed: int, epochs: int, rule: str, saved: Path | None
) -> dict[str, Any]:
    """Every variant of one configuration, split and seed, on the same fold networks."""
    t0 = time.perf_counter()
    cv = fold_networks(store, config, split, seed, epochs, saved)
    t1 = time.perf_counter()
    ids = np.sort(cv.ids)
    stats = None
    if config.inputs != "dem":
        stats = compute_sar_stats_features(store, ids, config.revisits, progress=False)
    tables = variant_tables(cv, store, stats)
    y = cv.y_true
    out: dict[str, Any] = {"paper_as_ablate": score(cv, rule)}

    def fold_fit(variant: str) -> Callable[[FoldData], FeatureForestFold]:
        trees = {"n_estimators": STATS_TREES} if variant == "stats" else {}
        return lambda d: FeatureForestFold(ids, tables[variant][d.k], seed + d.k, trees).fit(d)

    for variant in tables:
        out[variant] = score(cross_predict(cv.split, ids, y, fold_fit(variant), label=variant), rule)
    same = out["paper"]["auc_test"] == out["paper_as_ablate"]["auc_test"]
    if not same:
        raise SystemExit(f"{config.name} {split} seed {seed}: the refitted paper forest does not reproduce the run")
    out["seconds"] = {"networks": round(t1 - t0, 1), "variants": round(time.perf_counter() - t1, 1)}
    return out


def summarise(per_seed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per variant and metric: mean and 95 % interval; the paired difference of every variant ≠ paper
    against ``paper`` (``minus_paper``), and of the CNN + statistics variants against ``stats``
    (``minus_stats``: does the network add anything to the ten numbers?)."""
    variants = [v for v in VARIANTS if all(v in r for r in per_seed.values())]
    out: dict[str, Any] = {}
    for v in variants:
        row: dict[str, Any] = {}
        for metric in METRICS:
            t = t_interval(r[v][metric] for r in per_seed.values())
            row[metric] = {"mean": t["mean"], "ci95": t["ci95"]}
            for other in ("paper", "stats"):
                if v != other and (other == "paper" or v.endswith("+stats")) and other in variants:
                    row[metric][f"minus_{other}"] = _paired(per_seed, v, other, metric)
        out[v] = row
    return out


def _paired(per_seed: dict[str, dict[str, Any]], a: str, b: str, metric: str) -> dict[str, Any]:
    """``a − b`` of ``metric`` over the seeds: mean, 95 % paired t interval (of the per-seed differences), n."""
    t = t_interval(r[a][metric] - r[b][metric] for r in per_seed.values())
    return {k: t[k] for k in ("mean", "ci95", "n")}


def log_summary(summary: dict[str, Any]) -> None:
    """One line per configuration and variant: means, and the paired differences with their intervals."""
    for key, summ in summary.items():
        for v, row in summ.items():
            parts = []
            for metric in ("auc_test", "map_gain", "map_missed_landslide_chips"):
                diffs = "".join(
                    f" (− {other} {d['mean']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}])"
                    for other in ("paper", "stats")
                    if (d := row[metric].get(f"minus_{other}")) and d["ci95"] is not None
                )
                parts.append(f"{metric} {row[metric]['mean']:.3f}{diffs}")
            log.info("%-16s %-11s %s", key, v, "; ".join(parts))


def resummarise() -> None:
    """Recompute ``tail_features.summary`` from its ``per_seed`` figures (nothing trained)."""
    section = json.loads(RESULTS.read_text())["tail_features"]
    summary = {k: summarise(v) for k, v in section["per_seed"].items()}
    log.info("written to %s", merge_results("tail_features", {"summary": summary}, keep=True))
    log_summary(summary)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chips", type=Path)
    ap.add_argument("--configs", nargs="+", default=["fused-r3", "sar-r3"], help="INPUTS-rREVISITS")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--split", nargs="+", default=["blocked", "random"], choices=["random", "blocked"])
    ap.add_argument("--epochs", type=int, default=AblationSettings().epochs)
    ap.add_argument("--decision", default=DEFAULT_DECISION)
    ap.add_argument("--from-ablation", type=Path, help="reuse this ablate output's saved fold networks")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--resummarise", action="store_true", help="only recompute the summary in results.json")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("landslide_app").setLevel(logging.WARNING)
    if a.resummarise:
        return resummarise()
    if a.chips is None:
        ap.error("--chips is required (unless --resummarise)")
    store = ChipStore.open(a.chips)
    configs = {c: ModelConfig(c.split("-r")[0], int(c.split("-r")[1])) for c in a.configs}
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    figures: dict[str, Any] = {"claim": CLAIM, "machine": machine(), "load_before": load_average()}
    t0 = time.perf_counter()
    for seed in a.seeds:  # seeds outer: a stopped run has every configuration for the seeds it finished
        for split in a.split:
            for name, config in configs.items():
                key = f"{name}-{split}"
                saved = None if a.from_ablation is None else saved_run_dir(a.from_ablation, key, seed)
                r = run_one(store, config, split, seed, a.epochs, a.decision, saved)
                runs.setdefault(key, {})[str(seed)] = r
                log.info(
                    "%s seed %d (%s): %s",
                    key,
                    seed,
                    "saved networks" if saved else "trained",
                    "; ".join(
                        f"{v} AUC {r[v]['auc_test']:.3f} gain {r[v]['map_gain']:+.3f} none {r[v]['map_shown_none']}"
                        for v in VARIANTS
                        if v in r
                    ),
                )
        figures.update(
            {
                "store": str(a.chips),
                "n_chips": int(len(store.ids)),
                "true_counts": np.bincount(store.classes, minlength=3).tolist(),
                "epochs": a.epochs,
                "decision": a.decision,
                "interval_method": INTERVAL_METHOD,
                "summary": {k: summarise(v) for k, v in runs.items()},
                "per_seed": runs,
                "wall_seconds": round(time.perf_counter() - t0, 1),
                "load_now": load_average(),
                "cpu_count": os.cpu_count(),
            }
        )
        if not a.no_write:
            log.info("written to %s", merge_results("tail_features", figures))
    log_summary(figures.get("summary", {}))


if __name__ == "__main__":
    main()
