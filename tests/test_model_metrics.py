"""One-vs-rest AUC and confusion matrix."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from landslide_app.model.metrics import confusion, multiclass_auc


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
