"""The paper's model on one fold, in the scikit-learn shape: an embedding network + a random forest.

:class:`EmbeddingForest` ``fit`` trains the embedding network on the fold's training chips and
selects the epoch on its validation chips (:func:`landslide_app.model.train.fit_embedding_model`),
embeds the training chips (lazily, batch by batch), computes their 19 percentile features
(:mod:`landslide_app.model.features`) and fits the forest
(:class:`landslide_app.model.forest.DensityForest`). ``predict_proba(ids)`` embeds and scores other
chips; ``features(ids)`` gives the forest's input rows of chips already scored; ``oob_proba()``
the forest's out-of-bag probabilities of the training chips. The cross-prediction engine
(:func:`landslide_app.model.crossval.cross_predict`) uses it per fold, and a single run
(``landslide-app train``) on one train/validation "fold".

**Which chips the forest is fitted on** (``forest_fit``, :data:`FOREST_FITS`):

* ``"train"``: the training chips' embeddings. The network has fitted these chips, so their
  embeddings are in-sample while the test chips' are not: the forest learns from embeddings that
  separate the classes better than those it will score;
* ``"validation"``: the validation chips' embeddings, which the network did not fit (they only
  chose its epoch), so the forest's input is out-of-sample for the network, as at test time; but
  the forest sees fewer chips (the validation share of the fold). The map's calibration and
  decision rule, fitted on the validation chips (:mod:`landslide_app.model.map_classes`), then use
  the forest's out-of-bag probabilities of those chips (:meth:`EmbeddingForest.oob_proba`, rows of
  :attr:`EmbeddingForest.oob_set`), so nothing is scored in-sample.

When the forest is fitted, the features it is fitted on are checked for a **collapsed** training
(the same features for every chip: :mod:`landslide_app.model.collapse`); a collapse is logged as
a warning and shows as ``collapsed`` in :meth:`EmbeddingForest.info`.

:meth:`EmbeddingForest.with_forest_fit` refits only the forest on a fitted fold model (the trained
network and the features computed so far are shared): both settings from one trained network, as
``benchmarks/bench_forest_fit.py`` compares them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from landslide_app.core.vocabulary import DEFAULT_FOREST_FIT, FOREST_FITS, N_FEATURES, ForestFit
from landslide_app.errors import ConfigError
from landslide_app.model.collapse import CollapseCheck, check_collapse
from landslide_app.model.crossval import FoldData
from landslide_app.model.features import percentile_features
from landslide_app.model.forest import DensityForest
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.metrics import nan_to_none
from landslide_app.model.train import ChipSubset, TrainedModel, fit_embedding_model

#: Chips per embedding batch when computing features.
FEATURE_BATCH = 16
#: ``(chip ids, embeddings (n, H, W))`` of each batch of held-out chips, as they are embedded.
EmbeddingSink = Callable[[np.ndarray, np.ndarray], None]


def check_forest_fit(value: str) -> ForestFit:
    """``value`` if it is one of :data:`FOREST_FITS`, else a :class:`ConfigError` naming them."""
    if value not in FOREST_FITS:
        raise ConfigError(f"forest_fit {value!r}: use {' or '.join(FOREST_FITS)}")
    return value  # type: ignore[return-value]


class EmbeddingForest:
    """Embedding network + percentile features + forest, fitted on one fold.

    Args:
        get_batch: ``get_batch(ids) -> (n, 17, H, W)`` chip reader.
        config: inputs and revisits.
        epochs, batch_size, device, progress: training settings (:func:`fit_embedding_model`).
        seed: seeds the network and the forest.
        train_kwargs: extra arguments of :func:`fit_embedding_model` (``precision``, ``lr``, ``width``).
        forest_kwargs: overrides of the forest parameters.
        embedding_sink: called with the embeddings of the fold's test chips as they are made.
        feature_batch: chips per embedding batch of the feature extraction.
        forest_fit: ``"train"`` or ``"validation"``: the chips the forest is fitted on.
    """

    def __init__(
        self,
        get_batch: Callable[[np.ndarray], np.ndarray],
        config: ModelConfig,
        *,
        epochs: int,
        seed: int,
        batch_size: int = 8,
        device: str | None = None,
        progress: bool = True,
        train_kwargs: dict[str, Any] | None = None,
        forest_kwargs: dict[str, Any] | None = None,
        embedding_sink: EmbeddingSink | None = None,
        feature_batch: int = FEATURE_BATCH,
        forest_fit: str = DEFAULT_FOREST_FIT,
    ) -> None:
        self.get_batch, self.config = get_batch, config
        self.epochs, self.seed, self.batch_size = int(epochs), int(seed), int(batch_size)
        self.device, self.progress = device, progress
        self.train_kwargs, self.forest_kwargs = dict(train_kwargs or {}), dict(forest_kwargs or {})
        self.embedding_sink, self.feature_batch = embedding_sink, int(feature_batch)
        self.model: TrainedModel | None = None
        self.forest: DensityForest | None = None
        self._features: dict[int, np.ndarray] = {}
        self._held_out = np.empty(0, np.int64)
        self._train_ids = np.empty(0, np.int64)
        self._name = ""
        self.forest_fit: ForestFit = check_forest_fit(forest_fit)
        #: whether the trained network embeds every chip the same (:mod:`landslide_app.model.collapse`)
        self.collapse: CollapseCheck | None = None

    @property
    def oob_set(self) -> str:
        """The fold set whose chips the forest was fitted on (``"train"`` or ``"val"``): the rows of
        :meth:`oob_proba`."""
        return "val" if self.forest_fit == "validation" else "train"

    def fit(self, data: FoldData, model: TrainedModel | None = None) -> EmbeddingForest:
        """Train the network on ``data.fold.train`` (epoch selected on ``fold.val``), then the forest
        on the chips of ``forest_fit``. ``model``: a network already trained on this fold (e.g. a
        run's saved ``model_fold<k>.pt``): only the forest is fitted."""
        fold = data.fold
        self._name, self._held_out, self._train_ids = fold.name, fold.test, fold.train
        if model is not None:
            self.model = model
            return self._fit_forest(data)
        self.model = fit_embedding_model(
            ChipSubset(self.get_batch, fold.train),
            ChipSubset(self.get_batch, fold.val),
            self.config,
            epochs=self.epochs,
            batch_size=self.batch_size,
            seed=self.seed,
            device=self.device,
            progress=self.progress,
            **self.train_kwargs,
        )
        return self._fit_forest(data)

    def _fit_forest(self, data: FoldData) -> EmbeddingForest:
        """Fit the forest on the features of the ``forest_fit`` chips (embedded unless already known)."""
        ids = getattr(data.fold, self.oob_set)
        y = data.y_val if self.oob_set == "val" else data.y_train
        known = len(ids) and all(int(i) in self._features for i in ids)
        f = self.features(ids) if known else self.transform(ids, self.oob_set)
        label = self.config.name + (f" fold {self._name}" if self._name not in ("", "single") else "")
        self.collapse = check_collapse(f, label, self.model.seed if self.model is not None else self.seed)
        self.forest = DensityForest(seed=self.seed, **self.forest_kwargs).fit(f, y)
        return self

    @property
    def collapsed(self) -> bool:
        """The trained network embeds every chip the same (checked when the forest was fitted)."""
        return bool(self.collapse is not None and self.collapse.collapsed)

    def with_forest_fit(self, forest_fit: str, data: FoldData) -> EmbeddingForest:
        """A copy of this fitted fold model with the forest refitted on the ``forest_fit`` chips of
        ``data`` (the same fold); the trained network and the features computed so far are shared,
        so no chip is embedded twice."""
        assert self.model is not None, "fit() first"
        other = copy.copy(self)
        other.forest_fit = check_forest_fit(forest_fit)
        other._features = self._features  # shared cache: features depend on the network only
        return other._fit_forest(data)

    def transform(self, ids: np.ndarray, role: str = "") -> np.ndarray:
        """The 19 percentile features of ``ids`` (embedded batch by batch; kept for :meth:`features`)."""
        assert self.model is not None, "fit() first"
        sink = self.embedding_sink if len(ids) and np.array_equal(ids, self._held_out) else None
        rows = []
        for bid, emb, valid in self.model.iter_embeddings(
            ChipSubset(self.get_batch, ids),
            batch_size=max(self.batch_size, self.feature_batch),
            progress=self.progress,
            desc=f"embed {self.config.name} {self._name}/{role}".rstrip("/"),
        ):
            f = percentile_features(emb, valid)
            rows.append(f)
            self._features.update(zip(np.asarray(bid).tolist(), f))
            if sink is not None:
                sink(bid, emb)
        return np.concatenate(rows) if rows else np.empty((0, N_FEATURES), np.float32)

    def predict_proba(self, ids: np.ndarray) -> np.ndarray:
        """Class probabilities of ``ids`` (features reused for chips already embedded)."""
        assert self.forest is not None, "fit() first"
        ids = np.asarray(ids, np.int64)
        known = all(int(i) in self._features for i in ids)
        feats = self.features(ids) if known and len(ids) else self.transform(ids, _role(ids, self))
        return self.forest.predict_proba(feats)

    def features(self, ids: np.ndarray) -> np.ndarray:
        """The forest's input rows of chips already embedded (``(len(ids), 19)`` float32)."""
        if not len(ids):
            return np.empty((0, N_FEATURES), np.float32)
        return np.stack([self._features[int(i)] for i in ids])

    def oob_proba(self) -> np.ndarray:
        """Out-of-bag class probabilities of the chips the forest was fitted on (the order of the
        fold's :attr:`oob_set`: ``fold.train``, or ``fold.val`` with ``forest_fit="validation"``;
        NaN rows for chips in every bootstrap sample)."""
        assert self.forest is not None, "fit() first"
        return self.forest.oob_proba()

    def info(self) -> dict[str, Any]:
        """Selected epoch, training history and whether the training collapsed (JSON-friendly)."""
        assert self.model is not None, "fit() first"
        return {
            "best_epoch": self.model.best_epoch,
            "collapsed": self.collapsed,
            "history": [
                {k: v if isinstance(v, int) else nan_to_none(v) for k, v in h.items()} for h in self.model.history
            ],
        }


def _role(ids: np.ndarray, m: EmbeddingForest) -> str:
    return "test" if np.array_equal(ids, m._held_out) else "val"
