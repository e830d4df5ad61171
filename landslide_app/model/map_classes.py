"""The map's classes of a cross-prediction: one decision per fold, fitted on that fold's validation chips.

After :func:`landslide_app.model.crossval.cross_predict`, each fold's model scores its validation
chips; :func:`landslide_app.model.decision.fit_decision` calibrates the probabilities and fixes the
decision rule on those chips only (never the test chips), with the forest's prior shift
(:meth:`landslide_app.model.forest.DensityForest.prior_shift`) as the calibration's starting point.
The fold's decision then gives the classes shown for its test chips. Pooled over the folds, every
chip has one map class and one calibrated probability vector, scored by
:func:`landslide_app.model.metrics.map_metrics` against the true classes; the majority-class
baseline shows everywhere the most frequent class of the folds' training chips.

A fold model whose forest was fitted on the validation chips themselves (``oob_set == "val"``,
:mod:`landslide_app.model.embedding_forest` ``forest_fit="validation"``) gives the decision its
out-of-bag probabilities of those chips (:func:`decision_proba`): nothing is fitted in-sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from landslide_app.core.vocabulary import N_CLASSES
from landslide_app.model.crossval import CrossValResult
from landslide_app.model.decision import DEFAULT_DECISION, Decision, check_rule, fit_decision
from landslide_app.model.metrics import map_metrics


@dataclass
class MapClasses:
    """Pooled map classes and calibrated probabilities (rows like ``cv.ids``), one decision per fold."""

    pred: np.ndarray
    calibrated: np.ndarray
    decisions: list[Decision]
    metrics: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """``{"decision": {"rule", "folds": [...]}, "map": metrics}`` for a result file."""
        rule = self.decisions[0].rule if self.decisions else DEFAULT_DECISION
        return {"decision": {"rule": rule, "folds": [d.to_dict() for d in self.decisions]}, "map": self.metrics}


def prior_shift_of(model: Any) -> np.ndarray | None:
    """The forest's log-prior correction of a fold model (None when it has no forest)."""
    forest = getattr(model, "forest", None)
    fn = getattr(forest, "prior_shift", None)
    return np.asarray(fn()) if callable(fn) else None


def decision_proba(model: Any, val: np.ndarray) -> np.ndarray:
    """The probabilities of the validation chips ``val`` that the decision is fitted on: the model's,
    or its forest's out-of-bag ones when the forest was fitted on these chips (rows that have none,
    a chip in every bootstrap sample, keep the in-sample score)."""
    val = np.asarray(val, np.int64)
    if not len(val):
        return np.empty((0, N_CLASSES))
    proba = np.asarray(model.predict_proba(val), np.float64)
    if getattr(model, "oob_set", "train") == "val":
        oob = np.asarray(model.oob_proba(), np.float64)
        if oob.shape != proba.shape:
            raise ValueError(f"out-of-bag rows {oob.shape} do not match the validation chips {proba.shape}")
        ok = np.isfinite(oob).all(axis=1).reshape(-1, 1)
        proba = np.where(ok, oob, proba)
    return proba


def map_classes(cv: CrossValResult, rule: str = DEFAULT_DECISION) -> MapClasses:
    """The map's classes of ``cv`` under ``rule`` (see the module docstring)."""
    rule = check_rule(rule)
    pos = {int(i): n for n, i in enumerate(cv.ids)}
    pred = np.full(len(cv.ids), -1, np.int64)
    calibrated = np.full((len(cv.ids), N_CLASSES), np.nan)
    decisions, train_y = [], []
    for fold, model in zip(cv.split.folds, cv.models):
        val = np.asarray(fold.val, np.int64)
        val_y = cv.y_true[[pos[int(i)] for i in val]]
        val_proba = decision_proba(model, val)
        d = fit_decision(val_proba, val_y, rule, prior_shift=prior_shift_of(model))
        rows = np.array([pos[int(i)] for i in fold.test], np.int64)
        pred[rows] = d.apply(cv.test_proba[rows])
        calibrated[rows] = d.calibrate(cv.test_proba[rows])
        decisions.append(d)
        train_y.append(cv.y_true[[pos[int(i)] for i in fold.train]])
    ys = np.concatenate(train_y) if train_y else cv.y_true
    majority = int(np.argmax(np.bincount(ys, minlength=N_CLASSES)))
    metrics = map_metrics(cv.y_true, pred, calibrated, majority_class=majority)
    return MapClasses(pred, calibrated, decisions, metrics)


def fit_run_decisions(
    val_proba: np.ndarray, val_y: np.ndarray, model: Any, default: str = DEFAULT_DECISION
) -> dict[str, Any]:
    """A single run's map decisions (``run.json``'s ``decision``): every rule fitted on the run's
    validation chips, and the default one ``predict`` applies unless told another (``--decision``)."""
    from landslide_app.model.decision import DECISION_RULES

    shift = prior_shift_of(model)
    return {
        "default": check_rule(default),
        "rules": {r: fit_decision(val_proba, val_y, r, prior_shift=shift).to_dict() for r in DECISION_RULES},
    }


def run_decision(meta: dict[str, Any], rule: str | None = None) -> Decision | None:
    """The decision a run recorded for ``rule`` (None: the run's default); None for a run trained
    before decisions were recorded (its map shows the most probable class)."""
    rec = meta.get("decision")
    if not isinstance(rec, dict) or "rules" not in rec:
        if rule is not None:
            from landslide_app.errors import ConfigError

            raise ConfigError(
                f"--decision {rule}: this run records no map decision (trained by an older version); train it again"
            )
        return None
    name = check_rule(rule or rec.get("default", DEFAULT_DECISION))
    return Decision.from_dict(rec["rules"][name])
