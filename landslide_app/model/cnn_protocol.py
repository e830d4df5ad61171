"""One configuration of the ablation, end to end, under the paper's cross-prediction protocol.

A thin layer over the engine (:func:`landslide_app.model.crossval.cross_predict`), whose fold model
is :class:`landslide_app.model.embedding_forest.EmbeddingForest`. For each fold of the split
(:mod:`landslide_app.model.protocol`):

1. train the embedding network on the fold's training chips, select the epoch on its validation
   chips (:func:`landslide_app.model.train.fit_embedding_model`);
2. embed the fold's training, validation and test chips (lazily, batch by batch) and compute the
   19 percentile features of each (:mod:`landslide_app.model.features`);
3. fit a random forest on the training chips' features and classes
   (:class:`landslide_app.model.forest.DensityForest`);
4. predict class probabilities for the training (in-sample), validation and test chips.

The test chips of fold A are half B and vice versa, so every chip gets exactly one held-out
prediction. AUCs (:mod:`landslide_app.model.metrics`) are computed on the predictions pooled over
both folds: "train" over the training chips of both folds, "val" over both validation sets,
"test" over all chips (each scored by the model that did not see its half). Per-fold AUCs are kept
in ``folds``.

"train" AUC (documented choice): by default (``train_auc="oob"``) the training chips are scored by
the forest's **out-of-bag** probabilities, because in-sample forest predictions have an AUC of ~1
whatever the features (measured: 0.98 with shuffled labels). The embeddings of the training chips
are still in-sample for the CNN, so train > val still shows CNN over-fitting.
``train_auc="in_sample"`` gives the plain in-sample forest predictions.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from landslide_app.core.vocabulary import DEFAULT_ENSEMBLE, DEFAULT_FOREST_FIT, SplitKind, check_ensemble
from landslide_app.model.chipsets import as_batch_getter
from landslide_app.model.crossval import CrossValResult, FoldData, FoldOutcome, OnFold, check_classes, cross_predict
from landslide_app.model.embedding_forest import EmbeddingForest
from landslide_app.model.ensemble import EnsembleForest, fold_model
from landslide_app.model.forest import DensityForest
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.metrics import AucResult
from landslide_app.model.protocol import ProtocolSplit, resolve_split
from landslide_app.model.trained import TrainedModel

logger = logging.getLogger(__name__)

#: One fold's result (the engine's).
FoldResult = FoldOutcome


@dataclass
class RunResult:
    """Result of :func:`run_configuration`: the engine's :class:`CrossValResult` and the configuration.

    Arrays are indexed like ``ids`` (sorted chip ids): the held-out (test) prediction of every
    chip, from the fold that did not train on its half.
    """

    config: ModelConfig
    seed: int
    epochs: int
    cv: CrossValResult = field(repr=False)
    embeddings: np.ndarray | None = field(default=None, repr=False)
    #: networks per fold (:mod:`landslide_app.model.ensemble`)
    ensemble: int = 1

    split = property(lambda self: self.cv.split.kind)
    protocol = property(lambda self: self.cv.split)
    ids = property(lambda self: self.cv.ids)
    y_true = property(lambda self: self.cv.y_true)
    test_proba = property(lambda self: self.cv.test_proba)
    test_pred = property(lambda self: self.cv.test_pred)
    test_fold = property(lambda self: self.cv.test_fold)
    test_features = property(lambda self: self.cv.test_features)
    confusion = property(lambda self: self.cv.confusion)
    seconds = property(lambda self: self.cv.seconds)

    @property
    def auc(self) -> dict[str, AucResult]:
        return self.cv.auc

    @property
    def folds(self) -> list[FoldOutcome]:
        return self.cv.folds

    @property
    def models(self) -> list[TrainedModel]:
        return [m.model for m in self.cv.models]

    @property
    def forests(self) -> list[DensityForest]:
        return [m.forest for m in self.cv.models]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (NaN -> ``None``): ``inputs, revisits``, the engine's summary
        keys (:meth:`CrossValResult.summary`), ``seed, epochs`` and ``collapsed``."""
        return {
            "inputs": self.config.inputs,
            "revisits": self.config.revisits,
            **self.cv.summary(),
            "seed": self.seed,
            "epochs": self.epochs,
            "collapsed": self.collapsed,
            "ensemble": self.ensemble,
        }

    @property
    def collapsed(self) -> bool:
        """The training of some fold collapsed (constant embeddings: :mod:`landslide_app.model.collapse`)."""
        return any(bool(f.info.get("collapsed")) for f in self.folds)


def run_configuration(
    reader: Any,
    ids: np.ndarray,
    classes: np.ndarray,
    config: ModelConfig,
    split: ProtocolSplit | SplitKind = "random",
    epochs: int = 10,
    seed: int = 0,
    *,
    batch_size: int = 8,
    device: str | None = None,
    progress: bool = True,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
    block_size: int | None = None,
    train_kwargs: dict[str, Any] | None = None,
    forest_kwargs: dict[str, Any] | None = None,
    keep_embeddings: bool = False,
    train_auc: Literal["oob", "in_sample"] = "oob",
    embedding_sink: Callable[[np.ndarray, np.ndarray], None] | None = None,
    on_fold: OnFold | None = None,
    forest_fit: str = DEFAULT_FOREST_FIT,
    ensemble: int = DEFAULT_ENSEMBLE,
) -> RunResult:
    """Run the full protocol for one configuration.

    Long only for its documented keyword options; the body (about 30 lines) builds the split and the
    fold model and hands them to :func:`~landslide_app.model.crossval.cross_predict`.

    Args:
        reader: chip source (chip store with ``read_many``, array, or ``get_batch(ids)`` callable).
        ids: chip ids to use (each gets one held-out prediction).
        classes: density class of each chip in ``ids`` (0, 1, 2).
        config: inputs and revisits.
        split: a :class:`ProtocolSplit` over ``ids``, or ``"random"`` / ``"blocked"`` to build one
            with ``seed`` (blocked needs ``rows``/``cols`` or a reader with a row/col ``index``).
        epochs: training epochs per fold.
        seed: seeds the split (when built here), the networks (fold k: ``seed + k``) and forests.
        batch_size: chips per training batch.
        device: torch device (default CUDA if available, else CPU).
        progress: ``tqdm`` bars.
        rows, cols: grid positions of the chips (blocked split only).
        block_size: block edge in chips of the blocked split (default ``protocol.DEFAULT_BLOCK_SIZE``).
        train_kwargs: extra arguments of :func:`fit_embedding_model` (``lr``, ``width``, ``precision``).
        forest_kwargs: overrides of the forest parameters.
        keep_embeddings: keep the held-out embedding of every chip in ``RunResult.embeddings``
            (``(N, H, W)`` float32, memory heavy for large stores).
        embedding_sink: called with ``(ids, embeddings)`` of each batch of held-out chips as they
            are embedded (e.g. to write them to a memory-mapped file: nothing accumulates here).
        train_auc: ``"oob"`` (default) or ``"in_sample"`` forest scores for the train AUC.
        on_fold: progress callback of the engine (:class:`landslide_app.model.crossval.FoldEvent`).
        forest_fit: the chips the forest is fitted on, ``"train"`` or ``"validation"``
            (:mod:`landslide_app.model.embedding_forest`).
        ensemble: networks per fold, trained on the same chips, probabilities averaged
            (:mod:`landslide_app.model.ensemble`; 1: the single network, member 0 of any ensemble).
    """
    ids, y = check_classes(ids, classes)
    get_batch = as_batch_getter(reader)
    # stratified by the classes predicted
    the_split = resolve_split(split, ids, seed, reader, rows, cols, classes=y, block_size=block_size)
    kept: dict[int, np.ndarray] = {}

    def sink(bid: np.ndarray, emb: np.ndarray) -> None:
        if keep_embeddings:
            kept.update({int(i): e for i, e in zip(bid, emb)})
        if embedding_sink is not None:
            embedding_sink(bid, emb)

    k_members = check_ensemble(ensemble)

    def member(member_seed: int, first: bool = True) -> EmbeddingForest:
        return EmbeddingForest(
            get_batch,
            config,
            epochs=epochs,
            seed=member_seed,
            batch_size=batch_size,
            device=device,
            progress=progress,
            train_kwargs=train_kwargs,
            forest_kwargs=forest_kwargs,
            embedding_sink=sink if first else None,
            forest_fit=forest_fit,
        )

    def fit_fold(data: FoldData) -> EmbeddingForest | EnsembleForest:
        return fold_model(member, k_members, seed + data.k).fit(data)

    cv = cross_predict(the_split, ids, y, fit_fold, on_fold=on_fold, train_auc=train_auc, label=config.name)
    embeddings = np.stack([kept[int(i)] for i in cv.ids]) if keep_embeddings else None
    return RunResult(
        config=config, seed=int(seed), epochs=int(epochs), cv=cv, embeddings=embeddings, ensemble=k_members
    )
