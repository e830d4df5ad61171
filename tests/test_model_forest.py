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


def test_npz_round_trip_is_exact_and_reads_no_pickle(tmp_path):
    X, y = features(80)
    f = DensityForest(seed=3, n_estimators=25).fit(X, y)
    path = f.save(tmp_path / "forest.npz")
    with np.load(path, allow_pickle=False) as npz:  # plain arrays only
        assert all(npz[k].dtype != object for k in npz.files)
    g = DensityForest.load(path)
    Xn = np.vstack([X, X[:10]]).astype(np.float32)
    Xn[-10:, 2] = np.nan  # missing values take the path each node learned
    np.testing.assert_array_equal(g.predict_proba(Xn), f.predict_proba(Xn))
    np.testing.assert_array_equal(g.oob_proba(), f.oob_proba())
    assert (g.params, g.seed, g.train_counts, g.n_classes) == (f.params, f.seed, f.train_counts, f.n_classes)
    # a forest saved again from the loaded one is the same forest
    h = DensityForest.load(g.save(tmp_path / "again.npz"))
    np.testing.assert_array_equal(h.predict_proba(Xn), f.predict_proba(Xn))


def test_npz_refuses_damaged_foreign_or_other_layout_files(tmp_path, monkeypatch):
    from landslide_app.errors import ModelFileError, UntrustedFileError
    from landslide_app.model import forest_file
    from landslide_app.testing.malicious import write_npz_payload

    X, y = features(40)
    good = DensityForest(seed=0, n_estimators=5).fit(X, y).save(tmp_path / "forest.npz")
    with pytest.raises(ModelFileError, match="No forest file"):
        DensityForest.load(tmp_path / "missing.npz")
    (tmp_path / "cut.npz").write_bytes(good.read_bytes()[:500])
    with pytest.raises(ModelFileError, match="truncated or damaged"):
        DensityForest.load(tmp_path / "cut.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ModelFileError, match=r"other.npz lacks header, nodes.*not a landslide_app forest"):
        DensityForest.load(tmp_path / "other.npz")
    marker = tmp_path / "payload-ran"
    with pytest.raises(UntrustedFileError, match="Python objects"):
        DensityForest.load(write_npz_payload(tmp_path / "evil.npz", marker))
    assert not marker.exists()
    # a node table of another scikit-learn layout is refused, not misread
    other = np.dtype([("left_child", "<i8"), ("right_child", "<i8")])
    monkeypatch.setattr(forest_file, "NODE_DTYPE", other)
    with pytest.raises(ModelFileError, match="tree layout differs"):
        DensityForest.load(good)


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
