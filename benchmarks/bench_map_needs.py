"""What held-out AUC does a map need to beat "class 1 everywhere"? A synthetic sweep for issue 13.

On the demo store 256 of 383 chips are class 1, so the majority-class map is right 66.8 % of the time.
The models reach a macro AUC of 0.70–0.80 and their maps stay within ±0.01 of that baseline, the
ensemble of 3 networks included (``bench_ensemble.py``). This script asks how much separation a map
needs, with probabilities whose AUC is known and whose structure is the simplest ordinal one:

* chips get the store's classes in its shares (``--chips``, or ``--counts``);
* each chip's latent score is ``z = class + N(0, sigma²)`` (density classes are ordered), and its
  probabilities are the posterior under flat priors, ``p_k ∝ exp(-(z - k)² / 2 sigma²)`` (the
  forest's balanced class weights give flat priors as well);
* for each ``sigma`` of the sweep and ``--repeats`` draws: the macro AUC
  (:func:`landslide_app.model.metrics.multiclass_auc`), the **oracle** map (the best
  ``argmax(log p + b)`` fitted on the mapped chips themselves: :func:`bench_map_ceiling.oracle_accuracy`)
  and an **honest** map whose offsets are fitted the same way on ``--val-chips`` other chips
  (38: a fold's validation chips) and applied to the mapped ones; each as accuracy minus the majority
  baseline, and the landslide chips (class > 0) shown as class 0.

The AUC at which the oracle's and the honest map's gain first reach +0.02 and +0.05 is interpolated
over the sweep. Read it as an order of magnitude: real probabilities are not this tidy (the measured
oracle ceilings of the ablation's models, results.json ``map_ceiling``, are the real counterpart).

Usage: ``python benchmarks/bench_map_needs.py --chips STORE [--repeats 20] [--val-chips 38] [--no-write]``.
Writes ``"map_needs"`` in ``benchmarks/results.json``.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import numpy as np
from bench_map_ceiling import oracle_accuracy
from common import load_average, merge_results

from landslide_app.model.metrics import multiclass_auc

log = logging.getLogger("bench_map_needs")
#: Noise of the latent score, from nearly separable to nearly random.
SIGMAS = (0.25, 0.35, 0.45, 0.55, 0.65, 0.8, 1.0, 1.25, 1.6, 2.0, 3.0)


def ordinal_probabilities(y: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Flat-prior posterior probabilities ``(n, 3)`` of a latent ``class + N(0, sigma²)`` score."""
    z = y + rng.normal(0.0, sigma, len(y))
    logits = -((z[:, None] - np.arange(3)[None, :]) ** 2) / (2 * sigma**2)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def offset_map(proba: np.ndarray, b: list[float]) -> np.ndarray:
    """The classes ``argmax(log p + b)``."""
    return np.argmax(np.log(np.clip(proba, 1e-9, 1.0)) + np.asarray(b)[None, :], axis=1)


def draw(counts: np.ndarray, sigma: float, val_chips: int, rng: np.random.Generator) -> dict[str, float]:
    """One draw: AUC, oracle and honest map gains over the majority baseline, and their missed chips."""
    y = np.repeat(np.arange(3), counts)
    p = ordinal_probabilities(y, sigma, rng)
    majority = counts.max() / counts.sum()
    oracle, b_oracle = oracle_accuracy(p, y)
    y_val = rng.choice(3, size=val_chips, p=counts / counts.sum())
    _, b_val = oracle_accuracy(ordinal_probabilities(y_val, sigma, rng), y_val)
    honest = offset_map(p, b_val)
    return {
        "auc": multiclass_auc(y, p).macro,
        "oracle_gain": oracle - majority,
        "oracle_missed": float(((offset_map(p, b_oracle) == 0) & (y > 0)).sum()),
        "honest_gain": float((honest == y).mean() - majority),
        "honest_missed": float(((honest == 0) & (y > 0)).sum()),
    }


def sweep(counts: np.ndarray, repeats: int, val_chips: int, seed: int = 0) -> list[dict[str, float]]:
    """Means over ``repeats`` draws for every sigma of :data:`SIGMAS` (AUC falling as sigma grows)."""
    rng = np.random.default_rng(seed)
    rows = []
    for sigma in SIGMAS:
        draws = [draw(counts, sigma, val_chips, rng) for _ in range(repeats)]
        rows.append({"sigma": sigma, **{k: float(np.mean([d[k] for d in draws])) for k in draws[0]}})
    return rows


def auc_needed(rows: list[dict[str, float]], key: str, gain: float) -> float | None:
    """The AUC at which ``key`` first reaches ``gain``, interpolated linearly between sweep points
    (None when no point of the sweep reaches it)."""
    pts = sorted((r["auc"], r[key]) for r in rows)
    for (a0, g0), (a1, g1) in zip(pts, pts[1:]):
        if g0 < gain <= g1:
            return a0 + (gain - g0) * (a1 - a0) / (g1 - g0)
    return pts[0][0] if pts and pts[0][1] >= gain else None


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chips", type=Path, default=None, help="chip store whose class shares to use")
    ap.add_argument("--counts", type=int, nargs=3, default=None, help="chips of class 0, 1, 2 (instead of --chips)")
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--val-chips", type=int, default=38, help="chips the honest map's offsets are fitted on")
    ap.add_argument("--no-write", action="store_true")
    a = ap.parse_args()
    if a.counts is None and a.chips is None:
        raise SystemExit("give --chips STORE or --counts N0 N1 N2")
    if a.counts is not None:
        counts = np.asarray(a.counts)
    else:
        from landslide_app.chips.store import ChipStore

        counts = np.bincount(ChipStore.open(a.chips).classes, minlength=3)
    load = load_average()
    rows = sweep(counts, a.repeats, a.val_chips)
    for r in rows:
        log.info(
            "sigma %.2f: AUC %.3f; oracle %+.3f (%.1f missed); honest, %d chips: %+.3f (%.1f missed)",
            r["sigma"], r["auc"], r["oracle_gain"], r["oracle_missed"], a.val_chips, r["honest_gain"],
            r["honest_missed"],
        )  # fmt: skip
    needed: dict[str, Any] = {
        f"{key}_{gain:+.2f}": auc_needed(rows, f"{key}_gain", gain)
        for key in ("oracle", "honest")
        for gain in (0.02, 0.05)
    }
    log.info("AUC needed: %s", needed)
    figures = {
        "command": f"bench_map_needs.py --repeats {a.repeats} --val-chips {a.val_chips}",
        "class_counts": counts.tolist(),
        "majority_accuracy": float(counts.max() / counts.sum()),
        "val_chips": a.val_chips,
        "repeats": a.repeats,
        "sweep": rows,
        "auc_needed": needed,
        "load_before": load,
        "load_after": load_average(),
    }
    if not a.no_write:
        merge_results("map_needs", figures)


if __name__ == "__main__":
    main()
