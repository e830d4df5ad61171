"""One configuration of the ablation, end to end, under the paper's cross-prediction protocol.

For each fold of the split (:mod:`landslide_app.model.protocol`):

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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from landslide_app.core.vocabulary import N_CLASSES, N_FEATURES, SplitKind
from landslide_app.errors import ConfigError, InputError
from landslide_app.model.features import percentile_features
from landslide_app.model.forest import DensityForest
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.metrics import AucResult, confusion, multiclass_auc, nan_to_none
from landslide_app.model.protocol import ProtocolSplit, resolve_split
from landslide_app.model.train import ChipSubset, TrainedModel, as_batch_getter, fit_embedding_model

logger = logging.getLogger(__name__)

SETS: tuple[str, ...] = ("train", "val", "test")


@dataclass
class FoldResult:
    """What one fold produced."""

    name: str
    best_epoch: int
    history: list[dict[str, float]]
    n_train: int
    n_val: int
    n_test: int
    n_excluded: int
    auc: dict[str, AucResult]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {
            "name": self.name,
            "best_epoch": self.best_epoch,
            "n_train": self.n_train,
            "n_val": self.n_val,
            "n_test": self.n_test,
            "n_excluded": self.n_excluded,
            "auc": {k: nan_to_none(v.macro) for k, v in self.auc.items()},
            "history": [
                {k: v if isinstance(v, int) else nan_to_none(v) for k, v in h.items()} for h in self.history
            ],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class RunResult:
    """Result of :func:`run_configuration`.

    Arrays are indexed like ``ids`` (sorted chip ids): the held-out (test) prediction of every
    chip, from the fold that did not train on its half.
    """

    config: ModelConfig
    split: str
    seed: int
    epochs: int
    ids: np.ndarray
    y_true: np.ndarray
    test_proba: np.ndarray
    test_pred: np.ndarray
    test_features: np.ndarray
    test_fold: np.ndarray
    auc: dict[str, AucResult]
    confusion: np.ndarray
    seconds: float
    folds: list[FoldResult]
    protocol: ProtocolSplit | None = field(default=None, repr=False)
    models: list[TrainedModel] = field(default_factory=list, repr=False)
    forests: list[DensityForest] = field(default_factory=list, repr=False)
    embeddings: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (NaN -> ``None``).

        Keys: ``inputs, revisits, split, auc {train,val,test}`` (macro one-vs-rest),
        ``auc_weighted {train,val,test}``, ``auc_per_class {train,val,test: [c0, c1, c2]}``,
        ``confusion`` (held-out predictions, rows true class, columns predicted), ``n_chips``,
        ``seconds``, plus ``seed, epochs, class_support, folds``.
        """
        return {
            "inputs": self.config.inputs,
            "revisits": self.config.revisits,
            "split": self.split,
            "auc": {k: nan_to_none(v.macro) for k, v in self.auc.items()},
            "auc_weighted": {k: nan_to_none(v.weighted) for k, v in self.auc.items()},
            "auc_per_class": {k: [nan_to_none(x) for x in v.per_class] for k, v in self.auc.items()},
            "confusion": self.confusion.tolist(),
            "n_chips": int(len(self.ids)),
            "seconds": round(float(self.seconds), 3),
            "seed": self.seed,
            "epochs": self.epochs,
            "class_support": [int((self.y_true == k).sum()) for k in range(N_CLASSES)],
            "folds": [f.to_dict() for f in self.folds],
        }


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
    train_kwargs: dict[str, Any] | None = None,
    forest_kwargs: dict[str, Any] | None = None,
    keep_embeddings: bool = False,
    train_auc: Literal["oob", "in_sample"] = "oob",
    embedding_sink: Callable[[np.ndarray, np.ndarray], None] | None = None,
) -> RunResult:
    """Run the full protocol for one configuration.

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
        train_kwargs: extra arguments of :func:`fit_embedding_model` (``lr``, ``width``, ``precision``).
        forest_kwargs: overrides of the forest parameters.
        keep_embeddings: keep the held-out embedding of every chip in ``RunResult.embeddings``
            (``(N, H, W)`` float32, memory heavy for large stores).
        embedding_sink: called with ``(ids, embeddings)`` of each batch of held-out chips as they
            are embedded (e.g. to write them to a memory-mapped file: nothing accumulates here).
        train_auc: ``"oob"`` (default) or ``"in_sample"`` forest scores for the train AUC.
    """
    if train_auc not in ("oob", "in_sample"):
        raise ConfigError(f"train_auc must be 'oob' or 'in_sample', got {train_auc!r}.")
    t0 = time.perf_counter()
    ids = np.asarray(ids, dtype=np.int64)
    y = np.asarray(classes)
    if y.shape != ids.shape:
        raise InputError(f"classes has shape {y.shape}; expected one class per chip id {ids.shape}.")
    if len(y) and (y.min() < 0 or y.max() >= N_CLASSES):
        raise InputError(f"Density classes must lie in 0..{N_CLASSES - 1}.")
    y = y.astype(np.int64)
    get_batch = as_batch_getter(reader)
    the_split = resolve_split(split, ids, seed, reader, rows, cols)
    order = np.argsort(ids)
    ids_sorted = ids[order]
    y_sorted = y[order]

    def pos(sel: np.ndarray) -> np.ndarray:
        return np.searchsorted(ids_sorted, sel)

    test_proba = np.full((len(ids), N_CLASSES), np.nan)
    test_features = np.full((len(ids), N_FEATURES), np.nan, dtype=np.float32)
    test_fold = np.empty(len(ids), dtype=object)
    emb_store: dict[int, np.ndarray] = {}
    pooled: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in SETS}
    fold_results: list[FoldResult] = []
    models: list[TrainedModel] = []
    forests: list[DensityForest] = []

    for k, fold in enumerate(the_split.folds):
        tf = time.perf_counter()
        logger.info("%s, fold %s: %d train / %d val / %d test chips.", config.name, fold.name,
                    len(fold.train), len(fold.val), len(fold.test))
        model = fit_embedding_model(
            ChipSubset(get_batch, fold.train), ChipSubset(get_batch, fold.val), config,
            epochs=epochs, batch_size=batch_size, seed=seed + k, device=device, progress=progress,
            **(train_kwargs or {}),
        )
        feats: dict[str, np.ndarray] = {}
        for name in SETS:
            sel = getattr(fold, name)
            rows_out = []
            for bid, emb, valid in model.iter_embeddings(
                ChipSubset(get_batch, sel), batch_size=max(batch_size, 16), progress=progress,
                desc=f"embed {config.name} {fold.name}/{name}",
            ):
                rows_out.append(percentile_features(emb, valid))
                if keep_embeddings and name == "test":
                    emb_store.update({int(i): e for i, e in zip(bid, emb)})
                if embedding_sink is not None and name == "test":
                    embedding_sink(bid, emb)
            feats[name] = np.concatenate(rows_out) if rows_out else np.empty((0, N_FEATURES), np.float32)
        forest = DensityForest(seed=seed + k, **(forest_kwargs or {})).fit(feats["train"], y_sorted[pos(fold.train)])
        fold_auc: dict[str, AucResult] = {}
        for name in SETS:
            sel = getattr(fold, name)
            proba = forest.predict_proba(feats[name])
            if name == "train" and train_auc == "oob":
                oob = forest.oob_proba()
                ok = np.isfinite(oob).all(axis=1)  # chips in every bootstrap sample keep in-sample
                proba = np.where(ok[:, None], oob, proba)
            yt = y_sorted[pos(sel)]
            fold_auc[name] = multiclass_auc(yt, proba)
            pooled[name].append((yt, proba))
            if name == "test":
                test_proba[pos(sel)] = proba
                test_features[pos(sel)] = feats[name]
                test_fold[pos(sel)] = fold.name
        fold_results.append(FoldResult(
            name=fold.name, best_epoch=model.best_epoch, history=model.history,
            n_train=len(fold.train), n_val=len(fold.val), n_test=len(fold.test),
            n_excluded=len(fold.excluded), auc=fold_auc, seconds=time.perf_counter() - tf,
        ))
        models.append(model)
        forests.append(forest)
        logger.info("%s, fold %s: AUC train %.3f, val %.3f, test %.3f.", config.name, fold.name,
                    fold_auc["train"].macro, fold_auc["val"].macro, fold_auc["test"].macro)

    assert not np.isnan(test_proba).any(), "some chip got no held-out prediction"
    auc = {
        name: multiclass_auc(
            np.concatenate([p[0] for p in pooled[name]]), np.concatenate([p[1] for p in pooled[name]])
        )
        for name in SETS
    }
    test_pred = np.argmax(test_proba, axis=1).astype(np.int64)
    embeddings = np.stack([emb_store[int(i)] for i in ids_sorted]) if keep_embeddings else None
    result = RunResult(
        config=config, split=the_split.kind, seed=int(seed), epochs=int(epochs), ids=ids_sorted,
        y_true=y_sorted, test_proba=test_proba, test_pred=test_pred, test_features=test_features,
        test_fold=test_fold.astype(str), auc=auc, confusion=confusion(y_sorted, test_pred),
        seconds=time.perf_counter() - t0, folds=fold_results, protocol=the_split, models=models, forests=forests,
        embeddings=embeddings,
    )
    logger.info("%s (%s split): AUC train %.3f, val %.3f, test %.3f in %.1f s.", config.name,
                the_split.kind, auc["train"].macro, auc["val"].macro, auc["test"].macro, result.seconds)
    return result
