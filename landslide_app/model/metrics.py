"""Chip-level metrics of the density classifier: one-vs-rest AUC and confusion matrix.

``multiclass_auc`` computes, for each class k, the binary ROC AUC of "class k" versus "any
other class" scored by ``proba[:, k]``. Documented behaviour when classes are missing:

* a class with no sample, or whose samples are all the samples, in ``y_true`` has an undefined
  AUC: its per-class value is NaN;
* **macro** AUC (the primary metric, paper Table 2) is the unweighted mean over the classes
  with a defined AUC; **weighted** AUC weights those classes by their prevalence in ``y_true``;
* when no class has a defined AUC (e.g. only one class present, or no sample) both are NaN.

With all classes present, macro and weighted equal scikit-learn's
``roc_auc_score(y, proba, multi_class="ovr", average="macro"|"weighted")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import confusion_matrix as _sk_confusion
from sklearn.metrics import roc_auc_score

from landslide_app.core.vocabulary import N_CLASSES
from landslide_app.errors import InputError


@dataclass(frozen=True)
class AucResult:
    """One-vs-rest AUCs. ``per_class[k]`` is NaN when class k's AUC is undefined."""

    macro: float
    weighted: float
    per_class: tuple[float, ...]
    support: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (NaN -> ``None``)."""
        return {
            "macro": nan_to_none(self.macro),
            "weighted": nan_to_none(self.weighted),
            "per_class": [nan_to_none(v) for v in self.per_class],
            "support": list(self.support),
        }


def nan_to_none(value: float) -> float | None:
    """``None`` for NaN/inf (strict JSON has no NaN), else the float."""
    v = float(value)
    return v if math.isfinite(v) else None


def _check(y_true: np.ndarray, n_classes: int) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise InputError(f"y_true must be 1-D, got shape {y.shape}.")
    y = y.astype(np.int64)
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise InputError(f"Classes must lie in 0..{n_classes - 1}.")
    return y


def multiclass_auc(y_true: np.ndarray, proba: np.ndarray, n_classes: int = N_CLASSES) -> AucResult:
    """One-vs-rest AUC: macro, prevalence-weighted and per class.

    Args:
        y_true: ``(n,)`` integer classes.
        proba: ``(n, n_classes)`` scores (class probabilities).
        n_classes: number of classes.
    """
    y = _check(y_true, n_classes)
    p = np.asarray(proba, dtype=np.float64)
    if p.shape != (len(y), n_classes):
        raise InputError(f"proba must have shape ({len(y)}, {n_classes}), got {p.shape}.")
    per_class: list[float] = []
    support = [int((y == k).sum()) for k in range(n_classes)]
    for k in range(n_classes):
        if 0 < support[k] < len(y):
            per_class.append(float(roc_auc_score(y == k, p[:, k])))
        else:
            per_class.append(float("nan"))
    arr = np.asarray(per_class)
    defined = np.isfinite(arr)
    if not defined.any():
        return AucResult(float("nan"), float("nan"), tuple(per_class), tuple(support))
    macro = float(arr[defined].mean())
    w = np.asarray(support, dtype=np.float64)[defined]
    weighted = float((arr[defined] * w).sum() / w.sum())
    return AucResult(macro, weighted, tuple(per_class), tuple(support))


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Confusion matrix ``(n_classes, n_classes)``: rows true class, columns predicted class."""
    y = _check(y_true, n_classes)
    yp = _check(y_pred, n_classes)
    if len(y) != len(yp):
        raise InputError(f"y_true has {len(y)} values, y_pred {len(yp)}.")
    if len(y) == 0:
        return np.zeros((n_classes, n_classes), dtype=np.int64)
    return _sk_confusion(y, yp, labels=list(range(n_classes))).astype(np.int64)
