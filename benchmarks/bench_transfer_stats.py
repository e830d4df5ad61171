"""Transfer of the SAR chip-statistics baseline: trained on one island, scored on islands it never saw.

Usage: ``python benchmarks/bench_transfer_stats.py [--size demo] [--seeds 1 2 3] [--revisits 1 2 3]
[--train-seed 0] [--workdir DIR] [--no-write]``.

The companion of ``bench_transfer.py`` (the CNN's transfer, results.json ``transfer``), on the same
islands (scene seeds) and size:

1. the training island's labelled chip store; the SAR chip statistics of every chip
   (:mod:`landslide_app.baselines.sar_stats`) and the baseline's seeded forest fitted on all of them;
   the map's decision (the ``cost`` rule) fitted on the forest's out-of-bag probabilities;
2. every target island's labelled store, its features, the forest's probabilities: the
   **out-of-area AUC** (macro one-vs-rest), the map's accuracy minus "the target's majority class
   everywhere", and the landslide chips the map shows as "none";
3. with the change features as they are (``raw``), and centred on each island's own median
   (``scene``: the analogue of ``--normalise scene``, which absorbs a scene-wide shift of the
   post - pre change that is not the storm, such as another season; a calibration offset common to
   all dates of an event cancels in the change features already).

Differences from ``bench_transfer.py``: the forest is fitted on all the training island's chips (the
CNN's runs used 80 %, the other 20 % picking the epoch), and the target stores are built with their
inventory at once (nothing here is fitted on them, so the order does not matter).

Writes the ``transfer_sar_stats`` section of ``benchmarks/results.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench_transfer import _open, _scene
from common import load_average, report

from landslide_app.baselines.sar_stats import centre_on_median

log = logging.getLogger("bench_transfer_stats")

CENTRING = ("raw", "scene")


def island_features(store: Any, revisits: int) -> tuple[np.ndarray, np.ndarray]:
    """``(features, classes)`` of every chip of a labelled store, in sorted id order."""
    from landslide_app.baselines.sar_stats import compute_sar_stats_features

    order = np.argsort(store.ids)
    ids = np.asarray(store.ids)[order]
    return compute_sar_stats_features(store, ids, revisits, progress=False), np.asarray(store.classes)[order]


def transfer_scores(
    train: tuple[np.ndarray, np.ndarray], targets: list[tuple[np.ndarray, np.ndarray]], seed: int = 0
) -> dict[str, dict[str, list[float | int | None]]]:
    """Per centring, per target: out-of-area AUC, map accuracy − majority, landslide chips shown as 0."""
    from landslide_app.baselines.sar_stats import N_TREES
    from landslide_app.model.decision import fit_decision
    from landslide_app.model.forest import DensityForest
    from landslide_app.model.metrics import multiclass_auc, nan_to_none

    x0, y0 = train
    out: dict[str, dict[str, list[float | int | None]]] = {}
    for mode in CENTRING:
        prep = centre_on_median if mode == "scene" else np.asarray
        forest = DensityForest(seed=seed, n_estimators=N_TREES).fit(prep(x0), y0)
        oob = forest.oob_proba()
        ok = np.isfinite(oob).all(axis=1)
        decision = fit_decision(oob[ok], y0[ok], rule="cost", prior_shift=forest.prior_shift())
        scores: dict[str, list[float | int | None]] = {"auc": [], "map_gain": [], "missed": []}
        for x, y in targets:
            proba = forest.predict_proba(prep(x))
            pred = decision.apply(proba)
            majority = float(np.mean(y == np.bincount(y).argmax()))
            scores["auc"].append(nan_to_none(multiclass_auc(y, proba).macro))
            scores["map_gain"].append(round(float(np.mean(pred == y)) - majority, 4))
            scores["missed"].append(int(np.sum((pred == 0) & (y > 0))))
        out[mode] = scores
    return out


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return round(statistics.fmean(vals), 4) if vals else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="demo", help="island size (tiny, demo, COLSxROWS; default demo)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3], help="target island seeds (default 1 2 3)")
    ap.add_argument("--revisits", type=int, nargs="+", default=[1, 2, 3], choices=[1, 2, 3])
    ap.add_argument("--train-seed", type=int, default=0, help="the training island's scene seed (default 0)")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/bench_transfer"))
    ap.add_argument("--no-write", action="store_true", help="print the figures only")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("landslide_app", "pyogrio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    from landslide_app.chips.build import build_chips

    t0 = time.perf_counter()
    root = a.workdir / f"{a.size}-stats"
    root.mkdir(parents=True, exist_ok=True)

    def labelled_store(seed: int) -> Any:
        scene = _scene(root, a.size, seed)
        return build_chips(_open(scene), scene / "inventory.gpkg", root / f"chips-s{seed}", progress=False).store

    train_store = labelled_store(a.train_seed)
    target_stores = [labelled_store(s) for s in a.seeds]
    rows: dict[str, Any] = {}
    for k in a.revisits:
        scores = transfer_scores(
            island_features(train_store, k), [island_features(s, k) for s in target_stores], seed=a.train_seed
        )
        rows[f"sar_stats-r{k}"] = {
            mode: {**s, "auc_mean": _mean(s["auc"]), "map_gain_mean": _mean(s["map_gain"])}
            for mode, s in scores.items()
        }
        for mode, s in scores.items():
            log.info("sar_stats r%d %s: out-of-area AUC %s, map − majority %s, missed %s", k, mode, *s.values())
    lines = [
        "| baseline | out-of-area AUC, raw | map − majority, raw | out-of-area AUC, scene-centred | "
        "map − majority, scene-centred |",
        "|---|---|---|---|---|",
    ]
    for key, r in rows.items():
        lines.append(
            f"| {key} | {r['raw']['auc_mean']:.3f} | {r['raw']['map_gain_mean']:+.3f} | "
            f"{r['scene']['auc_mean']:.3f} | {r['scene']['map_gain_mean']:+.3f} |"
        )
    md = "\n".join(lines)
    print(md)
    figures = {
        "size": a.size,
        "train_seed": a.train_seed,
        "target_seeds": a.seeds,
        "n_chips": {"train": len(train_store.ids), "targets": [len(s.ids) for s in target_stores]},
        "decision": "cost",
        "configs": rows,
        "table_md": md,
        "seconds_total": round(time.perf_counter() - t0, 1),
        "load_average": load_average(),
    }
    if not a.no_write:
        report("transfer_sar_stats", figures)


if __name__ == "__main__":
    main()
