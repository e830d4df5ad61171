"""The map's classes on a chip store: forest class weights, calibration and decision rules, measured.

For each seed it runs one configuration under the paper's protocol (default fused r3, random
split, 5 epochs), then, per fold, re-uses the fold's chip features (training, validation and test
chips, embedded by that fold's network) to compare, on the pooled held-out predictions:

* forest ``class_weight="balanced"`` (the current default) vs ``None``;
* for each: the raw argmax (today's map), the prior shift only, and the decisions of
  :mod:`landslide_app.model.decision` (``accuracy``, ``cost``, ``macro_f1``) calibrated on the
  fold's validation chips;
* ``<weights>/<rule>+oob``: the same rules with the calibration and decision fitted on more chips, the
  validation chips and the training chips' out-of-bag forest probabilities (~190 chips per fold
  instead of ~38; each training chip is scored only by trees that did not see it);
* the forest fitted on the validation chips' (out-of-sample) embeddings instead of the training
  chips' (in-sample) ones, and on both (issue 13's alternative), by held-out AUC.

Prints one line per variant (accuracy, balanced accuracy, macro-F1, recall per class, chips with
landslides shown as class 0, predicted counts, Brier of the calibrated probabilities, AUC) and the
majority-class baseline (majority of each fold's training chips), and per variant the mean accuracy
minus the majority baseline with its 95 % paired t interval over seeds. Writes ``"map"`` (or
``--section``) in ``benchmarks/results.json`` unless ``--no-write``.

Usage: ``python benchmarks/bench_map.py --chips STORE [--seeds 0 1 2] [--epochs 5]
[--inputs fused] [--revisits 3] [--split random]``.
"""

from __future__ import annotations

import argparse
import logging
import time
from typing import Any

import numpy as np
from common import load_average, report

from landslide_app.chips.store import ChipStore
from landslide_app.experiments.seed_stats import t_interval
from landslide_app.model.cnn_protocol import run_configuration
from landslide_app.model.decision import DECISION_RULES, fit_decision
from landslide_app.model.forest import DensityForest
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.metrics import map_metrics, multiclass_auc

log = logging.getLogger("bench_map")
WEIGHTS: dict[str, Any] = {"balanced": "balanced", "none": None}


def _variants(res: Any, y_of: dict[int, int], seed: int) -> dict[str, dict[str, np.ndarray]]:
    """Held-out probabilities and classes of every variant, pooled over the folds (test order = res.ids)."""
    pos = {int(i): n for n, i in enumerate(res.ids)}
    n = len(res.ids)
    out: dict[str, dict[str, np.ndarray]] = {}

    def put(name: str, idx: np.ndarray, proba: np.ndarray, pred: np.ndarray, cal: np.ndarray) -> None:
        v = out.setdefault(
            name,
            {
                "proba": np.zeros((n, 3)),
                "pred": np.zeros(n, np.int64),
                "cal": np.zeros((n, 3)),
                "majority": np.zeros(n, np.int64),
            },
        )
        v["proba"][idx], v["pred"][idx], v["cal"][idx] = proba, pred, cal

    for fold, m in zip(res.protocol.folds, res.cv.models):
        f_tr, f_val, f_te = m.features(fold.train), m.features(fold.val), m.features(fold.test)
        y_tr = np.array([y_of[int(i)] for i in fold.train])
        y_val = np.array([y_of[int(i)] for i in fold.val])
        idx = np.array([pos[int(i)] for i in fold.test])
        majority = int(np.argmax(np.bincount(y_tr, minlength=3)))
        for wname, cw in WEIGHTS.items():
            forest = DensityForest(seed=seed, class_weight=cw).fit(f_tr, y_tr)
            p_val, p_te = forest.predict_proba(f_val), forest.predict_proba(f_te)
            put(f"{wname}/raw", idx, p_te, np.argmax(p_te, 1), p_te)
            prior = fit_decision(p_val, y_val, "accuracy", prior_shift=forest.prior_shift(), calibrate=False)
            put(f"{wname}/prior", idx, p_te, prior.apply(p_te), prior.calibrate(p_te))
            # the decisions fitted on the validation chips, and on more chips: the validation chips and the
            # training chips' out-of-bag probabilities (each scored only by trees that did not see it; rows
            # without any left out)
            oob = forest.oob_proba()
            ok = np.isfinite(oob).all(axis=1)
            calibration_sets = {"": (p_val, y_val), "+oob": (np.r_[oob[ok], p_val], np.r_[y_tr[ok], y_val])}
            for suffix, (p_cal, y_cal) in calibration_sets.items():
                for rule in DECISION_RULES:
                    d = fit_decision(p_cal, y_cal, rule, prior_shift=forest.prior_shift())
                    put(f"{wname}/{rule}{suffix}", idx, p_te, d.apply(p_te), d.calibrate(p_te))
        for name, (fx, fy) in {
            "forest-on-val": (f_val, y_val),
            "forest-on-train+val": (np.r_[f_tr, f_val], np.r_[y_tr, y_val]),
        }.items():
            forest = DensityForest(seed=seed, class_weight=None).fit(fx, fy)
            p_te = forest.predict_proba(f_te)
            put(name, idx, p_te, np.argmax(p_te, 1), p_te)
        for v in out.values():
            v["majority"][idx] = majority
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chips", required=True)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--inputs", default="fused")
    ap.add_argument("--revisits", type=int, default=3)
    ap.add_argument("--split", default="random")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--section", help='results.json section (default "map")')
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    store = ChipStore.open(a.chips)
    ids, classes = store.ids, store.classes
    y_of = dict(zip(ids.tolist(), classes.tolist()))
    per_variant: dict[str, list[dict[str, Any]]] = {}
    for seed in a.seeds:
        t0 = time.perf_counter()
        res = run_configuration(
            store, ids, classes, ModelConfig(a.inputs, a.revisits), a.split, epochs=a.epochs, seed=seed, progress=False
        )
        log.info(
            "seed %d: %s run in %.0f s, AUC test %.3f",
            seed,
            res.config.name,
            time.perf_counter() - t0,
            res.auc["test"].macro,
        )
        y = res.y_true
        for name, v in _variants(res, y_of, seed).items():
            maj_acc = float(np.mean(y == v["majority"]))
            m = map_metrics(y, v["pred"], v["cal"])
            row = {
                k: m[k]
                for k in (
                    "accuracy",
                    "balanced_accuracy",
                    "macro_f1",
                    "recall",
                    "precision",
                    "missed_landslide_chips",
                    "pred_counts",
                    "true_counts",
                    "brier",
                    "confusion",
                )
            }
            row.update(seed=seed, auc=round(multiclass_auc(y, v["proba"]).macro, 4), majority_accuracy=maj_acc)
            per_variant.setdefault(name, []).append(row)
            log.info(
                "  %-22s acc %.3f (majority %.3f) bal %.3f F1 %.3f recall %s missed %3d pred %s brier %.3f AUC %.3f",
                name,
                row["accuracy"],
                maj_acc,
                row["balanced_accuracy"],
                row["macro_f1"],
                [round(r, 2) if r is not None else None for r in row["recall"]],
                row["missed_landslide_chips"],
                row["pred_counts"],
                row["brier"],
                row["auc"],
            )
    summary: dict[str, dict[str, Any]] = {}
    for name, rows in per_variant.items():
        gain = t_interval([r["accuracy"] - r["majority_accuracy"] for r in rows])
        summary[name] = {
            "accuracy_minus_majority": round(float(gain["mean"]), 4),
            "accuracy_minus_majority_ci95": [round(float(v), 4) for v in gain["ci95"]] if gain["ci95"] else None,
            **{
                k: round(float(np.mean([r[k] for r in rows])), 4)
                for k in (
                    "accuracy",
                    "balanced_accuracy",
                    "macro_f1",
                    "brier",
                    "auc",
                    "majority_accuracy",
                    "missed_landslide_chips",
                )
            },
        }
    log.info("mean over seeds %s:", a.seeds)
    for name, s in summary.items():
        log.info("  %-22s %s", name, s)
    figures = {
        "store": str(a.chips),
        "config": f"{a.inputs}-r{a.revisits}-{a.split}",
        "load_average": load_average(),
        "epochs": a.epochs,
        "seeds": a.seeds,
        "true_counts": per_variant["balanced/raw"][0]["true_counts"],
        "mean": summary,
        "per_seed": per_variant,
    }
    if not a.no_write:
        report(a.section or "map", figures)


if __name__ == "__main__":
    main()
