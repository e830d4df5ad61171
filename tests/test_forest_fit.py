"""``forest_fit``: the forest fitted on the training chips' embeddings (in-sample for the network) or on
the validation chips' (out-of-sample), with the decision then fitted on out-of-bag probabilities."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from test_model_pipeline import make_scene

from landslide_app.errors import ConfigError
from landslide_app.model.crossval import FoldData, cross_predict
from landslide_app.model.embedding_forest import EmbeddingForest
from landslide_app.model.forest import DensityForest
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.map_classes import decision_proba, map_classes
from landslide_app.model.metrics import multiclass_auc
from landslide_app.model.protocol import random_split

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHIPS, CLASSES = make_scene(48, seed=4)
CHIPS = CHIPS[:, :, :16, :16]
IDS = np.arange(48)


class Reader:
    """``get_batch(ids)`` that records every chip it hands out."""

    def __init__(self) -> None:
        self.reads: list[int] = []

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        self.reads.extend(int(i) for i in ids)
        return CHIPS[np.asarray(ids, np.int64)]


def _fold_data(seed: int = 3) -> FoldData:
    fold = random_split(IDS, seed=seed, classes=CLASSES).folds[0]
    return FoldData(0, fold, CLASSES[fold.train], CLASSES[fold.val])


def _model(reader: Reader, forest_fit: str) -> EmbeddingForest:
    return EmbeddingForest(
        reader,
        ModelConfig("dem", 1),
        epochs=1,
        seed=0,
        progress=False,
        forest_kwargs={"n_estimators": 60},
        forest_fit=forest_fit,
    )


@pytest.mark.parametrize("forest_fit", ["train", "validation"])
def test_the_forest_sees_the_chosen_chips_and_never_a_test_chip(forest_fit):
    data = _fold_data()
    reader = Reader()
    m = _model(reader, forest_fit).fit(data)
    rows, y = (data.fold.val, data.y_val) if forest_fit == "validation" else (data.fold.train, data.y_train)
    assert m.oob_set == ("val" if forest_fit == "validation" else "train")
    assert m.forest is not None and m.forest.train_counts == tuple(np.bincount(y, minlength=3).tolist())
    assert m.oob_proba().shape == (len(rows), 3)
    assert not set(reader.reads) & set(data.fold.test.tolist())  # fitting never reads a test chip
    assert set(reader.reads) <= set(data.fold.train.tolist()) | set(data.fold.val.tolist())


def test_refitting_the_forest_reuses_the_network_and_the_features():
    data = _fold_data()
    reader = Reader()
    m = _model(reader, "train").fit(data)
    m.predict_proba(data.fold.val)  # the engine scores the validation chips: their features are known
    n_reads = len(reader.reads)
    v = m.with_forest_fit("validation", data)
    assert len(reader.reads) == n_reads  # nothing embedded again
    assert v.model is m.model and v.forest is not m.forest
    assert v.forest_fit == "validation" and m.forest_fit == "train"
    assert m.forest is not None and sum(m.forest.train_counts) == len(data.fold.train)  # the original is kept
    assert v.forest is not None and sum(v.forest.train_counts) == len(data.fold.val)
    fresh = DensityForest(seed=0, n_estimators=60).fit(m.features(data.fold.val), data.y_val)
    np.testing.assert_array_equal(v.predict_proba(data.fold.test), fresh.predict_proba(m.features(data.fold.test)))
    with pytest.raises(ConfigError, match="use train or validation"):
        m.with_forest_fit("test", data)


def test_the_decision_and_the_val_auc_use_out_of_bag_scores_when_the_forest_saw_the_validation_chips():
    split = random_split(IDS, seed=1, classes=CLASSES)
    models: dict[str, list[EmbeddingForest]] = {"train": [], "validation": []}

    def fit(forest_fit: str):
        def fit_fold(data: FoldData) -> EmbeddingForest:
            m = _model(Reader(), forest_fit).fit(data)
            models[forest_fit].append(m)
            return m

        return fit_fold

    for forest_fit in models:
        cv = cross_predict(split, IDS, CLASSES, fit(forest_fit), label=forest_fit)
        for fold, m, outcome in zip(split.folds, models[forest_fit], cv.folds):
            in_sample = m.predict_proba(fold.val)
            used = decision_proba(m, fold.val)
            if forest_fit == "train":
                np.testing.assert_array_equal(used, in_sample)
            else:
                oob = m.oob_proba()
                assert np.isfinite(oob).all() and not np.allclose(used, in_sample)
                np.testing.assert_array_equal(used, oob)
            assert outcome.auc["val"].macro == pytest.approx(multiclass_auc(CLASSES[fold.val], used).macro)
        assert len(map_classes(cv).decisions) == 2


def test_settings_and_cache_keys_keep_the_two_settings_apart():
    from landslide_app.experiments.ablation import AblationSettings, _run_fingerprint

    with pytest.raises(ConfigError, match="forest_fit 'test'"):
        AblationSettings(forest_fit="test")
    store = SimpleNamespace(meta=SimpleNamespace(fingerprint="abc"))
    spec = AblationSettings().specs()[0]
    keys = {f: _run_fingerprint(store, spec, AblationSettings(forest_fit=f)) for f in ("train", "validation")}
    assert keys["train"] != keys["validation"]
    assert keys["train"] == _run_fingerprint(store, spec, AblationSettings())  # the default's key is unchanged


def test_cli_train_and_ablate_record_the_setting(tiny_store, tmp_path):
    from landslide_app.cli import main
    from landslide_app.experiments.artifacts import fold_model_paths

    run = tmp_path / "run"
    assert main(["-q", "train", "--chips", str(tiny_store), "--inputs", "dem", "--revisits", "1", "--epochs", "1",
                 "--forest-fit", "validation", "--out", str(run)]) == 0  # fmt: skip
    meta = json.loads((run / "run.json").read_text())
    assert meta["forest_fit"] == "validation"
    assert sum(DensityForest.load(run / "forest.npz").train_counts) == meta["n_val"]

    out = tmp_path / "abl"
    base = ["-q", "ablate", "--chips", str(tiny_store), "--inputs", "dem", "--revisits", "1", "--epochs", "1",
            "--no-baselines", "--out", str(out)]  # fmt: skip
    assert main([*base, "--forest-fit", "validation"]) == 0
    res = json.loads((out / "results.json").read_text())
    (r,) = res["runs"]
    assert r["forest_fit"] == "validation" and res["forest_fit"] == "validation"
    run_dir = out / "runs" / r["key"]
    for k, fold in enumerate(r["folds"]):
        assert sum(DensityForest.load(fold_model_paths(run_dir, k)[1]).train_counts) == fold["n_val"]
    assert main(base) == 0  # the default setting is not taken from the other setting's cache
    (r2,) = json.loads((out / "results.json").read_text())["runs"]
    assert r2["forest_fit"] == "train" and r2["fingerprint"] != r["fingerprint"]
    assert sum(DensityForest.load(fold_model_paths(run_dir, 0)[1]).train_counts) == r2["folds"][0]["n_train"]
