"""ROC curves of class probabilities: the one implementation the report and the dashboard draw.

numpy only (the dashboard page does not wait for importing scikit-learn); the area under
:func:`roc_curve` equals scikit-learn's ``roc_auc_score``, ties included (tested).
"""

from __future__ import annotations

import numpy as np

#: False-positive rates at which the per-class curves are averaged (macro ROC).
FPR_GRID = np.linspace(0, 1, 101)


def roc_curve(y: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fpr, tpr)`` of a binary score, one point per distinct score (from (0, 0))."""
    y = np.asarray(y, bool)
    score = np.asarray(score, float)
    order = np.argsort(-score, kind="mergesort")
    y, score = y[order], score[order]
    idx = np.r_[np.flatnonzero(np.diff(score)), y.size - 1]
    tps = np.cumsum(y)[idx]
    fps = idx + 1 - tps
    tpr = np.r_[0.0, tps] / max(tps[-1], 1)
    fpr = np.r_[0.0, fps] / max(fps[-1], 1)
    return fpr, tpr


def class_rocs(y: np.ndarray, proba: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """One-vs-rest ``(fpr, tpr)`` per class present with both outcomes among ``y``."""
    y = np.asarray(y)
    out = {}
    for c in range(proba.shape[1]):
        yc = y == c
        if yc.all() or not yc.any():
            continue
        out[c] = roc_curve(yc, proba[:, c])
    return out


def macro_roc(y: np.ndarray, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Macro-average one-vs-rest ROC: the per-class true-positive rates averaged on
    :data:`FPR_GRID` (None when no class has both outcomes)."""
    tprs = [np.interp(FPR_GRID, fpr, tpr) for fpr, tpr in class_rocs(y, np.asarray(proba)).values()]
    return (FPR_GRID, np.mean(tprs, axis=0)) if tprs else None
