"""benchmarks/bench_transfer_stats.py: the SAR chip-statistics forest scored on an island it never saw."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_transfer_stats import transfer_scores  # noqa: E402

from landslide_app.baselines.sar_stats import centre_on_median


def island(seed: int, n: int = 150, offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Features in the baseline's layout for revisits 1 (slope mean, p90, VV and VH change, drop share, p10):
    the VV change grows with the class, plus a scene-wide ``offset`` (dB) on every change feature."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, n, p=[0.3, 0.6, 0.1])
    x = np.column_stack(
        [
            rng.normal(25, 3, n),
            rng.normal(35, 3, n),
            1.0 * y + rng.normal(0, 0.3, n) + offset,
            rng.normal(0, 0.3, n) + offset,
            rng.uniform(0, 0.1, n),
            rng.normal(-3, 0.3, n) + offset,
        ]
    ).astype(np.float32)
    return x, y


def test_centring_subtracts_each_change_column_median_only():
    assert centre_on_median(np.empty((0, 6), np.float32)).shape == (0, 6)
    x = np.array([[10, 20, 1, 5, 0.1, -3], [30, 40, 3, 7, 0.3, -1], [20, 30, 2, 9, np.nan, -2]], np.float32)
    c = centre_on_median(x)
    np.testing.assert_array_equal(c[:, :2], x[:, :2])
    np.testing.assert_allclose(c[:, 2], [-1, 1, 0])
    np.testing.assert_allclose(c[:, 4][:2], [-0.1, 0.1], atol=1e-7)  # the NaN is left out of the median
    assert np.isnan(c[2, 4]) and not np.shares_memory(c, x)


def test_transfer_scores_and_what_centring_absorbs():
    train = island(0)
    same, shifted = island(1), island(2, offset=3.0)
    s = transfer_scores(train, [same, shifted])
    assert set(s) == {"raw", "scene"} and all(len(v) == 2 for m in s.values() for v in m.values())
    # a new island like the training one: the change separates the classes either way
    assert s["raw"]["auc"][0] > 0.85 and s["scene"]["auc"][0] > 0.85
    # a scene-wide +3 dB offset pushes every raw chip past the forest's splits; centring absorbs it
    assert s["raw"]["auc"][1] < 0.7 < 0.85 < s["scene"]["auc"][1]
    assert s["scene"]["map_gain"][1] > 0 and s["scene"]["missed"][1] <= 10
