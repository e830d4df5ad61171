"""The cross-prediction engine, the run artifacts and the report: fast tests with toy fold models."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from landslide_app.errors import InputError
from landslide_app.experiments import artifacts
from landslide_app.experiments.artifacts import RunSpec
from landslide_app.model.crossval import FoldData, FoldEvent, cross_predict, repeat_over_seeds
from landslide_app.model.metrics import multiclass_auc
from landslide_app.model.protocol import Fold, ProtocolSplit, random_split
from landslide_app.model.roc import macro_roc

N = 60
IDS = np.arange(100, 100 + N)
Y = np.arange(N) % 3


class TableModel:
    """A fold model that scores each chip from a fixed table (noisy one-hot of its class)."""

    def __init__(self, table: dict[int, np.ndarray], oob: np.ndarray | None = None) -> None:
        self.table, self.oob, self.fitted_on = table, oob, None

    def fit(self, data: FoldData) -> TableModel:
        self.fitted_on = data
        return self

    def predict_proba(self, ids: np.ndarray) -> np.ndarray:
        return np.stack([self.table[int(i)] for i in ids])

    def oob_proba(self) -> np.ndarray | None:
        return self.oob

    def features(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(ids, np.float32)[:, None] * np.ones((1, 2), np.float32)

    def info(self) -> dict:
        return {"fitted_on": self.fitted_on.fold.name}


def _table(seed: int = 0) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = np.eye(3)[Y] + rng.random((N, 3)) * 1.5
    p /= p.sum(axis=1, keepdims=True)
    return {int(i): row for i, row in zip(IDS, p)}


def test_pooled_aucs_fold_results_and_progress_events():
    split, table, events = random_split(IDS, seed=3), _table(), []
    shuffled = np.random.default_rng(1).permutation(N)  # the engine sorts by chip id
    res = cross_predict(split, IDS[shuffled], Y[shuffled], lambda d: TableModel(table).fit(d), on_fold=events.append)
    np.testing.assert_array_equal(res.ids, IDS)
    np.testing.assert_array_equal(res.y_true, Y)
    for s in ("train", "val", "test"):  # pooled over the folds, each chip of a set scored by its fold's model
        sel = np.concatenate([getattr(f, s) for f in split.folds])
        want = multiclass_auc(Y[sel - 100], np.stack([table[int(i)] for i in sel])).macro
        assert res.auc[s].macro == pytest.approx(want)
    np.testing.assert_allclose(res.test_proba, np.stack([table[int(i)] for i in IDS]))
    assert [f.n_test for f in res.folds] == [len(f.test) for f in split.folds]
    assert [f.info["fitted_on"] for f in res.folds] == ["A", "B"]
    for f, m in zip(split.folds, res.models):  # each model saw its own fold's classes
        np.testing.assert_array_equal(m.fitted_on.y_train, Y[f.train - 100])
    np.testing.assert_array_equal(res.test_features[:, 0], IDS)  # held-out rows of the models' features
    assert [(e.name, e.stage) for e in events] == [("A", "start"), ("A", "done"), ("B", "start"), ("B", "done")]
    assert [e.fraction for e in events] == [0.0, 0.5, 0.5, 1.0]
    assert events[1].auc["test"] == pytest.approx(res.folds[0].auc["test"].macro)
    summary = res.summary()
    assert summary["n_chips"] == N and summary["class_support"] == [20, 20, 20]
    assert summary["confusion"] == res.confusion.tolist() and sum(map(sum, summary["confusion"])) == N


def test_out_of_bag_swap_keeps_in_sample_rows_where_oob_is_nan():
    split, table = random_split(IDS, seed=0), _table()
    fold = split.folds[0]
    oob = np.full((len(fold.train), 3), 1 / 3)
    oob[0] = np.nan  # a chip in every bootstrap sample: its in-sample score stays
    models = {0: TableModel(table, oob), 1: TableModel(table, None)}
    res = cross_predict(split, IDS, Y, lambda d: models[d.k].fit(d))
    train_a = np.stack([table[int(i)] for i in fold.train])
    want_a = np.where(np.isfinite(oob).all(axis=1)[:, None], oob, train_a)
    assert res.folds[0].auc["train"].macro == pytest.approx(multiclass_auc(Y[fold.train - 100], want_a).macro)
    in_sample = cross_predict(split, IDS, Y, lambda d: models[d.k].fit(d), train_auc="in_sample")
    assert in_sample.folds[0].auc["train"].macro == pytest.approx(multiclass_auc(Y[fold.train - 100], train_a).macro)
    assert in_sample.folds[0].auc["train"].macro != res.folds[0].auc["train"].macro


def test_uncovered_chips_and_bad_classes_are_errors():
    split = random_split(IDS[:-2], seed=0)  # two chips in no test set
    with pytest.raises(InputError, match="held-out prediction"):
        cross_predict(split, IDS, Y, lambda d: TableModel(_table()).fit(d))
    with pytest.raises(InputError, match="0..2"):
        cross_predict(random_split(IDS), IDS, Y + 1, lambda d: TableModel(_table()).fit(d))


def test_seed_repeats_are_a_loop_over_the_engine():
    runs = repeat_over_seeds(
        [0, 1, 2], lambda s: cross_predict(random_split(IDS, seed=s), IDS, Y, lambda d: TableModel(_table(s)).fit(d))
    )
    assert [r.split.seed for r in runs] == [0, 1, 2]
    assert len({r.auc["test"].macro for r in runs}) == 3


def test_fold_event_text():
    e = FoldEvent(1, 2, "B", "done", {"train": 0.9, "val": 0.8, "test": 0.7})
    assert e.fraction == 1.0 and "fold B done" in e.describe() and "test 0.700" in e.describe()


# ---- artifacts and report ------------------------------------------------------------------


def test_predictions_round_trip_exactly_and_spec_of_result(tmp_path):
    spec = RunSpec("sar", 2, "random", (0.0, 30.0))
    d = artifacts.run_dir(tmp_path, spec)
    d.mkdir(parents=True)
    proba = np.random.default_rng(0).dirichlet(np.ones(3), size=5)
    artifacts.write_predictions(d, np.arange(5), np.array([0, 1, 2, 1, 0]), proba, proba.argmax(1), ["A"] * 5)
    p = artifacts.read_predictions(tmp_path, spec)
    np.testing.assert_array_equal(p["proba"], proba)  # exact, not approximately
    assert RunSpec.of_result({"inputs": "sar", "revisits": 2, "split": "random", "key": spec.key}) == spec
    assert RunSpec.of_result({"inputs": "sar", "revisits": 2, "split": "random", "thresholds": [0, 30]}) == spec
    assert RunSpec.of_result({"inputs": "dem", "revisits": 3, "split": "blocked", "key": "dem-r3-blocked"}) == RunSpec(
        "dem", 3, "blocked"
    )
    assert artifacts.baseline_path(tmp_path, "slope", 3, "random").name == "slope-r3-random.json"
    assert artifacts.read_features(tmp_path, spec) is None
    artifacts.write_features(d, np.arange(5), np.ones((5, 19)))
    ids, f = artifacts.read_features(tmp_path, spec)
    assert f.dtype == np.float32 and f.shape == (5, 19) and ids.tolist() == [0, 1, 2, 3, 4]


def test_report_roc_reads_the_custom_threshold_run(tmp_path):
    """A custom-threshold ablation's ROC comes from its own predictions (it read the
    default-threshold folder, or nothing)."""
    from landslide_app.experiments.report import _roc_points

    spec = RunSpec("fused", 3, "random", (0.0, 10.0))
    d = artifacts.run_dir(tmp_path, spec)
    d.mkdir(parents=True)
    y = np.array([0, 1, 2, 1, 0, 2, 1, 1])
    proba = np.random.default_rng(1).dirichlet(np.ones(3), size=len(y))
    artifacts.write_predictions(d, np.arange(len(y)), y, proba, proba.argmax(1), ["A"] * len(y))
    run = {
        "inputs": "fused",
        "revisits": 3,
        "split": "random",
        "key": spec.key,
        "auc": {"test": 0.5},
        "thresholds": [0.0, 10.0],
    }
    pts = _roc_points(tmp_path, run)
    assert pts is not None
    want = macro_roc(y, proba)
    np.testing.assert_allclose(pts[1], want[1])


def test_report_draws_without_pyplot_or_a_backend_switch(tmp_path):
    """The dashboard writes the report from a background thread: no pyplot, no matplotlib.use."""
    code = f"""
import sys, matplotlib
matplotlib.use("svg")
import numpy as np
from pathlib import Path
from landslide_app.experiments import artifacts
from landslide_app.experiments.artifacts import RunSpec
from landslide_app.experiments.report import write_report
out = Path({str(tmp_path)!r})
spec = RunSpec("dem", 1)
d = artifacts.run_dir(out, spec); d.mkdir(parents=True)
y = np.array([0, 1, 2, 1, 0, 2]); p = np.eye(3)[y] * 0.5 + 0.5 / 3
artifacts.write_predictions(d, np.arange(6), y, p, p.argmax(1), ["A"] * 6)
run = {{"inputs": "dem", "revisits": 1, "split": "random", "key": spec.key, "n_chips": 6,
       "auc": {{"train": 1.0, "val": 1.0, "test": 1.0}}, "confusion": [[2, 0, 0], [0, 2, 0], [0, 0, 2]]}}
write_report({{"runs": [run], "baselines": [], "epochs": 1, "seed": 0, "seconds": 1.0}}, out)
assert "matplotlib.pyplot" not in sys.modules, "pyplot imported"
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
"""
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    assert (tmp_path / "roc.png").read_bytes().startswith(b"\x89PNG")
    assert (tmp_path / "confusion.png").read_bytes().startswith(b"\x89PNG")


def test_tests_write_no_tracked_files():
    """Screenshots and other outputs of the tests go to temporary folders, not into docs/."""
    here = Path(__file__).resolve().parent
    offenders = [
        p.name
        for p in here.glob("test_*.py")
        if p.name != Path(__file__).name and '"docs" / "screenshots"' in p.read_text()
    ]
    assert offenders == []


def test_a_single_fold_split_is_a_protocol_split_too():
    ids = np.arange(10)
    fold = Fold("A", ids[:4], ids[4:6], ids)
    res = cross_predict(
        ProtocolSplit("random", (fold,), 0),
        ids,
        ids % 3,  # type: ignore[arg-type]
        lambda d: TableModel({int(i): np.eye(3)[i % 3] for i in ids}).fit(d),
    )
    assert res.auc["test"].macro == 1.0 and len(res.folds) == 1
