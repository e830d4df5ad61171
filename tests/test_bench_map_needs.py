"""benchmarks/bench_map_needs.py: the synthetic sweep of what AUC a map needs to beat the majority baseline."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_map_needs import SIGMAS, auc_needed, ordinal_probabilities, sweep  # noqa: E402


def test_probabilities_follow_the_latent_score():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 200)
    p = ordinal_probabilities(y, 0.3, rng)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p.argmax(axis=1) == y).mean() > 0.85  # little noise: the most probable class is the true one
    noisy = ordinal_probabilities(y, 3.0, rng)
    assert (noisy.argmax(axis=1) == y).mean() < 0.6


def test_sweep_separation_falls_with_noise_and_the_oracle_bounds_the_honest_map():
    rows = sweep(np.array([10, 30, 5]), repeats=3, val_chips=20, seed=1)
    assert [r["sigma"] for r in rows] == list(SIGMAS)
    assert rows[0]["auc"] > 0.95 and rows[-1]["auc"] < 0.7
    majority = 30 / 45
    assert rows[0]["oracle_gain"] == pytest.approx(1 - majority, abs=0.08)  # nearly every chip right
    assert all(r["oracle_gain"] >= r["honest_gain"] - 1e-12 for r in rows)  # fitted on the answers: a ceiling
    assert all(r["oracle_gain"] >= -1e-12 for r in rows)  # the offsets can always show class 1 everywhere


def test_auc_needed_interpolates_the_first_crossing():
    rows = [{"auc": 0.6, "g": 0.0}, {"auc": 0.7, "g": 0.02}, {"auc": 0.8, "g": 0.06}]
    assert auc_needed(rows, "g", 0.04) == pytest.approx(0.75)
    assert auc_needed(rows, "g", 0.02) == pytest.approx(0.7)
    assert auc_needed(rows, "g", 0.1) is None
