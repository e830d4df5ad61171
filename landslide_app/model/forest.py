"""Random forest on the percentile features: density class and class probabilities.

:class:`DensityForest` wraps scikit-learn's ``RandomForestClassifier`` (seeded) and always
reports probabilities for all classes ``0 .. n_classes-1``: a class absent from the training
labels gets probability 0 (and is never predicted). The forest is persisted as plain arrays in a
``.npz`` file (:mod:`landslide_app.model.forest_file`); files of the former format, ``skops.io``,
are still read, with an explicit list of trusted types (:data:`TRUSTED_TYPES`); pickle is never used.

Defaults (documented choices, the paper gives none): 300 trees, ``min_samples_leaf=3`` (a little
regularisation: with a few hundred chips fully grown trees memorise the training chips, which
makes the "train" AUC meaningless), no class weights (``class_weight=None``), features
``sqrt``, ``oob_score=True`` (out-of-bag probabilities of the training chips,
:meth:`DensityForest.oob_proba`, give the pipeline's "train" AUC). Features may contain NaN
(chips without valid pixel): scikit-learn >= 1.4 forests accept missing values.

Class weights, measured (issue 13): ``class_weight="balanced"`` (the former default) fits the trees
as if the three classes were equally frequent, so the most probable class over-shows the rare
classes 0 and 2. On the demo scene v2 (fused r3, random split, seeds 0/1/2, 5 epochs,
``benchmarks/bench_map.py``) the balanced forest's argmax map had class accuracy 0.556/0.569/0.574
against 0.668 for showing the majority class everywhere, and showed 105/77/111 of the 277 chips
with landslides as "no landslide" (seed 0: shown 179/161/43 chips of classes 0/1/2, true
106/256/21); the same features with no class weights: accuracy 0.687/0.689/0.629, 11/39/69 such
chips (seed 0: shown 23/350/10), held-out AUC 0.750/0.731/0.701 vs 0.748/0.725/0.700.
The map's classes come from :mod:`landslide_app.model.decision` on top of either;
:meth:`DensityForest.prior_shift` gives a balanced forest's correction.
"""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from landslide_app.atomic import atomic_path
from landslide_app.core.vocabulary import N_CLASSES
from landslide_app.errors import InputError, ModelFileError, UntrustedFileError
from landslide_app.model.forest_file import load_arrays, save_arrays

logger = logging.getLogger(__name__)

FORMAT: str = "landslide-app-forest/1"
#: The only non-default types a saved forest may contain (checked before loading).
TRUSTED_TYPES: tuple[str, ...] = (
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.tree._classes.DecisionTreeClassifier",
    "sklearn.tree._tree.Tree",
    "numpy.ndarray",
    "numpy.dtype",
    "numpy.int64",
    "numpy.float64",
    "builtins.dict",
    "builtins.list",
    "builtins.tuple",
    "builtins.str",
    "builtins.int",
    "builtins.float",
)


class DensityForest:
    """Density-class classifier on chip feature vectors.

    Args:
        n_classes: number of density classes (3).
        seed: ``random_state`` of the forest.
        **params: overrides of the ``RandomForestClassifier`` defaults listed in the module
            docstring.
    """

    DEFAULTS: dict[str, Any] = {
        "n_estimators": 300,
        "min_samples_leaf": 3,
        "max_features": "sqrt",
        "class_weight": None,
        "n_jobs": 1,
        "oob_score": True,
    }

    def __init__(self, n_classes: int = N_CLASSES, seed: int = 0, **params: Any) -> None:
        self.n_classes = int(n_classes)
        self.seed = int(seed)
        self.params = {**self.DEFAULTS, **params}
        self.model: RandomForestClassifier | None = None
        #: Training chips per class (set by :meth:`fit`, saved with the forest).
        self.train_counts: tuple[int, ...] | None = None

    # ---- fitting / prediction --------------------------------------------------------------
    def fit(self, features: np.ndarray, classes: np.ndarray) -> DensityForest:
        """Fit on ``(n, n_features)`` features and integer classes in ``0..n_classes-1``."""
        X = self._check_x(features)
        y = np.asarray(classes)
        if y.ndim != 1 or len(y) != len(X):
            raise InputError(f"classes must be 1-D with one value per chip ({len(X)}), got {y.shape}.")
        if len(y) == 0:
            raise InputError("Cannot train the density forest on zero chips.")
        if not np.issubdtype(y.dtype, np.integer):
            if not np.all(np.isfinite(y)) or not np.all(y == np.round(y)):
                raise InputError("Density classes must be integers.")
            y = y.astype(np.int64)
        if y.min() < 0 or y.max() >= self.n_classes:
            raise InputError(f"Density classes must lie in 0..{self.n_classes - 1}, got {np.unique(y)}.")
        present = np.unique(y)
        if len(present) < self.n_classes:
            logger.warning(
                "Training chips hold only classes %s of 0..%d; the others get probability 0.",
                present.tolist(),
                self.n_classes - 1,
            )
        self.model = RandomForestClassifier(random_state=self.seed, **self.params)
        self.train_counts = tuple(int(v) for v in np.bincount(y, minlength=self.n_classes))
        with warnings.catch_warnings():
            # with class_weight="balanced" the bootstrap favours chips of rare classes; a chip drawn
            # into every tree has no out-of-bag prediction: oob_proba() gives NaN for it
            warnings.filterwarnings("ignore", message="Some inputs do not have OOB scores", category=UserWarning)
            self.model.fit(X, y)
        if self.params.get("oob_score"):
            n_missing = int(np.isnan(self.oob_proba()).any(axis=1).sum())
            if n_missing:
                logger.debug(
                    "%d of %d training chips were in every tree's bootstrap sample: no out-of-bag "
                    "prediction for them (the train AUC uses their in-sample one)",
                    n_missing,
                    len(y),
                )
        return self

    def _check_x(self, features: np.ndarray) -> np.ndarray:
        X = np.asarray(features, dtype=np.float32)
        if X.ndim != 2:
            raise InputError(f"Features must be (n_chips, n_features), got shape {X.shape}.")
        return X

    def _fitted(self) -> RandomForestClassifier:
        if self.model is None:
            raise InputError("The density forest is not trained yet; call fit() first.")
        return self.model

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``; columns are classes 0..n_classes-1."""
        model = self._fitted()
        X = self._check_x(features)
        out = np.zeros((len(X), self.n_classes), dtype=np.float64)
        if len(X):
            proba = model.predict_proba(X)
            out[:, model.classes_.astype(np.int64)] = proba
        return out

    def oob_proba(self) -> np.ndarray:
        """Out-of-bag class probabilities ``(n_train, n_classes)`` of the training chips.

        Each training chip is scored only by the trees whose bootstrap sample left it out: an
        honest "train" estimate, unlike in-sample predictions of a forest (AUC ~1 by
        construction). Rows of chips that no tree left out are NaN: with few trees, or with
        ``class_weight="balanced"`` (the bootstrap then draws chips of a rare class into nearly
        every tree).
        """
        model = self._fitted()
        if not getattr(model, "oob_score", False) or not hasattr(model, "oob_decision_function_"):
            raise InputError("This forest was trained without oob_score=True; no out-of-bag predictions.")
        oob = np.asarray(model.oob_decision_function_, dtype=np.float64)
        out = np.zeros((len(oob), self.n_classes), dtype=np.float64)
        out[:, model.classes_.astype(np.int64)] = oob
        # scikit-learn leaves a row of zeros (and warns) for a chip that no tree left out
        out[~np.isfinite(oob).all(axis=1) | ~(oob.sum(axis=1) > 0)] = np.nan
        return out

    def prior_shift(self) -> np.ndarray:
        """Log-prior correction of this forest's probabilities (one value per class).

        ``class_weight="balanced"`` fits the trees as if every class were equally frequent, so its
        probabilities carry equal priors; adding ``log(training share of k)`` to their logs (then
        renormalising) restores the training priors (Bayes' rule; Saerens et al. 2002). Zeros for
        a forest without class weights, or before :meth:`fit` / for a forest saved without counts.
        A class absent from training gets the smallest shift of the present ones.
        """
        shift = np.zeros(self.n_classes)
        if self.params.get("class_weight") != "balanced" or self.train_counts is None:
            return shift
        counts = np.asarray(self.train_counts, dtype=np.float64)
        present = counts > 0
        shift[present] = np.log(counts[present] / counts.sum())
        if (~present).any() and present.any():
            shift[~present] = shift[present].min()
        return shift

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Most probable class (ties -> lowest class), int64 ``(n,)``."""
        return np.argmax(self.predict_proba(features), axis=1).astype(np.int64)

    # ---- persistence -------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the forest atomically: plain arrays (:mod:`landslide_app.model.forest_file`) for a
        ``.npz`` path, ``skops.io.dump`` for a ``.skops`` one (the former format)."""
        model = self._fitted()
        path = Path(path)
        if path.suffix == ".npz":
            meta = {
                "n_classes": self.n_classes,
                "seed": self.seed,
                "params": {k: model.get_params()[k] for k in self.DEFAULTS},
                "train_counts": list(self.train_counts) if self.train_counts is not None else [],
            }
            return save_arrays(model, meta, path)
        import skops.io as sio

        obj = {
            "format": FORMAT,
            "n_classes": self.n_classes,
            "seed": self.seed,
            "forest": model,
            "train_counts": list(self.train_counts) if self.train_counts is not None else [],
        }
        with atomic_path(path) as tmp:
            sio.dump(obj, tmp)
        return path

    @classmethod
    def load(cls, path: str | Path) -> DensityForest:
        """Load a forest written by :meth:`save`: a ``.npz`` file (plain arrays only), or a ``.skops``
        one trusting only :data:`TRUSTED_TYPES`."""
        path = Path(path)
        if path.suffix == ".npz":
            model, header = load_arrays(path)
            counts = header.get("train_counts")
            return cls._from_loaded(model, header.get("n_classes"), header.get("seed"), counts, path)
        import skops.io as sio
        from skops.io.exceptions import UntrustedTypesFoundException

        if not path.exists():
            raise ModelFileError(f"No forest file at {path}; train the model first.")
        # One pass: skops audits every type against ``trusted`` before constructing anything and
        # raises UntrustedTypesFoundException (a TypeError) naming the others, so a separate
        # get_untrusted_types() parse (measured: as long as the load itself) is not needed.
        try:
            obj = sio.load(path, trusted=list(TRUSTED_TYPES))
        except UntrustedTypesFoundException as err:
            raise UntrustedFileError(
                f"{path} was refused: it contains types that are not trusted ({_untrusted_names(err)}); "
                "nothing from it was loaded or run. Use a forest written by landslide_app "
                "(`landslide-app train`), or retrain."
            ) from err
        except Exception as err:  # noqa: BLE001 - any parse failure means a damaged file
            raise ModelFileError(
                f"{path} is not a readable skops file ({type(err).__name__}: {err}): it is "
                "truncated or damaged; retrain the model or copy the file again."
            ) from err
        if not isinstance(obj, dict) or obj.get("format") != FORMAT or not {"n_classes", "seed", "forest"} <= set(obj):
            raise ModelFileError(f"{path} is not a landslide_app forest ({FORMAT}); retrain it.")
        return cls._from_loaded(obj["forest"], obj["n_classes"], obj["seed"], obj.get("train_counts"), path)

    @classmethod
    def _from_loaded(cls, model: Any, n_classes: Any, seed: Any, counts: Any, path: Path) -> DensityForest:
        if not isinstance(model, RandomForestClassifier):
            raise ModelFileError(f"{path} holds a {type(model).__name__}, not a random forest; retrain it.")
        forest = cls(n_classes=int(n_classes), seed=int(seed))
        forest.model = model
        forest.params = {k: model.get_params()[k] for k in cls.DEFAULTS}
        forest.train_counts = tuple(int(v) for v in counts) if isinstance(counts, list) and counts else None
        return forest


def _untrusted_names(err: Exception) -> str:
    """The type names skops lists in an UntrustedTypesFoundException (its message is the list)."""
    names = re.findall(r"'([^']+)'", str(err))
    return ", ".join(sorted(set(names) - set(TRUSTED_TYPES))) or str(err)
