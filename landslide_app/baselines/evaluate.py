"""Evaluate a baseline under exactly the CNN's cross-prediction protocol.

:func:`run_baseline` builds the split with :func:`landslide_app.model.protocol.make_split` from
the store's ids (sorted, as ``ChipStore.ids``) with the same ``kind``/``seed`` and default
parameters as :func:`landslide_app.model.cnn_protocol.run_configuration`, so a baseline and a CNN
configuration run with the same seed train, validate and test on the same chips. For each fold
the baseline is fitted on the fold's training chips only, and predicts its validation chips and
its test half; the two test halves cover every chip exactly once.

* ``change_ratio`` (:mod:`~landslide_app.baselines.change_ratio`): for each candidate slope mask
  (``slope_grid``) the 99th-percentile threshold and the score classifier are fitted on the
  training chips; the mask with the best validation AUC is kept (model selection on the
  validation chips, like the CNN's epoch), so "val" is optimistic, as for the CNN. With
  ``slope_grid=None`` the fixed ``params.slope_min_deg`` is used and "val" is a plain held-out
  estimate. "train" AUC: in-sample (a 1-D logistic regression with 2 x 2 parameters barely
  over-fits).
* ``slope`` (:mod:`~landslide_app.baselines.slope_model`): the seeded forest (fold k: ``seed +
  k``); "train" AUC from out-of-bag probabilities like the CNN pipeline's default.
* ``sar_stats`` (:mod:`~landslide_app.baselines.sar_stats`): per-chip slope and SAR change
  statistics of the first ``revisits`` post dates, the same seeded forest as ``slope``.

The fold loop is the CNN's own (:func:`landslide_app.model.crossval.cross_predict`): the fold
models here are :class:`FeatureForestFold` (``slope``, ``sar_stats``) and :class:`ChangeRatioFold`.
AUCs are pooled over the folds like the pipeline: "train" over both training sets, "val" over both
validation sets, "test" over all chips.

The returned dict has the keys of ``RunResult.to_dict()`` that describe a result (``inputs,
revisits, split, auc, auc_weighted, auc_per_class, confusion, n_chips, seconds, seed,
class_support, folds``) plus ``name``, ``method`` (the baseline's parameters and per-fold fitted
values) and ``test_proba`` (``[chip_id, p0, p1, p2]`` per chip, sorted by id). NaN -> ``None``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from landslide_app.baselines.change_ratio import (
    SLOPE_GRID_DEG,
    ChangeRatioParams,
    ChangeStats,
    compute_change_stats,
)
from landslide_app.baselines.change_ratio_model import fit_selecting_slope
from landslide_app.baselines.sar_stats import N_TREES as SAR_STATS_TREES
from landslide_app.baselines.sar_stats import compute_sar_stats_features, feature_names
from landslide_app.baselines.slope_model import FEATURE_NAMES, N_TREES, compute_slope_features
from landslide_app.core.vocabulary import BASELINES, N_CLASSES, BaselineName, SplitKind
from landslide_app.errors import ConfigError, InputError
from landslide_app.model.crossval import CrossValResult, FoldData, check_classes, cross_predict
from landslide_app.model.decision import DEFAULT_DECISION
from landslide_app.model.forest import DensityForest
from landslide_app.model.map_classes import map_classes
from landslide_app.model.metrics import nan_to_none
from landslide_app.model.protocol import ProtocolSplit, resolve_split

logger = logging.getLogger(__name__)

INPUTS: dict[str, str] = {"change_ratio": "sar", "slope": "dem", "sar_stats": "fused"}


class FeatureForestFold:
    """A forest baseline on one fold: the seeded forest on precomputed per-chip features (the slope
    model's, the SAR chip statistics')."""

    def __init__(self, ids_sorted: np.ndarray, feats: np.ndarray, seed: int, forest_kwargs: dict[str, Any]) -> None:
        self.ids_sorted, self.feats, self.seed, self.forest_kwargs = ids_sorted, feats, seed, forest_kwargs

    def features(self, ids: np.ndarray) -> np.ndarray:
        return self.feats[np.searchsorted(self.ids_sorted, ids)]

    def fit(self, data: FoldData) -> FeatureForestFold:
        self.forest = DensityForest(seed=self.seed, **self.forest_kwargs).fit(
            self.features(data.fold.train), data.y_train
        )
        return self

    def predict_proba(self, ids: np.ndarray) -> np.ndarray:
        return self.forest.predict_proba(self.features(ids))

    def oob_proba(self) -> np.ndarray:
        return self.forest.oob_proba()


class ChangeRatioFold:
    """The SAR change ratio on one fold: slope mask selected on the validation chips, threshold and
    score classifier fitted on the training chips (:func:`fit_selecting_slope`)."""

    def __init__(self, candidates: Sequence[ChangeStats], default_slope_deg: float) -> None:
        self.candidates, self.default_slope_deg = candidates, default_slope_deg

    def fit(self, data: FoldData) -> ChangeRatioFold:
        present = np.unique(data.y_train)
        if len(present) < N_CLASSES:
            logger.warning(
                "Fold %s: training chips hold only classes %s; the others get probability 0.",
                data.fold.name,
                present.tolist(),
            )
        self.model, self.stats, self.by_slope = fit_selecting_slope(
            self.candidates,
            data.fold.train,
            data.y_train,
            data.fold.val,
            data.y_val,
            self.default_slope_deg,
        )
        return self

    def predict_proba(self, ids: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(self.stats, ids)


def run_baseline(
    store: Any,
    name: BaselineName,
    split: ProtocolSplit | SplitKind = "random",
    seed: int = 0,
    revisits: int = 3,
    progress: bool = True,
    *,
    ids: np.ndarray | None = None,
    classes: np.ndarray | None = None,
    batch_size: int = 32,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
    block_size: int | None = None,
    params: ChangeRatioParams | None = None,
    slope_grid: Sequence[float] | None = SLOPE_GRID_DEG,
    forest_kwargs: dict[str, Any] | None = None,
    decision: str = DEFAULT_DECISION,
) -> dict[str, Any]:
    """Run one baseline through the cross-prediction protocol.

    Why it is long: sixteen documented options; the body is one short linear sequence (check, split,
    the baseline's folds, the summary).

    Args:
        store: chip source with ``read_many(ids)`` (a :class:`~landslide_app.chips.store.ChipStore`
            or any object with ``ids``, ``classes``, ``read_many`` and, for the blocked split,
            an ``index`` with ``chip_id``, ``row``, ``col``).
        name: ``"change_ratio"`` (SAR), ``"slope"`` (DEM) or ``"sar_stats"`` (SAR statistics + slope).
        split: ``"random"`` (the paper), ``"blocked"``, or a ready :class:`ProtocolSplit`.
        seed: split seed (as for the CNN) and forest seed (fold k: ``seed + k``).
        revisits: post-event dates used by the change ratio and the SAR statistics (1..3); recorded
            for ``slope`` too.
        progress: ``tqdm`` bar over the chips.
        ids, classes: chips and their classes (default ``store.ids`` / ``store.classes``).
        batch_size: chips read at a time.
        rows, cols: grid positions (blocked split; default from ``store.index``).
        block_size: block edge in chips of the blocked split (default ``protocol.DEFAULT_BLOCK_SIZE``).
        params: change-ratio parameters (``revisits`` is overridden by the argument).
        slope_grid: candidate slope masks (degrees) of the change ratio, one selected per fold on
            its validation chips; ``None`` (or one value) uses ``params.slope_min_deg`` as is.
        forest_kwargs: overrides of the forest's parameters (``slope``, ``sar_stats``).
        decision: the map's decision rule, fitted per fold on validation chips
            (:mod:`landslide_app.model.map_classes`; the result's ``map`` and ``decision``).

    Returns:
        JSON-serialisable summary (see the module docstring).
    """
    if name not in BASELINES:
        raise ConfigError(f"Unknown baseline {name!r}: use one of {', '.join(BASELINES)}.")
    if int(revisits) not in (1, 2, 3):
        raise ConfigError(f"revisits must be 1, 2 or 3, got {revisits}.")
    t0 = time.perf_counter()
    ids_arr, y = check_classes(store.ids if ids is None else ids, store.classes if classes is None else classes)
    # as the CNN: same chips
    the_split = resolve_split(split, ids_arr, seed, store, rows, cols, classes=y, block_size=block_size)
    # One streaming pass over every chip; every fold reuses it.
    if name == "change_ratio":
        cv, method = _change_ratio_cv(store, the_split, ids_arr, y, revisits, params, slope_grid, batch_size, progress)
    else:
        cv, method = _forest_cv(store, name, the_split, ids_arr, y, seed, revisits, forest_kwargs, batch_size, progress)
    return {
        "name": name,
        "inputs": INPUTS[name],
        "revisits": int(revisits),
        **cv.summary(),
        "seed": int(seed),
        "seconds": round(time.perf_counter() - t0, 3),
        "method": method,
        **map_classes(cv, decision).to_dict(),
        "test_proba": [
            [int(i), *(nan_to_none(v) for v in row)] for i, row in zip(cv.ids.tolist(), cv.test_proba.tolist())
        ],
    }


def _change_ratio_cv(
    store: Any,
    split: ProtocolSplit,
    ids: np.ndarray,
    y: np.ndarray,
    revisits: int,
    params: ChangeRatioParams | None,
    slope_grid: Sequence[float] | None,
    batch_size: int,
    progress: bool,
) -> tuple[CrossValResult, dict[str, Any]]:
    cr_params = replace(params or ChangeRatioParams(), revisits=int(revisits))
    grid = [float(g) for g in (slope_grid or [cr_params.slope_min_deg])]
    if len(set(grid)) != len(grid):
        raise ConfigError(f"slope_grid has duplicate values: {grid}.")
    candidates = compute_change_stats(
        store,
        np.sort(ids),
        [replace(cr_params, slope_min_deg=g) for g in grid],
        batch_size=batch_size,
        progress=progress,
    )
    assert isinstance(candidates, list)  # a list of parameters gives a list of statistics
    cv = cross_predict(
        split,
        ids,
        y,
        lambda d: ChangeRatioFold(candidates, cr_params.slope_min_deg).fit(d),
        train_auc="in_sample",
        label="Baseline change_ratio",
    )
    fitted = list(zip([f.name for f in split.folds], cv.models))
    method: dict[str, Any] = {
        "params": cr_params.to_dict(),
        "slope_grid": grid,
        "slope_min_deg": {f: m.stats.params.slope_min_deg for f, m in fitted},
        "val_auc_by_slope": {f: {str(k): nan_to_none(v) for k, v in m.by_slope.items()} for f, m in fitted},
        "threshold_db": {f: m.model.threshold_db for f, m in fitted},
        "score": "flagged-pixel density",
        "classifier": "multinomial logistic regression on log10(density + 1e-4)",
    }
    return cv, method


def _forest_cv(
    store: Any,
    name: str,
    split: ProtocolSplit,
    ids: np.ndarray,
    y: np.ndarray,
    seed: int,
    revisits: int,
    forest_kwargs: dict[str, Any] | None,
    batch_size: int,
    progress: bool,
) -> tuple[CrossValResult, dict]:
    ids_sorted = np.sort(ids)
    if name == "slope":
        feats = compute_slope_features(store, ids_sorted, batch_size=batch_size, progress=progress)
        names, trees = list(FEATURE_NAMES), N_TREES
    else:
        feats = compute_sar_stats_features(store, ids_sorted, revisits, batch_size=batch_size, progress=progress)
        names, trees = list(feature_names(revisits)), SAR_STATS_TREES
        if len(feats) and np.isnan(feats[:, 2:-2]).all():
            raise InputError(
                "Baseline sar_stats needs SAR values, and no chip of this store has any: build the store "
                "with a SAR source, or run the 'slope' baseline instead."
            )
    fk = {"n_estimators": trees, **(forest_kwargs or {})}
    cv = cross_predict(
        split,
        ids,
        y,
        lambda d: FeatureForestFold(ids_sorted, feats, seed + d.k, fk).fit(d),
        label=f"Baseline {name}",
    )
    return cv, {"features": names, "classifier": "DensityForest", "forest": fk, "train_auc": "oob"}
