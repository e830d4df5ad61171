"""Chip-level metrics of the density classifier: one-vs-rest AUC, the map's class metrics, calibration.

AUC ranks chips; the map shows classes. :func:`map_metrics` reports what a map user sees, beside
AUC: class accuracy, balanced accuracy, macro-F1, per-class recall and precision, the confusion
matrix with counts, predicted vs true class counts, the majority-class baseline (one class shown
everywhere), and, given probabilities, the multi-class Brier score (:func:`brier_score`) and a
one-vs-rest reliability curve per class (:func:`reliability_curve`).

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


def class_counts(y: np.ndarray, n_classes: int = N_CLASSES) -> list[int]:
    """Chips per class."""
    return np.bincount(_check(y, n_classes), minlength=n_classes).astype(int).tolist()


def brier_score(y_true: np.ndarray, proba: np.ndarray, n_classes: int = N_CLASSES) -> float:
    """Multi-class Brier score: mean over chips of ``sum_k (p_k - [y == k])^2`` (0 best, 2 worst)."""
    y = _check(y_true, n_classes)
    p = np.asarray(proba, dtype=np.float64)
    if p.shape != (len(y), n_classes):
        raise InputError(f"proba must have shape ({len(y)}, {n_classes}), got {p.shape}.")
    if len(y) == 0:
        return float("nan")
    return float(((p - np.eye(n_classes)[y]) ** 2).sum(axis=1).mean())


def reliability_curve(
    y_true: np.ndarray, proba: np.ndarray, n_bins: int = 5, n_classes: int = N_CLASSES
) -> dict[str, list[dict[str, object]]]:
    """One-vs-rest reliability per class: for equal-width bins of ``proba[:, k]`` the mean predicted
    probability, the observed share of class ``k`` and the chip count (empty bins left out)."""
    y = _check(y_true, n_classes)
    p = np.asarray(proba, dtype=np.float64)
    if p.shape != (len(y), n_classes):
        raise InputError(f"proba must have shape ({len(y)}, {n_classes}), got {p.shape}.")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    out: dict[str, list[dict[str, object]]] = {}
    for k in range(n_classes):
        b = np.clip(np.digitize(p[:, k], edges[1:-1], right=False), 0, n_bins - 1)
        rows: list[dict[str, object]] = []
        for i in range(n_bins):
            m = b == i
            if m.any():
                rows.append(
                    {
                        "lo": float(edges[i]),
                        "hi": float(edges[i + 1]),
                        "n": int(m.sum()),
                        "mean_predicted": float(p[m, k].mean()),
                        "observed": float((y[m] == k).mean()),
                    }
                )
        out[str(k)] = rows
    return out


def map_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray | None = None,
    *,
    majority_class: int | None = None,
    n_classes: int = N_CLASSES,
) -> dict[str, object]:
    """What the map shows, measured (JSON-friendly, NaN -> None).

    Args:
        y_true: true classes of the chips.
        y_pred: classes the map shows.
        proba: calibrated class probabilities (adds ``brier`` and ``reliability``).
        majority_class: the class the majority baseline shows everywhere, e.g. the most frequent
            class of the *training* chips; default the most frequent class of ``y_true``.

    Keys: ``n, accuracy, balanced_accuracy, macro_f1, recall, precision`` (per class; NaN/None
    where undefined: no true chip / no shown chip), ``confusion`` (rows true, columns shown),
    ``true_counts, pred_counts, majority_class, majority_accuracy``, ``missed_landslide_chips``
    (chips with landslides shown as class 0), and with ``proba``: ``brier``, ``reliability``.
    """
    y = _check(y_true, n_classes)
    yp = _check(y_pred, n_classes)
    cm = confusion(y, yp, n_classes)
    n = int(cm.sum())
    true_counts = cm.sum(axis=1)
    pred_counts = cm.sum(axis=0)
    diag = np.diag(cm).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(true_counts > 0, diag / np.maximum(true_counts, 1), np.nan)
        precision = np.where(pred_counts > 0, diag / np.maximum(pred_counts, 1), np.nan)
        denom = true_counts + pred_counts
        f1 = np.where(denom > 0, 2 * diag / np.maximum(denom, 1), np.nan)
    present = true_counts > 0
    maj = int(np.argmax(true_counts)) if majority_class is None else int(majority_class)
    if not 0 <= maj < n_classes:
        raise InputError(f"majority_class must lie in 0..{n_classes - 1}, got {maj}.")
    out: dict[str, object] = {
        "n": n,
        "accuracy": nan_to_none(diag.sum() / n if n else float("nan")),
        "balanced_accuracy": nan_to_none(float(recall[present].mean()) if present.any() else float("nan")),
        "macro_f1": nan_to_none(float(f1[denom > 0].mean()) if n else float("nan")),  # classes true or shown
        "recall": [nan_to_none(v) for v in recall],
        "precision": [nan_to_none(v) for v in precision],
        "f1": [nan_to_none(v) for v in f1],
        "confusion": cm.astype(int).tolist(),
        "true_counts": true_counts.astype(int).tolist(),
        "pred_counts": pred_counts.astype(int).tolist(),
        "majority_class": maj,
        "majority_accuracy": nan_to_none(true_counts[maj] / n if n else float("nan")),
        "missed_landslide_chips": int(cm[1:, 0].sum()),
    }
    if proba is not None:
        out["brier"] = nan_to_none(brier_score(y, proba, n_classes))
        out["reliability"] = reliability_curve(y, proba, n_classes=n_classes)
    return out
