"""One ablation configuration end to end under the cross-prediction protocol."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from result_fields import RESULT_KEYS

from landslide_app.core.density import density_class
from landslide_app.errors import InputError
from landslide_app.model.cnn_protocol import run_configuration
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.protocol import DEFAULT_BLOCK_SIZE, random_split
from landslide_app.model.train import ArrayChips

pytestmark = pytest.mark.usefixtures("one_torch_thread")


SIZE = 32
AREA_KM2 = (SIZE * 10 / 1000) ** 2  # 0.1024 km²: 3 heads = 29.3 /km² -> class 2
FAST = {"progress": False, "forest_kwargs": {"n_estimators": 100}}


def make_scene(n, seed=0, informative=True, patch=7):
    """Chips whose heads sit on steep, VH-darkened patches: the class is a function of the inputs."""
    rng = np.random.default_rng(seed)
    ch = np.empty((n, 17, SIZE, SIZE), np.float32)
    ch[:, 0] = rng.normal(500, 50, (n, SIZE, SIZE))
    ch[:, 1] = rng.uniform(0, 20, (n, SIZE, SIZE))
    ch[:, 2] = rng.normal(0, 1, (n, SIZE, SIZE))
    ch[:, 3] = rng.uniform(0, 360, (n, SIZE, SIZE))
    ch[:, 4:16] = rng.gamma(4.0, 0.0125, (n, 12, SIZE, SIZE))
    ch[:, 16] = 0.0
    h = patch // 2
    for i in range(n):
        for _ in range((0, 2, 8)[i % 3]):
            r, c = rng.integers(h, SIZE - h, 2)
            ch[i, 16, r, c] += 1
            if informative:
                ch[i, 1, r - h : r + h + 1, c - h : c + h + 1] += 25
                ch[i, 11:16:2, r - h : r + h + 1, c - h : c + h + 1] *= 0.25
    ch[:, :, -1, -3:] = np.nan
    classes = density_class(np.nansum(ch[:, 16], axis=(1, 2)), AREA_KM2).astype(np.int64)
    return ch, classes


CHIPS, CLASSES = make_scene(48)


class FakeStore:
    """Minimal chip-store stand-in: ``read_many`` plus an index with grid positions."""

    def __init__(self, chips, ids, n_cols):
        self.chips = dict(zip(ids.tolist(), chips))
        self.index = pd.DataFrame({"chip_id": ids, "row": ids // n_cols, "col": ids % n_cols})
        self.reads: list[int] = []

    def read_many(self, ids):
        self.reads.extend(ids)
        return np.stack([self.chips[i] for i in ids])


def test_informative_scene_gives_high_auc_and_json_result():
    assert set(np.bincount(CLASSES).tolist()) == {16}
    res = run_configuration(
        CHIPS, np.arange(48), CLASSES, ModelConfig("fused", 3), "random", epochs=2, seed=0, keep_embeddings=True, **FAST
    )
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))  # strict JSON
    assert RESULT_KEYS <= set(d)
    assert (d["inputs"], d["revisits"], d["split"], d["n_chips"]) == ("fused", 3, "random", 48)
    assert set(d["auc"]) == {"train", "val", "test"}
    assert d["auc"]["test"] > 0.9
    assert len(d["auc_per_class"]["test"]) == 3
    assert np.asarray(d["confusion"]).sum() == 48
    assert res.embeddings.shape == (48, SIZE, SIZE)
    assert res.test_features.shape == (48, 19) and np.isfinite(res.test_features).all()


def test_every_chip_predicted_once_by_a_model_that_never_saw_it():
    ids = np.arange(500, 548)
    split = random_split(ids, seed=5)
    res = run_configuration(
        ArrayChips(CHIPS, ids), ids, CLASSES, ModelConfig("dem", 1), split, epochs=1, seed=0, **FAST
    )
    np.testing.assert_array_equal(res.ids, np.sort(ids))
    assert np.isfinite(res.test_proba).all()
    folds = {f.name: f for f in split.folds}
    for chip, fold_name in zip(res.ids, res.test_fold):
        fold = folds[fold_name]
        assert chip in fold.test and chip not in fold.train and chip not in fold.val
    assert sorted(np.concatenate([f.test for f in res.protocol.folds]).tolist()) == sorted(ids.tolist())
    assert [f.n_test for f in res.folds] == [24, 24]


def test_shuffled_classes_give_auc_near_half():
    chips, classes = make_scene(96, seed=3)
    shuffled = np.random.default_rng(1).permutation(classes)
    res = run_configuration(
        chips[:, :, :16, :16], np.arange(96), shuffled, ModelConfig("sar", 1), "random", epochs=1, seed=2, **FAST
    )
    assert abs(res.auc["test"].macro - 0.5) < 0.15


def test_blocked_split_through_a_store_like_reader():
    ids = np.arange(48)
    store = FakeStore(CHIPS, ids, n_cols=8)  # 6 x 8 chip grid
    res = run_configuration(store, ids, CLASSES, ModelConfig("sar", 2), "blocked", epochs=1, seed=0, **FAST)
    assert res.split == "blocked" and res.protocol.params["block_size"] == DEFAULT_BLOCK_SIZE
    assert len(res.ids) == 48
    assert set(store.reads) == set(ids.tolist())


def test_bad_classes():
    with pytest.raises(InputError):
        run_configuration(CHIPS, np.arange(48), CLASSES[:10], ModelConfig(), "random", epochs=1, progress=False)
