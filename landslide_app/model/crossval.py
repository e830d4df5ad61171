"""The cross-prediction engine: one fold loop for the CNN, the baselines and seed repeats.

:func:`cross_predict` runs a :class:`~landslide_app.model.protocol.ProtocolSplit`: for each fold
it asks ``fit_fold`` for a model fitted on the fold's training chips (selecting on its validation
chips if it wants), scores the fold's training, validation and test chips with the model's
``predict_proba(ids)`` (the scikit-learn shape, with chip ids as the rows), and pools the scores:

* "train" AUC over the training chips of every fold, "val" over every validation set, "test"
  over all chips, each scored by the fold that did not see its half (the paper's protocol);
* the **out-of-bag swap**: when ``train_auc="oob"`` and the model offers ``oob_proba()`` (rows
  in the order of the fold set named by the model's ``oob_set``, default ``"train"``), the chips
  of that set are scored out-of-bag (in-sample forest scores have an AUC of ~1 whatever the
  features); rows that are NaN (a chip in every bootstrap sample) keep their in-sample score;
* per-fold results (:class:`FoldOutcome`) with the model's own ``info()`` (e.g. the selected
  epoch, the fitted threshold), and the held-out rows of the model's ``features(ids)`` when it
  offers them (the forest's real input).

``on_fold`` is called with a :class:`FoldEvent` when a fold starts and when it is done (progress
bars, the dashboard). Repeats over seeds are a loop over :func:`cross_predict`, one split per seed
(:func:`repeat_over_seeds`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

import numpy as np

from landslide_app.core.vocabulary import N_CLASSES
from landslide_app.errors import ConfigError, InputError
from landslide_app.model.metrics import AucResult, confusion, multiclass_auc, nan_to_none
from landslide_app.model.protocol import Fold, ProtocolSplit

logger = logging.getLogger(__name__)

SETS: tuple[str, ...] = ("train", "val", "test")
TrainAuc = Literal["oob", "in_sample"]


class FoldModel(Protocol):
    """A model fitted on one fold. Optional: ``oob_proba()``, ``features(ids)``, ``info()``."""

    def predict_proba(self, ids: np.ndarray) -> np.ndarray:
        """``(len(ids), N_CLASSES)`` class probabilities of the chips ``ids``."""
        ...


@dataclass(frozen=True)
class FoldData:
    """What ``fit_fold`` gets: the fold, its position ``k`` and the classes of its chips."""

    k: int
    fold: Fold
    y_train: np.ndarray
    y_val: np.ndarray


#: ``fit_fold(data) -> fitted model``.
FitFold = Callable[[FoldData], FoldModel]


@dataclass(frozen=True)
class FoldEvent:
    """Progress of :func:`cross_predict`: fold ``k`` of ``n_folds`` started (``auc`` None) or done."""

    k: int
    n_folds: int
    name: str
    stage: Literal["start", "done"]
    auc: dict[str, float] | None = None

    @property
    def fraction(self) -> float:
        """Share of the folds finished, in [0, 1]."""
        return (self.k + (self.stage == "done")) / max(self.n_folds, 1)

    def describe(self) -> str:
        if self.auc is None:
            return f"fold {self.name} ({self.k + 1}/{self.n_folds}) started"
        return (
            f"fold {self.name} done: AUC train {self.auc['train']:.3f}, val {self.auc['val']:.3f}, "
            f"test {self.auc['test']:.3f}"
        )


OnFold = Callable[[FoldEvent], None]


@dataclass
class FoldOutcome:
    """What one fold produced: sizes, AUCs and the model's own ``info()``."""

    name: str
    n_train: int
    n_val: int
    n_test: int
    n_excluded: int
    auc: dict[str, AucResult]
    seconds: float
    info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the model's info keys first, then sizes, AUCs, seconds)."""
        return {
            "name": self.name,
            **self.info,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "n_excluded": self.n_excluded,
            "auc": {k: nan_to_none(v.macro) for k, v in self.auc.items()},
            "seconds": round(self.seconds, 3),
        }


@dataclass
class CrossValResult:
    """Result of :func:`cross_predict`; arrays are indexed like ``ids`` (sorted chip ids)."""

    split: ProtocolSplit
    ids: np.ndarray
    y_true: np.ndarray
    test_proba: np.ndarray
    test_fold: np.ndarray
    auc: dict[str, AucResult]
    folds: list[FoldOutcome]
    seconds: float
    models: list[Any] = field(default_factory=list, repr=False)
    #: held-out rows of the models' ``features(ids)`` (None when the models offer none)
    test_features: np.ndarray | None = None

    @property
    def test_pred(self) -> np.ndarray:
        return np.argmax(self.test_proba, axis=1).astype(np.int64)

    @property
    def confusion(self) -> np.ndarray:
        return confusion(self.y_true, self.test_pred)

    def summary(self) -> dict[str, Any]:
        """The summary keys every result shares (NaN -> None): ``split, auc, auc_weighted,
        auc_per_class, confusion, n_chips, seconds, class_support, folds``."""
        return {
            "split": self.split.kind,
            "auc": {k: nan_to_none(v.macro) for k, v in self.auc.items()},
            "auc_weighted": {k: nan_to_none(v.weighted) for k, v in self.auc.items()},
            "auc_per_class": {k: [nan_to_none(x) for x in v.per_class] for k, v in self.auc.items()},
            "confusion": self.confusion.tolist(),
            "n_chips": int(len(self.ids)),
            "seconds": round(float(self.seconds), 3),
            "class_support": [int((self.y_true == c).sum()) for c in range(N_CLASSES)],
            "folds": [f.to_dict() for f in self.folds],
        }


def check_classes(ids: np.ndarray, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(ids int64, classes int64)`` after checking one class in 0..N_CLASSES-1 per chip id."""
    ids = np.asarray(ids, dtype=np.int64)
    y = np.asarray(classes)
    if y.shape != ids.shape:
        raise InputError(f"classes has shape {y.shape}; expected one class per chip id {ids.shape}.")
    if len(y) and (y.min() < 0 or y.max() >= N_CLASSES):
        raise InputError(f"Density classes must lie in 0..{N_CLASSES - 1}.")
    return ids, y.astype(np.int64)


def _set_scores(model: Any, fold: Fold, s: str, train_auc: TrainAuc) -> np.ndarray:
    """Scores of the fold set ``s``; out-of-bag ones for the set the model's forest was fitted on."""
    proba = model.predict_proba(getattr(fold, s))
    oob_fn = getattr(model, "oob_proba", None)
    if train_auc == "oob" and callable(oob_fn) and s == getattr(model, "oob_set", "train"):
        oob = oob_fn()
        if oob is not None:
            ok = np.isfinite(oob).all(axis=1)  # chips in every bootstrap sample keep in-sample
            proba = np.where(ok[:, None], oob, proba)
    return proba


def cross_predict(
    split: ProtocolSplit,
    ids: np.ndarray,
    classes: np.ndarray,
    fit_fold: FitFold,
    *,
    on_fold: OnFold | None = None,
    train_auc: TrainAuc = "oob",
    label: str = "",
) -> CrossValResult:
    """Fit one model per fold of ``split`` and pool its predictions (see the module docstring).

    Long only for its documented arguments (the body is 43 lines).

    Args:
        split: the folds over ``ids``; their test sets must cover every chip once.
        ids, classes: the chips and their density classes.
        fit_fold: fits a fold's model (:class:`FoldData` -> :class:`FoldModel`).
        on_fold: progress callback (:class:`FoldEvent`), called at each fold's start and end.
        train_auc: ``"oob"`` (default) or ``"in_sample"`` scores for the "train" AUC.
        label: name used in the log messages.
    """
    if train_auc not in ("oob", "in_sample"):
        raise ConfigError(f"train_auc must be 'oob' or 'in_sample', got {train_auc!r}.")
    t0 = time.perf_counter()
    ids, y = check_classes(ids, classes)
    order = np.argsort(ids)
    pool = _Pool.empty(ids[order], y[order])
    n = len(split.folds)
    for k, fold in enumerate(split.folds):
        tf = time.perf_counter()
        logger.info(
            "%s, fold %s: %d train / %d val / %d test chips.",
            label,
            fold.name,
            len(fold.train),
            len(fold.val),
            len(fold.test),
        )
        if on_fold:
            on_fold(FoldEvent(k, n, fold.name, "start"))
        model = fit_fold(FoldData(k, fold, pool.classes_of(fold.train), pool.classes_of(fold.val)))
        fold_auc = pool.add(fold, model, train_auc, tf)
        macro = {s: a.macro for s, a in fold_auc.items()}
        logger.info(
            "%s, fold %s: AUC train %.3f, val %.3f, test %.3f.",
            label,
            fold.name,
            macro["train"],
            macro["val"],
            macro["test"],
        )
        if on_fold:
            on_fold(FoldEvent(k, n, fold.name, "done", macro))
    res = pool.result(split, time.perf_counter() - t0)
    logger.info(
        "%s (%s split): AUC train %.3f, val %.3f, test %.3f in %.1f s.",
        label,
        split.kind,
        res.auc["train"].macro,
        res.auc["val"].macro,
        res.auc["test"].macro,
        res.seconds,
    )
    return res


@dataclass
class _Pool:
    """What the folds of :func:`cross_predict` add up to; arrays indexed like the sorted ``ids``."""

    ids: np.ndarray
    y: np.ndarray
    test_proba: np.ndarray
    test_fold: np.ndarray
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]]
    outcomes: list[FoldOutcome] = field(default_factory=list)
    models: list[Any] = field(default_factory=list)
    feats: np.ndarray | None = None

    @classmethod
    def empty(cls, ids: np.ndarray, y: np.ndarray) -> _Pool:
        test_proba = np.full((len(ids), N_CLASSES), np.nan)
        return cls(ids, y, test_proba, np.empty(len(ids), dtype=object), {s: [] for s in SETS})

    def pos(self, sel: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.ids, sel)

    def classes_of(self, sel: np.ndarray) -> np.ndarray:
        return self.y[self.pos(sel)]

    def add(self, fold: Fold, model: Any, train_auc: TrainAuc, t_start: float) -> dict[str, AucResult]:
        """Score ``fold``'s sets with its ``model`` and keep what the result needs; the fold's AUCs."""
        fold_auc: dict[str, AucResult] = {}
        for s in SETS:
            sel = getattr(fold, s)
            proba = _set_scores(model, fold, s, train_auc)
            fold_auc[s] = multiclass_auc(self.classes_of(sel), proba)
            self.pooled[s].append((self.classes_of(sel), proba))
        self.test_proba[self.pos(fold.test)] = proba
        self.test_fold[self.pos(fold.test)] = fold.name
        self.feats = _keep_features(model, fold.test, self.pos(fold.test), self.feats, len(self.ids))
        info_fn = getattr(model, "info", None)
        self.outcomes.append(
            FoldOutcome(
                fold.name,
                len(fold.train),
                len(fold.val),
                len(fold.test),
                len(fold.excluded),
                fold_auc,
                time.perf_counter() - t_start,
                dict(info_fn()) if callable(info_fn) else {},
            )
        )
        self.models.append(model)
        return fold_auc

    def result(self, split: ProtocolSplit, seconds: float) -> CrossValResult:
        """The pooled result (InputError when a chip got no held-out prediction)."""
        if np.isnan(self.test_proba).any():
            raise InputError("the split's test sets do not cover every chip: some chip got no held-out prediction.")
        auc = {
            s: multiclass_auc(
                np.concatenate([p[0] for p in self.pooled[s]]), np.concatenate([p[1] for p in self.pooled[s]])
            )
            for s in SETS
        }
        return CrossValResult(
            split,
            self.ids,
            self.y,
            self.test_proba,
            self.test_fold.astype(str),
            auc,
            self.outcomes,
            seconds,
            self.models,
            self.feats,
        )


def _keep_features(
    model: Any, test_ids: np.ndarray, rows: np.ndarray, feats: np.ndarray | None, n: int
) -> np.ndarray | None:
    fn = getattr(model, "features", None)
    if not callable(fn):
        return feats
    f = np.asarray(fn(test_ids))
    if feats is None:
        feats = np.full((n, f.shape[1]), np.nan, dtype=f.dtype)
    feats[rows] = f
    return feats


R = TypeVar("R")


def repeat_over_seeds(seeds: Sequence[int], run: Callable[[int], R]) -> list[R]:
    """``[run(seed) for seed in seeds]``: each repeat draws its own split and fits its own models
    (``run`` builds the split with the seed and calls :func:`cross_predict`)."""
    return [run(int(s)) for s in seeds]
