"""Evaluate a baseline under exactly the CNN's cross-prediction protocol.

:func:`run_baseline` builds the split with :func:`landslide_app.model.protocol.make_split` from
the store's ids (sorted, as ``ChipStore.ids``) with the same ``kind``/``seed`` and default
parameters as :func:`landslide_app.model.pipeline.run_configuration`, so a baseline and a CNN
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

AUCs are pooled over the folds like the pipeline: "train" over both training sets, "val" over
both validation sets, "test" over all chips.

The returned dict has the keys of ``RunResult.to_dict()`` that describe a result (``inputs,
revisits, split, auc, auc_weighted, auc_per_class, confusion, n_chips, seconds, seed,
class_support, folds``) plus ``name``, ``method`` (the baseline's parameters and per-fold fitted
values) and ``test_proba`` (``[chip_id, p0, p1, p2]`` per chip, sorted by id). NaN -> ``None``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from collections.abc import Sequence
from typing import Any, Literal, get_args

import numpy as np

from landslide_app.baselines.change_ratio import (
    SLOPE_GRID_DEG, ChangeRatioParams, compute_change_stats, fit_selecting_slope,
)
from landslide_app.baselines.slope_model import FEATURE_NAMES, N_TREES, compute_slope_features
from landslide_app.core.vocabulary import N_CLASSES, SplitKind
from landslide_app.errors import ConfigError, InputError
from landslide_app.model.forest import DensityForest
from landslide_app.model.metrics import AucResult, confusion, multiclass_auc, nan_to_none
from landslide_app.model.protocol import ProtocolSplit, resolve_split

logger = logging.getLogger(__name__)

BaselineName = Literal["change_ratio", "slope"]
BASELINES: tuple[str, ...] = get_args(BaselineName)
INPUTS: dict[str, str] = {"change_ratio": "sar", "slope": "dem"}
SETS: tuple[str, ...] = ("train", "val", "test")


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
    params: ChangeRatioParams | None = None,
    slope_grid: Sequence[float] | None = SLOPE_GRID_DEG,
    forest_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one baseline through the cross-prediction protocol.

    Args:
        store: chip source with ``read_many(ids)`` (a :class:`~landslide_app.chips.store.ChipStore`
            or any object with ``ids``, ``classes``, ``read_many`` and, for the blocked split,
            an ``index`` with ``chip_id``, ``row``, ``col``).
        name: ``"change_ratio"`` (SAR) or ``"slope"`` (DEM).
        split: ``"random"`` (the paper), ``"blocked"``, or a ready :class:`ProtocolSplit`.
        seed: split seed (as for the CNN) and forest seed (fold k: ``seed + k``).
        revisits: post-event dates used by the change ratio (1..3); recorded for ``slope`` too.
        progress: ``tqdm`` bar over the chips.
        ids, classes: chips and their classes (default ``store.ids`` / ``store.classes``).
        batch_size: chips read at a time.
        rows, cols: grid positions (blocked split; default from ``store.index``).
        params: change-ratio parameters (``revisits`` is overridden by the argument).
        slope_grid: candidate slope masks (degrees) of the change ratio, one selected per fold on
            its validation chips; ``None`` (or one value) uses ``params.slope_min_deg`` as is.
        forest_kwargs: overrides of the slope forest's parameters.

    Returns:
        JSON-serialisable summary (see the module docstring).
    """
    if name not in BASELINES:
        raise ConfigError(f"Unknown baseline {name!r}: use one of {', '.join(BASELINES)}.")
    if int(revisits) not in (1, 2, 3):
        raise ConfigError(f"revisits must be 1, 2 or 3, got {revisits}.")
    t0 = time.perf_counter()
    ids_arr = np.asarray(store.ids if ids is None else ids, dtype=np.int64)
    y = np.asarray(store.classes if classes is None else classes)
    if y.shape != ids_arr.shape:
        raise InputError(f"classes has shape {y.shape}; expected one class per chip id {ids_arr.shape}.")
    if len(y) and (y.min() < 0 or y.max() >= N_CLASSES):
        raise InputError(f"Density classes must lie in 0..{N_CLASSES - 1}.")
    y = y.astype(np.int64)
    the_split = resolve_split(split, ids_arr, seed, store, rows, cols)

    order = np.argsort(ids_arr)
    ids_sorted, y_sorted = ids_arr[order], y[order]

    def pos(sel: np.ndarray) -> np.ndarray:
        return np.searchsorted(ids_sorted, sel)

    # One streaming pass over every chip; both folds reuse it.
    method: dict[str, Any]
    if name == "change_ratio":
        cr_params = replace(params or ChangeRatioParams(), revisits=int(revisits))
        grid = [float(g) for g in (slope_grid or [cr_params.slope_min_deg])]
        if len(set(grid)) != len(grid):
            raise ConfigError(f"slope_grid has duplicate values: {grid}.")
        candidates = compute_change_stats(
            store, ids_sorted, [replace(cr_params, slope_min_deg=g) for g in grid],
            batch_size=batch_size, progress=progress,
        )
        method = {
            "params": cr_params.to_dict(), "slope_grid": grid, "slope_min_deg": {}, "val_auc_by_slope": {},
            "threshold_db": {}, "score": "flagged-pixel density",
            "classifier": "multinomial logistic regression on log10(density + 1e-4)",
        }
    else:
        feats = compute_slope_features(store, ids_sorted, batch_size=batch_size, progress=progress)
        fk = {"n_estimators": N_TREES, **(forest_kwargs or {})}
        method = {"features": list(FEATURE_NAMES), "classifier": "DensityForest", "forest": fk,
                  "train_auc": "oob"}

    test_proba = np.full((len(ids_sorted), N_CLASSES), np.nan)
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in SETS}
    folds_out: list[dict[str, Any]] = []
    for k, fold in enumerate(the_split.folds):
        tf = time.perf_counter()
        y_train = y_sorted[pos(fold.train)]
        probas: dict[str, np.ndarray] = {}
        if name == "change_ratio":
            present = np.unique(y_train)
            if len(present) < N_CLASSES:
                logger.warning("Fold %s: training chips hold only classes %s; the others get probability 0.",
                               fold.name, present.tolist())
            model, stats, by_slope = fit_selecting_slope(
                candidates, fold.train, y_train, fold.val, y_sorted[pos(fold.val)], cr_params.slope_min_deg,
            )
            method["slope_min_deg"][fold.name] = stats.params.slope_min_deg
            method["val_auc_by_slope"][fold.name] = {str(k): nan_to_none(v) for k, v in by_slope.items()}
            method["threshold_db"][fold.name] = model.threshold_db
            for s in SETS:
                probas[s] = model.predict_proba(stats, getattr(fold, s))
        else:
            forest = DensityForest(seed=seed + k, **fk).fit(feats[pos(fold.train)], y_train)
            for s in SETS:
                probas[s] = forest.predict_proba(feats[pos(getattr(fold, s))])
            oob = forest.oob_proba()
            ok = np.isfinite(oob).all(axis=1)
            probas["train"] = np.where(ok[:, None], oob, probas["train"])
        fold_auc: dict[str, AucResult] = {}
        for s in SETS:
            sel = getattr(fold, s)
            yt = y_sorted[pos(sel)]
            fold_auc[s] = multiclass_auc(yt, probas[s])
            pooled[s].append((yt, probas[s]))
        test_proba[pos(fold.test)] = probas["test"]
        folds_out.append({
            "name": fold.name, "n_train": len(fold.train), "n_val": len(fold.val),
            "n_test": len(fold.test), "n_excluded": len(fold.excluded),
            "auc": {s: nan_to_none(v.macro) for s, v in fold_auc.items()},
            "seconds": round(time.perf_counter() - tf, 3),
        })
        logger.info("Baseline %s, fold %s: AUC train %.3f, val %.3f, test %.3f.", name, fold.name,
                    fold_auc["train"].macro, fold_auc["val"].macro, fold_auc["test"].macro)

    assert not np.isnan(test_proba).any(), "some chip got no held-out prediction"
    auc = {
        s: multiclass_auc(np.concatenate([p[0] for p in pooled[s]]), np.concatenate([p[1] for p in pooled[s]]))
        for s in SETS
    }
    test_pred = np.argmax(test_proba, axis=1).astype(np.int64)
    seconds = time.perf_counter() - t0
    logger.info("Baseline %s (%s split): AUC train %.3f, val %.3f, test %.3f in %.1f s.", name,
                the_split.kind, auc["train"].macro, auc["val"].macro, auc["test"].macro, seconds)
    return {
        "name": name,
        "inputs": INPUTS[name],
        "revisits": int(revisits),
        "split": the_split.kind,
        "auc": {s: nan_to_none(v.macro) for s, v in auc.items()},
        "auc_weighted": {s: nan_to_none(v.weighted) for s, v in auc.items()},
        "auc_per_class": {s: [nan_to_none(x) for x in v.per_class] for s, v in auc.items()},
        "confusion": confusion(y_sorted, test_pred).tolist(),
        "n_chips": int(len(ids_sorted)),
        "seconds": round(float(seconds), 3),
        "seed": int(seed),
        "class_support": [int((y_sorted == c).sum()) for c in range(N_CLASSES)],
        "folds": folds_out,
        "method": method,
        "test_proba": [
            [int(i), *(nan_to_none(v) for v in row)] for i, row in zip(ids_sorted.tolist(), test_proba.tolist())
        ],
    }
