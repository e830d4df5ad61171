"""Random forest on percentile features: probabilities for all classes, skops persistence."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from landslide_app.errors import InputError
from landslide_app.model.forest import TRUSTED_TYPES, DensityForest
from landslide_app.model.metrics import multiclass_auc


def features(n, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 3
    X = rng.normal(size=(n, 19)) + y[:, None] * 1.5
    return X.astype(np.float32), y


def test_fit_predict_all_classes():
    X, y = features(90)
    f = DensityForest(seed=1, n_estimators=50).fit(X, y)
    p = f.predict_proba(X)
    assert p.shape == (90, 3)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    Xt, yt = features(60, seed=2)
    assert multiclass_auc(yt, f.predict_proba(Xt)).macro > 0.9
    assert f.predict(Xt).dtype == np.int64


def test_missing_class_gets_zero_probability():
    X, y = features(90)
    keep = y != 1
    f = DensityForest(seed=0, n_estimators=30).fit(X[keep], y[keep])
    p = f.predict_proba(X)
    assert p.shape == (90, 3)
    assert (p[:, 1] == 0).all()
    assert 1 not in set(f.predict(X).tolist())


def test_nan_features_are_accepted():
    X, y = features(60)
    X[0] = np.nan
    f = DensityForest(seed=0, n_estimators=20).fit(X, y)
    assert np.isfinite(f.predict_proba(X[:3])).all()


def test_seeded():
    X, y = features(60)
    a = DensityForest(seed=3, n_estimators=20).fit(X, y).predict_proba(X)
    b = DensityForest(seed=3, n_estimators=20).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)


def test_shuffled_labels_give_auc_near_half():
    X, y = features(600, seed=4)
    yr = np.random.default_rng(0).permutation(y)
    f = DensityForest(seed=0, n_estimators=100).fit(X[:300], yr[:300])
    auc = multiclass_auc(yr[300:], f.predict_proba(X[300:]))
    assert abs(auc.macro - 0.5) < 0.1


def test_skops_round_trip(tmp_path):
    import skops.io as sio

    X, y = features(60)
    f = DensityForest(seed=0, n_estimators=20).fit(X, y)
    path = f.save(tmp_path / "forest.skops")
    assert set(sio.get_untrusted_types(file=path)) <= set(TRUSTED_TYPES)
    g = DensityForest.load(path)
    np.testing.assert_array_equal(g.predict_proba(X), f.predict_proba(X))
    assert g.params["n_estimators"] == 20 and g.seed == 0


def test_load_refuses_untrusted_or_foreign_files(tmp_path):
    import skops.io as sio

    bad = tmp_path / "bad.skops"
    sio.dump({"format": "x", "counter": collections.Counter(a=1)}, bad)
    with pytest.raises(InputError, match="not trusted"):
        DensityForest.load(bad)
    junk = tmp_path / "junk.skops"
    junk.write_bytes(b"not a zip")
    with pytest.raises(InputError):
        DensityForest.load(junk)
    with pytest.raises(InputError):
        DensityForest.load(tmp_path / "missing.skops")


def test_bad_training_input():
    X, y = features(30)
    with pytest.raises(InputError):
        DensityForest().fit(X, y + 1)  # class 3 does not exist
    with pytest.raises(InputError):
        DensityForest().predict_proba(X)  # not fitted


def test_oob_rows_without_out_of_bag_trees_are_nan_not_zero():
    """With class_weight="balanced" a lone chip of a rare class is drawn into every bootstrap
    sample: scikit-learn gives it an OOB row of zeros (and warns); oob_proba says NaN instead,
    silently, and every other row is a probability distribution."""
    import warnings

    X, _ = features(100)
    y = np.zeros(100, np.int64)
    y[:50] = 1
    y[0] = 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the fit no longer prints scikit-learn's warning
        f = DensityForest(seed=0, class_weight="balanced").fit(X, y)
    oob = f.oob_proba()
    assert np.isnan(oob[0]).all()
    rest = oob[~np.isnan(oob).any(axis=1)]
    assert len(rest) >= 95
    np.testing.assert_allclose(rest.sum(axis=1), 1.0)
