"""Demo-scene realism figures: how much terrain explains, and how far chip density stays correlated.

For each seed it simulates the scene (in memory, hidden fields included) and prints:

* the in-sample R² of the slope-only model (:func:`landslide_app.scene.diagnostics.terrain_r2`) on
  the chip-level log expected density and on the log realised density (issue 13: well under 0.5);
* the land chips per density class and the mean density;
* the practical range (km) of an exponential fit to the empirical semivariogram of the chip-level
  log realised and log expected density (:mod:`landslide_app.model.variogram`), which sets the
  default block size of the blocked split (:data:`landslide_app.model.protocol.DEFAULT_BLOCK_SIZE`);
* what a map could be (``ceiling``, :mod:`landslide_app.scene.diagnostics`): the map accuracy, the
  landslide chips shown as class 0 and the held-out-free macro AUC of two reference models fitted
  on the truth, the **oracle** that knows each chip's expected heads (the storm included: the best
  SAR and DEM could tell) and the **terrain oracle** that knows only what slope tells of them,
  beside the majority baseline ("class 1 everywhere"). The Table 2 models' held-out AUCs read
  against these two.

Usage: ``python benchmarks/bench_scene.py [--size demo] [--seeds 0 1 2 3 4] [--figure PATH]``.
Writes the figures under ``"scene"`` in ``benchmarks/results.json`` and, with ``--figure``, the
variogram plot of the first seed (README figure).
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

import numpy as np
from common import report

from landslide_app import config
from landslide_app.model.metrics import multiclass_auc
from landslide_app.model.variogram import Variogram, fit_exponential
from landslide_app.scene import simulate_scene
from landslide_app.scene.diagnostics import (
    LAND_CHIP_FRACTION,
    chip_truth,
    class_probabilities,
    terrain_class_probabilities,
    terrain_r2,
)

log = logging.getLogger("bench_scene")
CHIP_KM = config.CHIP_SIZE * config.PIXEL_SIZE_M / 1000.0
MAX_LAG_KM = 16.0


def _chip_sum(a: np.ndarray) -> np.ndarray:
    n = config.CHIP_SIZE
    r, c = a.shape
    return a.reshape(r // n, n, c // n, n).sum(axis=(1, 3), dtype=np.float64)


def variograms(fields: Any) -> dict[str, Variogram]:
    """Variograms of the chip-level log realised and log expected density of a simulated scene."""
    land = _chip_sum(fields.land.astype(np.float32))
    is_land = land / config.CHIP_SIZE**2 > LAND_CHIP_FRACTION
    km2 = land[is_land] * fields.grid.pixel_area_km2
    heads = _chip_sum(fields.head_counts().astype(np.float32))[is_land]
    expected = _chip_sum(fields.intensity)[is_land]
    rows, cols = np.nonzero(is_land)
    x, y = (cols + 0.5) * CHIP_KM, (rows + 0.5) * CHIP_KM
    return {
        "realised": fit_exponential(x, y, np.log((heads + 0.5) / km2), CHIP_KM, MAX_LAG_KM),
        "expected": fit_exponential(x, y, np.log(np.maximum(expected, 1e-6) / km2), CHIP_KM, MAX_LAG_KM),
    }


def plot(vario: dict[str, Variogram], path: Path, title: str) -> None:
    """Semivariograms (points) and their fits (lines), with the default block size marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from landslide_app.model.protocol import DEFAULT_BLOCK_SIZE

    fig, ax = plt.subplots(figsize=(6.0, 3.8), dpi=110)
    h = np.linspace(0.0, MAX_LAG_KM, 200)
    for (name, v), colour in zip(vario.items(), ("tab:blue", "tab:orange")):
        ax.plot(v.lag_km, v.gamma, "o", color=colour, ms=4, label=f"log {name} density")
        ax.plot(h, v.model(h), "-", color=colour, lw=1.2, label=f"exponential fit, range {v.range_km:.1f} km")
        ax.axhline(v.variance, color=colour, lw=0.6, ls=":")
    block_km = DEFAULT_BLOCK_SIZE * CHIP_KM
    ax.axvline(
        block_km, color="k", lw=0.8, ls="--", label=f"default block {DEFAULT_BLOCK_SIZE} chips = {block_km:.2f} km"
    )
    ax.set_xlabel("distance between chip centres (km)")
    ax.set_ylabel("semivariance")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)


def ceiling(fields: Any) -> dict[str, Any]:
    """The map and AUC of the oracle and the terrain oracle against the realised classes."""
    truth = chip_truth(fields)
    y = truth.classes
    counts = np.bincount(y, minlength=3)
    out: dict[str, Any] = {"majority_accuracy": round(float(counts.max() / len(y)), 4)}
    models = {"oracle": class_probabilities(truth.expected, truth.max_class1_heads)}
    models["terrain_oracle"] = terrain_class_probabilities(fields, truth)
    for name, proba in models.items():
        pred = proba.argmax(axis=1)
        auc = multiclass_auc(y, proba)
        out[name] = {
            "accuracy": round(float(np.mean(pred == y)), 4),
            "accuracy_minus_majority": round(float(np.mean(pred == y) - out["majority_accuracy"]), 4),
            "missed_landslide_chips": int(np.sum((pred == 0) & (y > 0))),
            "pred_counts": np.bincount(pred, minlength=3).tolist(),
            "auc_macro": round(auc.macro, 4),
            "auc_per_class": [round(v, 4) for v in auc.per_class],
        }
    out["oracle"]["expected_accuracy"] = round(float(models["oracle"].max(axis=1).mean()), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="demo")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--figure", type=Path, default=None, help="write the variogram plot of the first seed here")
    ap.add_argument("--no-write", action="store_true", help="print only; do not touch results.json")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    per_seed = []
    for i, seed in enumerate(a.seeds):
        t0 = time.perf_counter()
        fields = simulate_scene(a.size, seed, progress=False)
        sim_s = time.perf_counter() - t0
        r2 = terrain_r2(fields)
        vario = variograms(fields)
        row = {
            "seed": seed,
            "simulate_s": round(sim_s, 1),
            "n_heads": fields.n_heads,
            "mean_density_per_km2": round(fields.mean_density_per_km2, 2),
            "land_chips": r2.n_chips,
            "class_counts": list(r2.class_counts),
            "r2_slope_expected": round(r2.expected, 3),
            "r2_slope_realised": round(r2.realised, 3),
            "range_km_realised": round(vario["realised"].range_km, 2),
            "range_km_expected": round(vario["expected"].range_km, 2),
            "ceiling": ceiling(fields),
        }
        log.info("seed %d: %s", seed, row)
        per_seed.append(row)
        if i == 0 and a.figure is not None:
            plot(vario, a.figure, f"Chip-level log density, {a.size} scene seed {seed} ({r2.n_chips} land chips)")
            log.info("variogram figure written to %s", a.figure)
    keys = ("r2_slope_expected", "r2_slope_realised", "range_km_realised", "range_km_expected")
    figures: dict[str, Any] = {"size": a.size, "seeds": list(a.seeds), "per_seed": per_seed}
    over_seeds = {k: [r[k] for r in per_seed] for k in keys}
    for name in ("oracle", "terrain_oracle"):
        for k in ("auc_macro", "accuracy_minus_majority"):
            over_seeds[f"{name}_{k}"] = [r["ceiling"][name][k] for r in per_seed]
    for k, v in over_seeds.items():
        vals = np.array(v, dtype=np.float64)
        figures[f"{k}_median"] = round(float(np.median(vals)), 3)
        figures[f"{k}_range"] = [round(float(vals.min()), 3), round(float(vals.max()), 3)]
    if a.no_write:
        for k, v in figures.items():
            log.info("%s %s", k, v)
    else:
        report("scene", figures)


if __name__ == "__main__":
    main()
