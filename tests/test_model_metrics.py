"""One-vs-rest AUC, confusion matrix, the map's class metrics and calibration metrics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from landslide_app.errors import InputError
from landslide_app.model.metrics import brier_score, confusion, map_metrics, multiclass_auc, reliability_curve


def test_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    # class 0 scores: positives 0.9, 0.3; negatives 0.4, 0.1, 0.2, 0.2 -> pairs won:
    #   0.9 beats all 4; 0.3 beats 0.1, 0.2, 0.2 -> 7 of 8 = 0.875
    p0 = np.array([0.9, 0.3, 0.4, 0.1, 0.2, 0.2])
    p = np.column_stack([p0, np.array([0.0, 0, 1, 1, 0, 0]), np.array([0.0, 0, 0, 0, 1, 1])])
    r = multiclass_auc(y, p)
    assert r.per_class == pytest.approx((0.875, 1.0, 1.0))
    assert r.macro == pytest.approx((0.875 + 2) / 3)
    assert r.weighted == pytest.approx(r.macro)  # equal supports
    assert r.support == (2, 2, 2)


def test_matches_sklearn_when_all_classes_present():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 200)
    p = rng.dirichlet([1, 1, 1], 200) + np.eye(3)[y] * 0.3
    p /= p.sum(axis=1, keepdims=True)
    r = multiclass_auc(y, p)
    assert r.macro == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="macro"))
    assert r.weighted == pytest.approx(roc_auc_score(y, p, multi_class="ovr", average="weighted"))


def test_absent_class_is_nan_and_macro_over_present():
    y = np.array([0, 0, 1, 1])
    p = np.array([[0.8, 0.1, 0.1], [0.6, 0.3, 0.1], [0.4, 0.5, 0.1], [0.7, 0.2, 0.1]])
    r = multiclass_auc(y, p)
    assert math.isnan(r.per_class[2])
    # class 0: pos {0.8, 0.6} vs neg {0.4, 0.7}: 0.8 wins 2, 0.6 wins 1 -> 3/4
    # class 1: pos {0.5, 0.2} vs neg {0.1, 0.3}: 0.5 wins 2, 0.2 wins 1 -> 3/4
    assert r.per_class[:2] == pytest.approx((0.75, 0.75))
    assert r.macro == pytest.approx(0.75) and r.weighted == pytest.approx(0.75)
    d = r.to_dict()
    assert d["per_class"][2] is None


def test_single_class_is_nan():
    r = multiclass_auc(np.array([1, 1, 1]), np.full((3, 3), 1 / 3))
    assert math.isnan(r.macro) and math.isnan(r.weighted)
    assert r.to_dict()["macro"] is None


def test_confusion_by_hand():
    m = confusion(np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]))
    np.testing.assert_array_equal(m, [[1, 0, 0], [0, 0, 1], [0, 1, 1]])
    np.testing.assert_array_equal(confusion(np.array([], int), np.array([], int)), np.zeros((3, 3)))


# ---- the map's class metrics ---------------------------------------------------------------
Y_HAND = np.array([0, 0, 1, 1, 1, 2])
PRED_HAND = np.array([0, 1, 1, 1, 0, 2])
PROBA_HAND = np.array([[1, 0, 0], [0.5, 0.5, 0], [0, 1, 0], [0, 1, 0], [1, 0, 0], [0, 0, 1]], float)


def test_map_metrics_by_hand():
    m = map_metrics(Y_HAND, PRED_HAND)
    assert m["confusion"] == [[1, 1, 0], [1, 2, 0], [0, 0, 1]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["recall"] == pytest.approx([1 / 2, 2 / 3, 1.0])
    assert m["precision"] == pytest.approx([1 / 2, 2 / 3, 1.0])
    assert m["balanced_accuracy"] == pytest.approx((1 / 2 + 2 / 3 + 1) / 3)
    assert m["f1"] == pytest.approx([0.5, 2 / 3, 1.0])
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 1) / 3)
    assert m["true_counts"] == [2, 3, 1] and m["pred_counts"] == [2, 3, 1]
    assert m["majority_class"] == 1 and m["majority_accuracy"] == pytest.approx(0.5)
    assert m["missed_landslide_chips"] == 1
    assert "brier" not in m
    # the majority baseline of the training chips may differ from the test chips' own
    assert map_metrics(Y_HAND, PRED_HAND, majority_class=0)["majority_accuracy"] == pytest.approx(2 / 6)


def test_map_metrics_undefined_classes_are_none():
    m = map_metrics(np.array([1, 1, 0]), np.array([1, 0, 0]))
    assert m["recall"][2] is None and m["precision"][2] is None  # class 2 neither true nor shown
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3) / 2)  # over classes 0 and 1 only
    json.dumps(m)  # strict JSON


def test_brier_and_reliability_by_hand():
    # per chip: 0, 0.25 + 0.25, 0, 0, 1 + 1, 0 -> 2.5 / 6
    assert brier_score(Y_HAND, PROBA_HAND) == pytest.approx(2.5 / 6)
    assert brier_score(Y_HAND, np.eye(3)[Y_HAND]) == 0.0
    rel = reliability_curve(Y_HAND, PROBA_HAND, n_bins=2)
    assert rel["2"] == [
        {"lo": 0.0, "hi": 0.5, "n": 5, "mean_predicted": 0.0, "observed": 0.0},
        {"lo": 0.5, "hi": 1.0, "n": 1, "mean_predicted": 1.0, "observed": 1.0},
    ]
    lo, hi = rel["0"]
    assert (lo["n"], lo["observed"]) == (3, 0.0)
    assert hi["n"] == 3 and hi["mean_predicted"] == pytest.approx(2.5 / 3) and hi["observed"] == pytest.approx(2 / 3)
    m = map_metrics(Y_HAND, PRED_HAND, PROBA_HAND)
    assert m["brier"] == pytest.approx(2.5 / 6) and set(m["reliability"]) == {"0", "1", "2"}
    with pytest.raises(InputError):
        brier_score(Y_HAND, PROBA_HAND[:, :2])
