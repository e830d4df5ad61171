"""The map-accuracy ceiling of benchmarks/bench_map_ceiling.py: the best ``argmax(log p + b)`` over offsets."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_map_ceiling import oracle_accuracy  # noqa: E402


def test_oracle_finds_the_offset_that_separates_the_classes():
    # class 1 is the most probable everywhere, but p0 ranks the class-0 chips first: an offset on
    # class 0 shows them (accuracy 1.0) where the plain argmax shows class 1 everywhere (0.6)
    p = np.array([[0.45, 0.55, 0.0], [0.40, 0.60, 0.0], [0.2, 0.8, 0.0], [0.1, 0.9, 0.0], [0.15, 0.85, 0.0]])
    y = np.array([0, 0, 1, 1, 1])
    plain = float((p.argmax(1) == y).mean())
    best, b = oracle_accuracy(p, y)
    assert plain == 0.6 and best == 1.0
    shown = np.argmax(np.log(np.clip(p, 1e-9, 1)) + np.array(b), axis=1)
    assert (shown == y).all() and b[1] == 0.0


def test_oracle_is_never_below_the_plain_argmax():
    rng = np.random.default_rng(0)
    p = rng.dirichlet([1, 2, 1], size=200)
    y = rng.integers(0, 3, size=200)
    best, _ = oracle_accuracy(p, y)
    assert best >= float((p.argmax(1) == y).mean()) and best <= 1.0
