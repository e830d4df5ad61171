"""Baselines (SAR change ratio, DEM slope model) under the CNN's cross-prediction protocol."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from result_fields import RESULT_KEYS

from landslide_app.baselines import change_ratio as cr
from landslide_app.baselines import evaluate as ev
from landslide_app.baselines import run_baseline
from landslide_app.baselines.change_ratio import (
    ChangeRatioParams,
    ChangeStats,
    compute_change_stats,
    flag_pixels,
    vh_change_db,
)
from landslide_app.baselines.change_ratio_model import ScoreClassifier
from landslide_app.baselines.slope_model import FEATURE_NAMES, slope_features
from landslide_app.config import CHANNELS
from landslide_app.errors import ConfigError, InputError
from landslide_app.model.protocol import resolve_split

SLOPE, CURV = CHANNELS.index("slope"), CHANNELS.index("curvature")
VH = [CHANNELS.index(f"vh_t{t}") for t in range(6)]
VV = [CHANNELS.index(f"vv_t{t}") for t in range(6)]
DB5 = 10 ** (-5 / 10)  # a 5 dB drop in linear power


class FakeStore:
    """Chips in memory behind the ChipStore reading interface; records every batch read."""

    def __init__(self, chips: np.ndarray, classes: np.ndarray, n_cols: int = 10) -> None:
        self.chips = chips
        self.ids = np.arange(len(chips), dtype=np.int64) * 3 + 5  # non-contiguous ids
        self.classes = np.asarray(classes, dtype=np.int64)
        self.index = pd.DataFrame(
            {
                "chip_id": self.ids,
                "row": np.arange(len(chips)) // n_cols,
                "col": np.arange(len(chips)) % n_cols,
                "head_count": self.classes,
                "density_class": self.classes,
            }
        )
        self.batches: list[int] = []

    def read_many(self, ids, channels=None):
        self.batches.append(len(ids))
        out = self.chips[np.searchsorted(self.ids, np.asarray(ids))]
        return out[:, list(channels)] if channels is not None else out


def base_chips(n: int, size: int = 16, seed: int = 0, speckle: bool = True) -> np.ndarray:
    """Steep concave chips with (optionally speckled) constant backscatter."""
    rng = np.random.default_rng(seed)
    ch = np.zeros((n, len(CHANNELS), size, size), np.float32)
    ch[:, 0] = 300.0
    ch[:, SLOPE] = 30.0
    ch[:, CURV] = -1.0
    ch[:, 3] = 90.0
    ch[:, VV] = 0.1
    ch[:, VH] = 0.05
    if speckle:
        ch[:, VH] *= rng.gamma(8.0, 1 / 8.0, (n, 6, size, size)).astype(np.float32)
    return ch


# ---- the pixel rule -------------------------------------------------------------------------------
def hand_made_chip() -> np.ndarray:
    ch = base_chips(1, size=8, speckle=False)[0]
    post = VH[3:]
    ch[post, 1:3, 1:4] *= DB5  # 6 px: steep concave, VH -5 dB -> flagged
    ch[post, 5, 0:2] *= DB5  # 2 px: same drop on flat ground
    ch[SLOPE, 5, 0:2] = 2.0
    ch[post, 6, 4:7] *= DB5  # 3 px: same drop on a convex nose
    ch[CURV, 6, 4:7] = 1.5
    ch[post, 3:5, 5:7] /= DB5  # 4 px: VH +5 dB (rise) -> never flagged
    ch[VH[0], 0, 7] = np.nan  # 1 px: no data -> invalid
    ch[post, 0, 7] *= DB5
    return ch


def test_pixel_rule_exact_flags():
    ch = hand_made_chip()
    change = vh_change_db(ch)[0]
    np.testing.assert_allclose(change[1:3, 1:4], 5.0, atol=1e-5)
    np.testing.assert_allclose(change[3:5, 5:7], -5.0, atol=1e-5)
    assert np.isnan(change[0, 7])
    flags = flag_pixels(ch, threshold_db=3.0)[0]
    expect = np.zeros((8, 8), bool)
    expect[1:3, 1:4] = True
    np.testing.assert_array_equal(flags, expect)
    assert flags.sum() == 6
    # without the curvature mask the convex nose is flagged too; the flat pixels never
    no_curv = flag_pixels(ch, 3.0, ChangeRatioParams(curvature_max=None))[0]
    assert no_curv.sum() == 9 and no_curv[6, 4:7].all() and not no_curv[5, 0:2].any()
    assert flag_pixels(ch, 3.0, ChangeRatioParams(slope_min_deg=0.0, curvature_max=None))[0].sum() == 11
    # the rise is not flagged at any threshold (negative change)
    assert not flag_pixels(ch, -1.0)[0][3:5, 5:7].any()


def test_revisits_average_the_first_k_post_dates():
    ch = base_chips(1, size=4, speckle=False)
    ch[0, VH[3]] *= DB5  # only the first post date drops by 5 dB
    for k, expected in ((1, 5.0), (2, 2.5), (3, 5.0 / 3)):
        np.testing.assert_allclose(vh_change_db(ch, revisits=k), expected, atol=1e-5)
    with pytest.raises(ConfigError):
        ChangeRatioParams(revisits=4)


def test_histogram_density_equals_pixel_flags():
    chips = base_chips(12, size=16, seed=3)
    chips[:, SLOPE] = np.random.default_rng(1).uniform(0, 40, chips[:, SLOPE].shape)
    store = FakeStore(chips, np.zeros(12))
    p = ChangeRatioParams()
    stats = compute_change_stats(store, store.ids, p, batch_size=5, progress=False)
    thr, first = stats.fit_threshold(store.ids[:6])
    flags = flag_pixels(chips, thr, p).sum(axis=(1, 2))
    np.testing.assert_array_equal(stats.flagged(store.ids, first), flags)
    valid = cr.change_and_mask(chips, p)[1].sum(axis=(1, 2))
    np.testing.assert_allclose(stats.density(store.ids, first), flags / valid)
    assert max(store.batches) <= 5 and sum(store.batches) == 12  # streamed, each chip read once


# ---- the threshold -----------------------------------------------------------------------------
def test_threshold_is_the_train_quantile_and_ignores_test_chips():
    chips = base_chips(20, size=16, seed=4)
    store = FakeStore(chips, np.zeros(20))
    train, test = store.ids[:8], store.ids[8:]
    p = ChangeRatioParams()
    thr, _ = compute_change_stats(store, store.ids, p, progress=False).fit_threshold(train)
    change, valid = cr.change_and_mask(chips[:8], p)
    q = np.quantile(change[valid], 0.99)
    assert q <= thr <= q + p.bin_width_db + 1e-9
    assert (change[valid] >= thr).mean() <= 0.01
    # wildly different test chips leave the training threshold unchanged
    chips2 = chips.copy()
    chips2[8:, VH[3:]] *= 1e-3
    thr2, _ = compute_change_stats(FakeStore(chips2, np.zeros(20)), store.ids, p, progress=False).fit_threshold(train)
    assert thr2 == thr
    thr3, _ = compute_change_stats(FakeStore(chips2, np.zeros(20)), store.ids, p, progress=False).fit_threshold(test)
    assert thr3 > thr + 10


def test_run_baseline_fits_each_fold_on_its_train_chips_only(monkeypatch):
    chips, classes = density_scene(40, seed=5)
    store = FakeStore(chips, classes)
    split = resolve_split("random", store.ids, 0, store)  # what the CNN pipeline builds for seed 0 (stratified)
    seen: list[np.ndarray] = []
    orig = ChangeStats.fit_threshold

    def spy(self, ids):
        seen.append(np.asarray(ids))
        return orig(self, ids)

    monkeypatch.setattr(ChangeStats, "fit_threshold", spy)
    res = run_baseline(store, "change_ratio", seed=0, progress=False, slope_grid=None)
    assert len(seen) == 2
    for ids, fold in zip(seen, split.folds):
        np.testing.assert_array_equal(np.sort(ids), fold.train)
        assert not set(ids.tolist()) & set(fold.test.tolist())
    # changing fold A's test half changes fold B's threshold (it trains there), never fold A's
    monkeypatch.setattr(ChangeStats, "fit_threshold", orig)
    chips2 = chips.copy()
    pos_test_a = np.searchsorted(store.ids, split.folds[0].test)
    chips2[pos_test_a[:, None], VH[3:]] *= 1e-2
    res2 = run_baseline(FakeStore(chips2, classes), "change_ratio", seed=0, progress=False, slope_grid=None)
    assert res2["method"]["threshold_db"]["A"] == res["method"]["threshold_db"]["A"]
    assert res2["method"]["threshold_db"]["B"] != res["method"]["threshold_db"]["B"]


# ---- change ratio end to end on a synthetic store -------------------------------------------------
def density_scene(n: int, seed: int = 0, size: int = 24) -> tuple[np.ndarray, np.ndarray]:
    """Speckled chips whose class sets the number of 8 dB VH drops (0, 12 or 40 pixels)."""
    rng = np.random.default_rng(seed)
    chips = base_chips(n, size=size, seed=seed)
    classes = np.arange(n) % 3
    for i, c in enumerate(classes):
        k = (0, 12, 40)[c] + int(rng.integers(0, 4))
        flat = rng.choice(size * size, k, replace=False)
        r, cc = np.unravel_index(flat, (size, size))
        chips[i, VH[3]][r, cc] *= 10 ** (-0.8)
        chips[i, VH[4]][r, cc] *= 10 ** (-0.8)
        chips[i, VH[5]][r, cc] *= 10 ** (-0.8)
    return chips, classes


def test_change_ratio_separates_classes_and_shuffled_is_chance():
    chips, classes = density_scene(90, seed=1)
    store = FakeStore(chips, classes)
    res = run_baseline(store, "change_ratio", seed=0, progress=False, batch_size=16)
    assert res["auc"]["test"] > 0.9 and res["auc"]["train"] > 0.9
    assert max(store.batches) <= 16
    # every chip predicted exactly once
    got = [row[0] for row in res["test_proba"]]
    assert got == sorted(store.ids.tolist())
    probs = np.array([row[1:] for row in res["test_proba"]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.asarray(res["confusion"]).sum() == 90
    assert sum(f["n_test"] for f in res["folds"]) == 90
    shuffled = np.random.default_rng(0).permutation(classes)
    aucs = [
        run_baseline(FakeStore(chips, shuffled), "change_ratio", seed=s, progress=False)["auc"]["test"]
        for s in range(3)
    ]
    assert abs(np.mean(aucs) - 0.5) < 0.12


def test_slope_selection_on_validation_and_blocked_split():
    chips, classes = density_scene(60, seed=2)
    res = run_baseline(FakeStore(chips, classes), "change_ratio", split="blocked", seed=1, revisits=2, progress=False)
    assert res["split"] == "blocked" and res["revisits"] == 2 and res["inputs"] == "sar"
    assert set(res["method"]["slope_min_deg"].values()) <= set(cr.SLOPE_GRID_DEG)
    assert res["n_chips"] == 60 and len(res["test_proba"]) == 60
    json.dumps(res, allow_nan=False)


def test_score_classifier_missing_classes():
    clf = ScoreClassifier().fit(np.array([0.0, 0.01, 0.2, 0.3]), np.array([0, 0, 2, 2]))
    p = clf.predict_proba(np.array([0.0, 0.5]))
    assert p.shape == (2, 3) and np.all(p[:, 1] == 0) and p[1, 2] > p[0, 2]
    one = ScoreClassifier().fit(np.array([0.1, 0.2]), np.array([1, 1]))
    np.testing.assert_array_equal(one.predict_proba(np.array([0.3])), [[0.0, 1.0, 0.0]])
    with pytest.raises(InputError):
        ScoreClassifier().predict_proba(np.array([0.1]))


# ---- slope model ------------------------------------------------------------------------------
def slope_scene(n: int, seed: int = 0, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    chips = base_chips(n, size=size, seed=seed, speckle=False)
    classes = np.arange(n) % 3
    mean = 10.0 + 10.0 * classes + rng.normal(0, 2, n)
    chips[:, SLOPE] = np.clip(mean[:, None, None] + rng.normal(0, 5, (n, size, size)), 0, 80)
    chips[:, CURV] = rng.normal(0, 1, (n, size, size))
    return chips, classes


def test_slope_features_values():
    ch = base_chips(2, size=4, speckle=False)
    ch[0, SLOPE] = np.arange(16).reshape(4, 4) * 2.0  # 0..30
    ch[0, CURV] = np.where(np.arange(16).reshape(4, 4) % 2, -1.0, 1.0)
    ch[0, SLOPE, 0, 0] = np.nan
    ch[1, SLOPE] = np.nan
    f = slope_features(ch)
    s = np.arange(1, 16) * 2.0
    np.testing.assert_allclose(
        f[0],
        [s.mean(), np.median(s), np.percentile(s, 90), (s > 25).mean(), -1 / 15, 8 / 15],
        rtol=1e-6,
    )
    assert np.isnan(f[1]).all() and len(FEATURE_NAMES) == f.shape[1]


def test_slope_model_follows_mean_slope(monkeypatch):
    chips, classes = slope_scene(60, seed=3)
    store = FakeStore(chips, classes)
    fitted: list[int] = []
    orig = ev.DensityForest.fit

    def spy(self, X, y):
        fitted.append(len(X))
        return orig(self, X, y)

    monkeypatch.setattr(ev.DensityForest, "fit", spy)
    res = run_baseline(store, "slope", seed=0, progress=False, batch_size=7)
    split = resolve_split("random", store.ids, 0, store)
    assert fitted == [len(f.train) for f in split.folds]
    assert res["auc"]["test"] > 0.9
    assert res["inputs"] == "dem" and res["name"] == "slope"
    assert [r[0] for r in res["test_proba"]] == store.ids.tolist()
    assert max(store.batches) <= 7 and sum(store.batches) == 60


def test_bad_arguments():
    chips, classes = slope_scene(12)
    store = FakeStore(chips, classes)
    with pytest.raises(ConfigError):
        run_baseline(store, "ndvi", progress=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError):
        run_baseline(store, "slope", revisits=0, progress=False)
    with pytest.raises(InputError):
        run_baseline(store, "slope", classes=np.zeros(3), progress=False)


# ---- the real tiny scene ------------------------------------------------------------------------
@pytest.mark.slow
def test_baselines_on_tiny_scene(scene_dir, tmp_path):
    from landslide_app.chips.build import build_chips
    from landslide_app.chips.store import ChipStore
    from landslide_app.sources.stac import open_local_catalog

    rep = build_chips(
        open_local_catalog(scene_dir / "catalog.json"), scene_dir / "inventory.gpkg", tmp_path / "chips", progress=False
    )
    store = ChipStore.open(rep.store.path)
    keys = RESULT_KEYS | {"name", "test_proba"}
    for name, split in (
        ("change_ratio", "random"),
        ("slope", "random"),
        ("change_ratio", "blocked"),
        ("sar_stats", "random"),
    ):
        res = run_baseline(store, name, split=split, seed=0, revisits=3, progress=False)
        assert keys <= set(res)
        assert set(res["auc"]) == {"train", "val", "test"} and res["split"] == split
        assert all(len(v) == 3 for v in res["auc_per_class"].values())
        assert res["n_chips"] == len(store.ids) and np.asarray(res["confusion"]).sum() == len(store.ids)
        assert [r[0] for r in res["test_proba"]] == store.ids.tolist()
        assert res["auc"]["test"] is not None and 0.0 <= res["auc"]["test"] <= 1.0
        json.dumps(res, allow_nan=False)
