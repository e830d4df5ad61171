"""Density classes with worked values (paper: 0 none, 1 up to 25 /km², 2 above)."""

from __future__ import annotations

import numpy as np
import pytest

from landslide_app.config import DEFAULT_DENSITY_THRESHOLDS
from landslide_app.core.density import CLASS_NAMES, N_CLASSES, class_names, density_class
from landslide_app.errors import ConfigError

CHIP_KM2 = 1.28 * 1.28  # 1.6384 km²


def test_worked_values():
    assert int(density_class(41, CHIP_KM2)) == 2  # 41 / 1.6384 = 25.02 /km²
    assert int(density_class(40, CHIP_KM2)) == 1  # 24.41 /km²
    assert int(density_class(1, CHIP_KM2)) == 1
    assert int(density_class(0, CHIP_KM2)) == 0


def test_vectorised_and_thresholds():
    counts = np.array([0, 1, 40, 41, 1000])
    np.testing.assert_array_equal(density_class(counts, CHIP_KM2), [0, 1, 1, 2, 2])
    # t1 = 10 /km²: 16 heads = 9.77 -> 1, 17 heads = 10.38 -> 2; t0 = 1: 1 head = 0.61 -> 0
    np.testing.assert_array_equal(density_class(np.array([1, 16, 17]), CHIP_KM2, (1.0, 10.0)), [0, 1, 2])
    # a density exactly on a threshold belongs to the lower class: 25 heads on 1 km²
    assert int(density_class(25, 1.0)) == 1


def test_impossible_inputs():
    with pytest.raises(ConfigError):
        density_class(3, CHIP_KM2, (25.0, 0.0))
    with pytest.raises(ConfigError):
        density_class(3, 0.0)
    with pytest.raises(ConfigError):
        density_class(-1, CHIP_KM2)


def test_class_names_follow_the_thresholds():
    # the default labels are derived from the default thresholds, never restated
    assert CLASS_NAMES == class_names(DEFAULT_DENSITY_THRESHOLDS)
    assert CLASS_NAMES == {0: "0: no landslide", 1: "1: 1–25 /km²", 2: "2: > 25 /km²"}
    assert class_names((0.0, 10.0))[2] == "2: > 10 /km²"
    assert class_names((1.0, 10.0)) == {0: "0: ≤ 1 /km²", 1: "1: 1–10 /km²", 2: "2: > 10 /km²"}
    assert len(CLASS_NAMES) == N_CLASSES
    with pytest.raises(ConfigError):
        class_names((10.0, 5.0))
