"""train records the map's decision rules fitted on its validation chips; predict applies one (--decision)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from landslide_app.errors import ConfigError
from landslide_app.model.decision import DECISION_RULES, Decision
from landslide_app.model.map_classes import run_decision


def test_train_records_every_rule(dem_run):
    meta = json.loads((dem_run / "run.json").read_text())
    rec = meta["decision"]
    assert rec["default"] == "cost" and set(rec["rules"]) == set(DECISION_RULES)
    for rule, d in rec["rules"].items():
        assert Decision.from_dict(d).rule == rule and d["n_val"] == meta["n_val"]
    assert run_decision(meta).rule == "cost" and run_decision(meta, "accuracy").rule == "accuracy"
    assert run_decision({}) is None  # an older run: the most probable class
    with pytest.raises(ConfigError, match="train it again"):
        run_decision({}, "cost")


def test_predict_applies_the_chosen_rule(dem_run, tiny_store, tmp_path, one_torch_thread):
    from landslide_app.chips.store import ChipStore
    from landslide_app.experiments.production import load_run, local_features, predict_run

    run, store = load_run(dem_run), ChipStore.open(tiny_store)
    proba = run.forest.predict_proba(local_features(run, store, store.ids))
    for rule in ("accuracy", None):
        s = predict_run(dem_run, tiny_store, tmp_path / str(rule), progress=False, decision=rule)
        pred = run_decision(run.meta, rule).apply(proba)
        assert s["decision"] == (rule or "cost")
        assert s["class_counts"] == {str(c): int((pred == c).sum()) for c in range(3)}
        assert sum(s["class_counts"].values()) == len(store.ids)
        assert np.isin(pred, [0, 1, 2]).all()
