"""Runs written before the ``.npz`` forest (``forest.skops``) still load, checksum-checked, and predict the same."""

from __future__ import annotations

import json
import shutil

import numpy as np

from landslide_app.atomic import file_digest
from landslide_app.experiments.artifacts import fold_model_paths
from landslide_app.experiments.run_bundle import load_run
from landslide_app.model.forest import DensityForest


def test_a_run_of_the_former_layout_loads_and_predicts_the_same(dem_run, tmp_path):
    old = tmp_path / "old-run"
    shutil.copytree(dem_run, old)
    DensityForest.load(old / "forest.npz").save(old / "forest.skops")
    (old / "forest.npz").unlink()
    meta = json.loads((old / "run.json").read_text())
    meta["files"] = {"model.pt": meta["files"]["model.pt"], "forest.skops": file_digest(old / "forest.skops")}
    (old / "run.json").write_text(json.dumps(meta))
    new, legacy = load_run(dem_run), load_run(old)
    X = np.random.default_rng(0).uniform(0, 1, (50, 19)).astype(np.float32)
    np.testing.assert_array_equal(legacy.forest.predict_proba(X), new.forest.predict_proba(X))
    # the former file is checksum-checked as the new one is
    (old / "forest.skops").write_bytes((old / "forest.skops").read_bytes() + b"x")
    try:
        load_run(old)
    except Exception as err:  # noqa: BLE001
        assert "does not match run.json" in str(err)
    else:
        raise AssertionError("a modified forest.skops was loaded")


def test_fold_paths_prefer_the_npz_and_fall_back_to_the_former_file(tmp_path):
    assert fold_model_paths(tmp_path, 1) == (tmp_path / "model_fold1.pt", tmp_path / "forest_fold1.npz")
    (tmp_path / "forest_fold1.skops").touch()
    assert fold_model_paths(tmp_path, 1)[1] == tmp_path / "forest_fold1.skops"
    (tmp_path / "forest_fold1.npz").touch()
    assert fold_model_paths(tmp_path, 1)[1] == tmp_path / "forest_fold1.npz"
