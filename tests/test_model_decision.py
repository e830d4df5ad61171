"""The map's decision: calibration on validation chips and the decision rules."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax

from landslide_app.errors import ConfigError, InputError
from landslide_app.model.decision import (
    DECISION_RULES,
    DEFAULT_DECISION,
    Calibration,
    Decision,
    fit_calibration,
    fit_decision,
)


def test_identity_calibration_and_prior_shift_by_hand():
    p = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    np.testing.assert_allclose(Calibration().apply(p), p)
    # A balanced forest's flat output with the training priors put back gives the priors.
    shift = np.log([0.2, 0.7, 0.1])
    no_val = fit_calibration(np.empty((0, 3)), np.empty(0, int), prior_shift=shift)
    assert no_val.slope == 1.0
    np.testing.assert_allclose(no_val.apply(np.full((1, 3), 1 / 3)), [[0.2, 0.7, 0.1]])


def test_calibration_recovers_a_known_distortion():
    rng = np.random.default_rng(0)
    n = 6000
    q = rng.dirichlet([1.0, 2.0, 0.5], size=n)  # true class probabilities
    y = np.array([rng.choice(3, p=row) for row in q])
    bias = np.array([0.0, -1.0, 1.0])
    raw = softmax(2.0 * np.log(q) + bias, axis=1)  # overconfident and biased
    cal = fit_calibration(raw, y)
    # inverse of the distortion: slope 1/2, bias -bias/2 (relative to class 0)
    assert cal.slope == pytest.approx(0.5, abs=0.05)
    np.testing.assert_allclose(cal.bias, [0.0, 0.5, -0.5], atol=0.1)
    brier_raw = ((raw - np.eye(3)[y]) ** 2).sum(1).mean()
    brier_cal = ((cal.apply(raw) - np.eye(3)[y]) ** 2).sum(1).mean()
    assert brier_cal < brier_raw - 0.01


def test_few_validation_chips_stay_near_the_prior():
    raw = np.array([[0.5, 0.3, 0.2], [0.2, 0.6, 0.2]])
    cal = fit_calibration(raw, np.array([0, 1]), prior_shift=np.zeros(3))
    assert 0.5 < cal.slope < 3.0 and max(abs(b) for b in cal.bias) < 1.5


def test_cost_rule_shows_landslides_the_accuracy_rule_would_miss():
    q = np.array([[0.5, 0.4, 0.1], [0.9, 0.08, 0.02], [0.1, 0.5, 0.4]])
    acc = Decision("accuracy")
    cost = Decision("cost")
    np.testing.assert_array_equal(acc.apply(q), [0, 0, 1])
    # row 0 expected costs of showing 0 / 1 / 2: 0.4*4 + 0.1*8 = 2.4, 0.5 + 0.2 = 0.7, 1.0 + 0.4 = 1.4
    # row 2: 0.5*4 + 0.4*8 = 5.2, 0.1 + 0.8 = 0.9, 0.2 + 0.5 = 0.7 -> class 2
    np.testing.assert_array_equal(cost.apply(q), [1, 0, 2])


def test_macro_f1_rule_weights_a_rare_class_up_on_validation():
    val = np.array([[0.8, 0.2, 0.0]] * 5 + [[0.1, 0.9, 0.0]] * 10 + [[0.0, 0.7, 0.3]] * 3)
    y = np.array([0] * 5 + [1] * 10 + [2] * 3)
    d = fit_decision(val, y, "macro_f1", calibrate=False)
    assert d.weights[2] / d.weights[1] > 2.0 and d.weights[0] == 1.0  # class 2 up relative to class 1
    np.testing.assert_array_equal(d.apply(val), y)
    a = fit_decision(val, y, "accuracy", calibrate=False)
    assert (a.apply(val) == 2).sum() == 0


def test_fit_decision_round_trip_and_errors():
    rng = np.random.default_rng(1)
    val = rng.dirichlet([1, 1, 1], size=30)
    y = rng.integers(0, 3, 30)
    for rule in DECISION_RULES:
        d = fit_decision(val, y, rule, prior_shift=np.log([0.3, 0.6, 0.1]))
        assert d.n_val == 30 and d.rule == rule
        assert Decision.from_dict(d.to_dict()) == d
        assert d.apply(val).shape == (30,)
    assert DEFAULT_DECISION in DECISION_RULES
    with pytest.raises(ConfigError, match="--decision"):
        fit_decision(val, y, "f2")
    with pytest.raises(ConfigError, match="zero diagonal"):
        fit_decision(val, y, "cost", cost=[[1, 1, 1], [1, 0, 1], [1, 1, 0]])
    with pytest.raises(InputError):
        fit_decision(val[:, :2].copy(), y, "accuracy")
    with pytest.raises(InputError):
        fit_decision(np.full((2, 3), np.nan), np.array([0, 1]))
