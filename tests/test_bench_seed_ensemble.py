"""benchmarks/bench_seed_ensemble.py: the seeds' held-out probabilities averaged, its map cross-fitted."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_seed_ensemble import cross_fitted_map, measure_configuration, seed_probabilities  # noqa: E402

from landslide_app.experiments import artifacts  # noqa: E402


def _classes(n: int = 120) -> np.ndarray:
    return np.repeat([0, 1, 1, 2], n // 4)  # majority class 1, half the chips


def _noisy(y: np.ndarray, noise: float, seed: int) -> np.ndarray:
    """Probabilities that lean to the true class, with seed-specific noise."""
    rng = np.random.default_rng(seed)
    logits = 1.0 * np.eye(3)[y] + noise * rng.standard_normal((len(y), 3))
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def _by_seed(y: np.ndarray, probas: list[np.ndarray]) -> dict[int, dict[str, np.ndarray]]:
    ids = np.arange(len(y))
    return {s: {"chip_id": ids, "true_class": y, "proba": p} for s, p in enumerate(probas)}


def test_averaging_noisy_seeds_separates_better_and_identical_seeds_change_nothing():
    y = _classes()
    noisy = measure_configuration(_by_seed(y, [_noisy(y, 2.0, s) for s in range(5)]), ["accuracy"], repeats=5)
    assert noisy["n_seeds"] == 5 and noisy["n_chips"] == len(y)
    assert noisy["auc_ensemble"] > noisy["auc_per_seed"]["mean"] + 0.05  # independent noise averages out
    same = measure_configuration(_by_seed(y, [_noisy(y, 2.0, 7)] * 3), ["accuracy"], repeats=5)
    assert same["auc_ensemble"] == pytest.approx(same["auc_per_seed"]["mean"])
    assert same["majority_accuracy"] == pytest.approx(0.5)


def test_cross_fitted_rule_maps_separable_chips_exactly_and_uninformative_ones_as_the_majority():
    y = _classes()
    perfect = np.eye(3)[y] * 0.9 + 0.1 / 3
    r = measure_configuration(_by_seed(y, [perfect, perfect]), ["accuracy", "cost"], repeats=4)
    assert r["map"]["accuracy"]["accuracy"] == pytest.approx(1.0)
    assert r["map"]["accuracy"]["minus_majority"] == pytest.approx(0.5)
    assert r["map"]["accuracy"]["missed_landslide_chips"] == 0
    assert r["oracle_minus_majority"] == pytest.approx(0.5)
    lo, hi = r["map"]["accuracy"]["minus_majority_ci95"]
    assert lo <= 0.5 <= hi and hi - lo < 0.3
    flat = np.full((len(y), 3), 1 / 3)
    correct, _ = cross_fitted_map(flat, y, "accuracy", repeats=3)
    assert correct.shape == y.shape and set(np.unique(correct)) <= {0.0, 1.0}
    # no signal: the fitted rule can only prefer a class, the majority of the half it was fitted on
    assert correct.mean() <= 0.5 + 1e-9


def test_chips_must_match_between_seeds():
    y = _classes(8)
    by_seed = _by_seed(y, [_noisy(y, 1.0, 0), _noisy(y, 1.0, 1)])
    by_seed[1]["chip_id"] = by_seed[1]["chip_id"] + 1
    with pytest.raises(SystemExit, match="other chips"):
        measure_configuration(by_seed, ["cost"], repeats=1)


def test_reads_each_seeds_predictions_of_an_ablation_folder(tmp_path):
    y = _classes(12)
    runs = []
    for seed in (0, 1):
        base = tmp_path if seed == 0 else tmp_path / "runs" / "seed1"
        spec = artifacts.RunSpec("sar", 1, "random")
        d = artifacts.run_dir(base, spec)
        d.mkdir(parents=True)
        order = np.arange(len(y))[::-1]  # written in another order than chip ids: read back sorted
        p = _noisy(y, 1.0, seed)
        artifacts.write_predictions(d, order, y[order], p[order], p[order].argmax(1), ["A"] * len(y))
        shared = {"key": "sar-r2-random", "inputs": "sar", "revisits": 2, "split": "random", "shared_with": "x"}
        runs.append(
            {
                "seed": seed,
                "dir": "." if seed == 0 else "runs/seed1",
                "runs": [{"key": spec.key, "inputs": "sar", "revisits": 1, "split": "random"}, shared],
            }
        )
    (tmp_path / artifacts.RESULTS_FILE).write_text(json.dumps({"seed": 0, "repeats": runs, "runs": runs[0]["runs"]}))
    got = seed_probabilities(tmp_path, "random")
    assert list(got) == ["sar-r1-random"] and sorted(got["sar-r1-random"]) == [0, 1]
    np.testing.assert_array_equal(got["sar-r1-random"][1]["chip_id"], np.arange(len(y)))
    np.testing.assert_allclose(got["sar-r1-random"][1]["proba"], _noisy(y, 1.0, 1), atol=1e-6)
    assert seed_probabilities(tmp_path, "blocked") == {}
