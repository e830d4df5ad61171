"""The change-ratio baseline of one fold, after Handwerger et al. (2022): the threshold and a score
classifier fitted on the training chips, and the slope mask selected on the validation chips.

The rule itself (VH change, masks, per-chip histograms, threshold) is in
:mod:`landslide_app.baselines.change_ratio`, whose docstring documents the choices.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from landslide_app.baselines.change_ratio import ChangeRatioParams, ChangeStats
from landslide_app.core.vocabulary import N_CLASSES
from landslide_app.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

#: Offset added to the density before the log of the score feature.
DENSITY_EPS: float = 1e-4


class ScoreClassifier:
    """Three-class probabilities from a 1-D chip score (multinomial logistic regression).

    Feature: ``log10(score + eps)``, standardised. A class absent from the training labels gets
    probability 0; with a single training class every chip gets probability 1 for it.
    """

    def __init__(self, n_classes: int = N_CLASSES, eps: float = DENSITY_EPS, C_reg: float = 1.0) -> None:
        self.n_classes = int(n_classes)
        self.eps = float(eps)
        self.C_reg = float(C_reg)
        self._scaler: StandardScaler | None = None
        self._model: LogisticRegression | None = None
        self._classes: np.ndarray | None = None

    def _x(self, score: np.ndarray) -> np.ndarray:
        s = np.asarray(score, dtype=np.float64).reshape(-1, 1)
        if not np.all(np.isfinite(s)) or np.any(s < 0):
            raise InputError("chip scores must be finite and non-negative.")
        return np.log10(s + self.eps)

    def fit(self, score: np.ndarray, classes: np.ndarray) -> ScoreClassifier:
        """Fit on training scores and integer classes."""
        x = self._x(score)
        y = np.asarray(classes, dtype=np.int64)
        if len(y) != len(x) or len(y) == 0:
            raise InputError(f"need one class per score and at least one chip, got {len(y)} / {len(x)}.")
        self._classes = np.unique(y)
        if len(self._classes) < self.n_classes:  # run_baseline warns once per fold
            logger.debug("Training chips hold only classes %s; the others get probability 0.", self._classes.tolist())
        if len(self._classes) >= 2:
            self._scaler = StandardScaler().fit(x)
            self._model = LogisticRegression(C=self.C_reg, class_weight="balanced", max_iter=1000)
            self._model.fit(self._scaler.transform(x), y)
        return self

    def predict_proba(self, score: np.ndarray) -> np.ndarray:
        """``(n, n_classes)`` probabilities; columns are classes ``0..n_classes-1``."""
        if self._classes is None:
            raise InputError("ScoreClassifier is not fitted; call fit() first.")
        x = self._x(score)
        out = np.zeros((len(x), self.n_classes), dtype=np.float64)
        if self._model is None or self._scaler is None:  # both are set together, in fit()
            out[:, int(self._classes[0])] = 1.0
        elif len(x):
            out[:, self._model.classes_.astype(np.int64)] = self._model.predict_proba(self._scaler.transform(x))
        return out


class ChangeRatioBaseline:
    """One fold of the change-ratio baseline: threshold + score classifier fitted on training chips."""

    def __init__(self, params: ChangeRatioParams | None = None) -> None:
        self.params = params or ChangeRatioParams()
        self.threshold_db: float | None = None
        self.first_bin: int | None = None
        self.classifier = ScoreClassifier()

    def fit(self, stats: ChangeStats, train_ids: np.ndarray, train_classes: np.ndarray) -> ChangeRatioBaseline:
        """Fit the 99th-percentile threshold and the score classifier on ``train_ids`` only."""
        self.threshold_db, self.first_bin = stats.fit_threshold(train_ids)
        self.classifier.fit(stats.density(train_ids, self.first_bin), train_classes)
        logger.info(
            "Change ratio: threshold %.2f dB (q=%.3f over %d training chips).",
            self.threshold_db,
            self.params.quantile,
            len(train_ids),
        )
        return self

    def scores(self, stats: ChangeStats, ids: np.ndarray) -> np.ndarray:
        """Flagged-pixel density of ``ids``."""
        if self.first_bin is None:
            raise InputError("ChangeRatioBaseline is not fitted; call fit() first.")
        return stats.density(ids, self.first_bin)

    def predict_proba(self, stats: ChangeStats, ids: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, 3)`` of ``ids``."""
        return self.classifier.predict_proba(self.scores(stats, ids))


def fit_selecting_slope(
    candidates: Sequence[ChangeStats],
    train_ids: np.ndarray,
    train_classes: np.ndarray,
    val_ids: np.ndarray,
    val_classes: np.ndarray,
    default_slope_deg: float | None = None,
) -> tuple[ChangeRatioBaseline, ChangeStats, dict[float, float]]:
    """Fit one baseline per candidate slope mask on the training chips; keep the best on validation.

    The criterion is the macro one-vs-rest AUC of the validation chips (the CNN selects its epoch
    on the same chips). Ties go to the first candidate (the gentlest slope, in grid order). When
    no candidate has a defined validation AUC (e.g. a single class among the validation chips),
    the candidate with ``slope_min_deg == default_slope_deg`` is kept (else the first). A candidate
    whose mask leaves no valid training pixel is skipped.

    Returns:
        ``(model, its stats, {slope_min_deg: validation AUC})``.
    """
    from landslide_app.model.metrics import multiclass_auc

    if not candidates:
        raise ConfigError("fit_selecting_slope needs at least one candidate.")
    fitted = []
    scores: dict[float, float] = {}
    for st in candidates:
        if int(st.counts[st.rows(train_ids)].sum()) == 0:  # mask leaves no training pixel
            scores[float(st.params.slope_min_deg)] = float("nan")
            continue
        model = ChangeRatioBaseline(st.params).fit(st, train_ids, train_classes)
        auc = multiclass_auc(val_classes, model.predict_proba(st, val_ids)).macro if len(val_ids) else float("nan")
        scores[float(st.params.slope_min_deg)] = float(auc)
        fitted.append((model, st, auc))
    if not fitted:
        raise InputError(
            "No slope mask leaves a valid pixel (finite VH, concave, steep enough) in the training "
            f"chips (masks tried: {sorted(scores)} deg); lower the slope grid or drop the curvature mask."
        )
    defined = [k for k, (_, _, a) in enumerate(fitted) if np.isfinite(a)]
    if defined:
        best = max(defined, key=lambda k: (fitted[k][2], -k))
    else:
        slopes = [f[1].params.slope_min_deg for f in fitted]
        best = slopes.index(default_slope_deg) if default_slope_deg in slopes else 0
        logger.warning(
            "No defined validation AUC to select the slope mask; keeping slope >= %g deg.",
            fitted[best][1].params.slope_min_deg,
        )
    model, st, _ = fitted[best]
    logger.info(
        "Change ratio: slope mask >= %g deg selected on validation (AUC by mask: %s).",
        st.params.slope_min_deg,
        {k: round(v, 3) for k, v in scores.items()},
    )
    return model, st, scores
