"""A deployable ensemble on one fold: K embedding networks trained on the same chips, probabilities averaged.

Issue 13's cross-split study (``benchmarks/bench_seed_ensemble.py``) averaged held-out probabilities
of five seeds whose members had seen *different* splits: that is not a model a responder can run.
:class:`EnsembleForest` is: on one fold (or one train/validation run) it trains K
:class:`~landslide_app.model.embedding_forest.EmbeddingForest` members on the **same** training
chips, epoch selected on the same validation chips; the members differ only in their seed (weights,
batch order, forest bootstrap): member ``j`` of a fold seeded ``s`` is seeded
``s + j * ENSEMBLE_SEED_STRIDE`` (:mod:`landslide_app.core.vocabulary`), so member 0 *is* the
single model of that fold and ``K = 1`` is not wrapped at all.

* ``predict_proba(ids)``: the mean of the members' forest probabilities (each forest scores its
  own network's percentile features);
* ``oob_proba()``: per chip, the mean of the members' out-of-bag probabilities that exist (NaN
  where no member has one); every member's forest was fitted on the same fold set (``oob_set``);
* **a collapsed member** (constant embeddings, :mod:`landslide_app.model.collapse`) is left out of
  both averages, with a warning, unless every member collapsed (then the ensemble is collapsed, as
  a single model would be);
* ``features(ids)`` and the held-out embeddings (``embedding_sink``) are **member 0's**: the
  inspector shows the first network's input to its forest, not an average of unrelated embeddings;
* ``model`` / ``forest``: member 0's (the forest's prior shift depends only on the training
  classes, the same for every member); ``members``: all of them;
* ``info()``: member 0's selected epoch and history, ``collapsed`` (every member), and per member
  its seed, selected epoch and whether it collapsed.

Each member embeds the fold's validation and test chips right after it is trained, so at most one
compiled inference runtime is in use at a time (:data:`landslide_app.model.trained.MAX_LIVE_RUNTIMES`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from landslide_app.core.vocabulary import ENSEMBLE_SEED_STRIDE, check_ensemble
from landslide_app.model.crossval import FoldData
from landslide_app.model.embedding_forest import EmbeddingForest
from landslide_app.model.forest import DensityForest
from landslide_app.model.trained import TrainedModel

logger = logging.getLogger(__name__)


def member_seed(seed: int, j: int) -> int:
    """The seed of member ``j`` of an ensemble whose first member is seeded ``seed``."""
    return int(seed) + int(j) * ENSEMBLE_SEED_STRIDE


def fold_model(
    make_member: Callable[[int, bool], EmbeddingForest], k: int, seed: int
) -> EmbeddingForest | EnsembleForest:
    """The unfitted fold model of ``k`` networks (``make_member`` as for :class:`EnsembleForest`): the single
    member itself for ``k == 1`` (not wrapped), an :class:`EnsembleForest` otherwise."""
    return make_member(seed, True) if check_ensemble(k) == 1 else EnsembleForest(make_member, k, seed)


class EnsembleForest:
    """K :class:`EmbeddingForest` members fitted on one fold, their class probabilities averaged.

    Args:
        make_member: ``make_member(seed, first) -> EmbeddingForest`` (unfitted), the same settings for every
            member except the seed; ``first`` is True for member 0, which alone gets the embedding sink
            (see the module docstring).
        k: networks in the ensemble (1..:data:`~landslide_app.core.vocabulary.MAX_ENSEMBLE`).
        seed: member 0's seed.
    """

    def __init__(self, make_member: Callable[[int, bool], EmbeddingForest], k: int, seed: int) -> None:
        self.k, self.seed = check_ensemble(k), int(seed)
        self.members: list[EmbeddingForest] = [make_member(member_seed(seed, j), j == 0) for j in range(self.k)]

    @classmethod
    def from_members(cls, members: Sequence[EmbeddingForest]) -> EnsembleForest:
        """An ensemble of fitted (or loaded) members, member 0 first."""
        if not members:
            raise ValueError("an ensemble needs at least one member")
        ens = cls.__new__(cls)
        ens.k, ens.seed, ens.members = len(members), int(members[0].seed), list(members)
        return ens

    # ---- fitting ------------------------------------------------------------------------
    def fit(self, data: FoldData) -> EnsembleForest:
        """Fit every member on ``data`` (the same chips), each embedding the fold's validation and test chips
        before the next is trained."""
        fold = data.fold
        for j, m in enumerate(self.members):
            logger.info("ensemble member %d/%d (seed %d)", j + 1, self.k, m.seed)
            m.fit(data)
            for ids in (fold.val, fold.test):  # embedded now (and kept), while this member's runtime is live
                if len(ids):
                    m.predict_proba(ids)
        kept = self._kept()
        if len(kept) < self.k:  # some, not all, collapsed (all collapsed: every member is kept)
            logger.warning(
                "%d of %d ensemble members collapsed (constant embeddings); the map averages the other %d.",
                self.k - len(kept),
                self.k,
                len(kept),
            )
        return self

    def _kept(self) -> list[EmbeddingForest]:
        """The members whose probabilities are averaged: those that did not collapse (all if every one did)."""
        ok = [m for m in self.members if not m.collapsed]
        return ok or list(self.members)

    # ---- the fold-model interface (landslide_app.model.crossval.FoldModel) -------------------
    @property
    def oob_set(self) -> str:
        return self.members[0].oob_set

    @property
    def forest_fit(self) -> str:
        return self.members[0].forest_fit

    @property
    def model(self) -> TrainedModel | None:
        """Member 0's network."""
        return self.members[0].model

    @property
    def forest(self) -> DensityForest | None:
        """Member 0's forest."""
        return self.members[0].forest

    @property
    def collapsed(self) -> bool:
        """Every member's training collapsed (the ensemble then embeds every chip the same)."""
        return all(m.collapsed for m in self.members)

    def predict_proba(self, ids: np.ndarray) -> np.ndarray:
        """The mean of the kept members' class probabilities of ``ids``."""
        return np.mean([m.predict_proba(ids) for m in self._kept()], axis=0)

    def oob_proba(self) -> np.ndarray:
        """Per chip of :attr:`oob_set`, the mean of the kept members' out-of-bag probabilities that exist."""
        stack = np.stack([np.asarray(m.oob_proba(), np.float64) for m in self._kept()])
        ok = np.asarray(np.isfinite(stack).all(axis=2))  # (members, chips): the member has an out-of-bag row
        n = ok.sum(axis=0)
        total = np.where(ok[:, :, None], stack, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(n[:, None] > 0, total / np.maximum(n, 1)[:, None], np.nan)

    def features(self, ids: np.ndarray) -> np.ndarray:
        """Member 0's forest input rows of ``ids`` (chips already embedded)."""
        return self.members[0].features(ids)

    def info(self) -> dict[str, Any]:
        """Member 0's selected epoch and history, ``collapsed`` (every member) and ``members``."""
        return {
            **self.members[0].info(),
            "collapsed": self.collapsed,
            "members": [
                {"seed": m.seed, "best_epoch": m.model.best_epoch if m.model else None, "collapsed": m.collapsed}
                for m in self.members
            ],
        }
