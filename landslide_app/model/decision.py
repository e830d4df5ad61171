"""The map's classes: class probabilities calibrated on validation chips, then a stated decision rule.

The density forest outputs class probabilities; the map shows one class per chip. Two steps turn
one into the other, both fitted on a fold's **validation** chips (never its test chips):

1. **Calibration** (:class:`Calibration`): ``log q_k = slope * log p_k + bias_k`` followed by a
   softmax (vector scaling with one shared slope, Guo et al. 2017, "On calibration of modern
   neural networks", ICML). The parameters are the maximum a posteriori estimate under a Gaussian
   prior centred on ``slope = 1`` and ``bias = prior_shift`` (std :data:`PRIOR_STD` each), so a
   handful of validation chips moves them only as far as the chips support. ``prior_shift`` is
   the forest's known bias: a forest fitted with ``class_weight="balanced"`` estimates
   probabilities under *equal* class priors, and Bayes' rule puts the training priors back with
   ``bias_k = log(prior_k) + const`` (Saerens et al. 2002, "Adjusting the outputs of a classifier
   to new a priori probabilities", Neural Computation 14:21-41);
   :meth:`landslide_app.model.forest.DensityForest.prior_shift` gives it (zeros for an unweighted
   forest).
2. **Decision rule** (:data:`DECISION_RULES`, ``--decision``):

   * ``"accuracy"``: the most probable calibrated class (the Bayes rule for 0/1 loss: fewest
     wrong chips);
   * ``"cost"``: the class of least expected cost under :data:`DEFAULT_COST` (rows: true class,
     columns: shown class): showing "no landslide" on a chip that has landslides costs 4 (class 1)
     or 8 (class 2), a false alarm costs 1 (class 0 shown as 1) or 2 (0 shown as 2), and
     confusing 1 with 2 costs 1 or 2 (a responder sent to a class-1 chip still finds
     landslides);
   * ``"macro_f1"``: the most probable class after per-class weights chosen on the validation
     chips to maximise macro-F1 (a coarse grid, :data:`F1_WEIGHT_GRID`; few chips -> coarse).

Default (:data:`DEFAULT_DECISION` = ``"cost"``), measured with ``benchmarks/bench_map.py`` on the
demo scene v2 (fused r3, random split, 5 epochs, unweighted forest, pooled held-out chips, true
classes 106/256/21; majority baseline "class 1 everywhere" 0.668). Seeds 0 / 1 / 2:

===========  =====================  =====================  ============================
rule         accuracy               macro-F1               landslide chips shown as 0
===========  =====================  =====================  ============================
raw argmax   0.687 / 0.689 / 0.629  0.501 / 0.535 / 0.423  11 / 39 / 69
accuracy     0.676 / 0.681 / 0.658  0.402 / 0.351 / 0.337  10 / 12 / 19
cost         0.684 / 0.676 / 0.663  0.441 / 0.413 / 0.292  0 / 0 / 0
macro_f1     0.611 / 0.535 / 0.574  0.509 / 0.476 / 0.481  108 / 116 / 74
===========  =====================  =====================  ============================

(The balanced forest's raw argmax, the former map: accuracy 0.556 / 0.569 / 0.574, 105 / 77 / 111
missed.) The cost rule is the most accurate on average (0.674 vs 0.672 accuracy rule, 0.668 raw
and majority) and never tells a responder "no landslide" where there are some; but its margin
over the majority baseline (+0.016 / +0.008 / -0.005) is within seed noise, and on this scene the
network (held-out AUC 0.70-0.75) is never sure enough (P(class 0) > ~0.8) to show class 0: the
map separates classes 1 and 2 only. ``--decision accuracy`` shows the chips it is most confident
about as class 0; ``macro_f1`` balances the classes at the price of accuracy and of ~100 missed
landslide chips.

API for the fold loop::

    decision = fit_decision(val_proba, val_y, rule="cost", prior_shift=forest.prior_shift())
    classes = decision.apply(test_proba)          # the map's classes
    calibrated = decision.calibrate(test_proba)   # probabilities for Brier score / reliability
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax

from landslide_app.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

DecisionRule = Literal["cost", "accuracy", "macro_f1"]
DECISION_RULES: tuple[str, ...] = get_args(DecisionRule)
#: The map's default rule (see the module docstring for the figures behind it).
DEFAULT_DECISION: DecisionRule = "cost"
#: Cost of showing class j (column) on a chip of true class i (row). Missing landslides costs most.
DEFAULT_COST: tuple[tuple[float, float, float], ...] = (
    (0.0, 1.0, 2.0),
    (4.0, 0.0, 1.0),
    (8.0, 2.0, 0.0),
)
#: Prior std of the calibration slope (around 1) and biases (around the prior shift).
PRIOR_STD: float = 1.0
#: Probabilities are floored here before the log.
EPS: float = 1e-4
#: Candidate per-class weights (classes 1 and 2; class 0 fixed at 1) of the macro-F1 rule.
F1_WEIGHT_GRID: tuple[float, ...] = (0.25, 0.5, 1.0, 2.0, 4.0)


def _check(proba: np.ndarray, y: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 2:
        raise InputError(f"Class probabilities must be (n_chips, n_classes), got shape {p.shape}.")
    if not np.all(np.isfinite(p)):
        raise InputError("Class probabilities contain NaN or inf; score the chips again.")
    if y is None:
        return p, None
    yy = np.asarray(y)
    if yy.shape != (len(p),):
        raise InputError(f"Classes must be 1-D with one value per chip ({len(p)}), got shape {yy.shape}.")
    yy = yy.astype(np.int64)
    if len(yy) and (yy.min() < 0 or yy.max() >= p.shape[1]):
        raise InputError(f"Classes must lie in 0..{p.shape[1] - 1}.")
    return p, yy


@dataclass(frozen=True)
class Calibration:
    """``q = softmax(slope * log(max(p, EPS)) + bias)``; the identity is ``slope=1, bias=0``."""

    slope: float = 1.0
    bias: tuple[float, ...] = (0.0, 0.0, 0.0)

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated probabilities (rows sum to 1)."""
        p, _ = _check(proba)
        if p.shape[1] != len(self.bias):
            raise InputError(f"Calibration is for {len(self.bias)} classes, the probabilities have {p.shape[1]}.")
        z = self.slope * np.log(np.maximum(p, EPS)) + np.asarray(self.bias)
        return np.exp(log_softmax(z, axis=1))


def fit_calibration(
    val_proba: np.ndarray, val_y: np.ndarray, prior_shift: np.ndarray | None = None, prior_std: float = PRIOR_STD
) -> Calibration:
    """MAP fit of :class:`Calibration` on validation chips (see the module docstring).

    With no validation chip the prior mean is returned (slope 1, bias ``prior_shift``).
    """
    p, y = _check(val_proba, val_y)
    assert y is not None
    k = p.shape[1]
    centre = np.zeros(k) if prior_shift is None else np.asarray(prior_shift, dtype=np.float64)
    if centre.shape != (k,):
        raise InputError(f"prior_shift must have one value per class ({k}), got shape {centre.shape}.")
    centre = centre - centre[0]  # only differences matter: bias_0 fixed at 0
    if len(y) == 0:
        return Calibration(1.0, tuple(float(v) for v in centre))
    logp = np.log(np.maximum(p, EPS))

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        slope, b = theta[0], np.r_[0.0, theta[1:]]
        ls = log_softmax(slope * logp + b, axis=1)
        q = np.exp(ls)
        onehot = np.eye(k)[y]
        nll = -float(ls[np.arange(len(y)), y].sum())
        resid = q - onehot  # d nll / d z
        g_slope = float((resid * logp).sum())
        g_b = resid.sum(axis=0)[1:]
        prior = ((slope - 1.0) ** 2 + ((theta[1:] - centre[1:]) ** 2).sum()) / (2 * prior_std**2)
        grad = np.r_[g_slope + (slope - 1.0) / prior_std**2, g_b + (theta[1:] - centre[1:]) / prior_std**2]
        return nll + prior, grad

    theta0 = np.r_[1.0, centre[1:]]
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B", bounds=[(0.05, 10.0)] + [(None, None)] * (k - 1))
    slope, bias = float(res.x[0]), (0.0, *(float(v) for v in res.x[1:]))
    logger.debug(
        "Calibration on %d validation chips: slope %.3f, bias %s (prior %s)",
        len(y),
        slope,
        np.round(bias, 3).tolist(),
        np.round(centre, 3).tolist(),
    )
    return Calibration(slope, bias)


def check_rule(rule: str) -> DecisionRule:
    """``rule`` if it is one of :data:`DECISION_RULES`, else a :class:`ConfigError`."""
    if rule not in DECISION_RULES:
        raise ConfigError(f"Unknown decision rule {rule!r}: use one of {', '.join(DECISION_RULES)} (--decision).")
    return rule  # type: ignore[return-value]


def _check_cost(cost: Any, k: int) -> np.ndarray:
    c = np.asarray(cost, dtype=np.float64)
    if c.shape != (k, k) or not np.all(np.isfinite(c)) or np.any(c < 0) or np.any(np.diag(c) != 0):
        raise ConfigError(
            f"A cost matrix must be {k}x{k}, finite, non-negative, with a zero diagonal; got {c.tolist()}."
        )
    return c


def _macro_f1(y: np.ndarray, pred: np.ndarray, k: int) -> float:
    f1 = []
    for c in range(k):
        tp = int(np.sum((pred == c) & (y == c)))
        fp = int(np.sum((pred == c) & (y != c)))
        fn = int(np.sum((pred != c) & (y == c)))
        f1.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(f1))


@dataclass(frozen=True)
class Decision:
    """A fitted decision: calibration, then the rule. ``apply`` gives the map's classes."""

    rule: DecisionRule
    calibration: Calibration = field(default_factory=Calibration)
    weights: tuple[float, ...] = (1.0, 1.0, 1.0)
    cost: tuple[tuple[float, ...], ...] = DEFAULT_COST
    n_val: int = 0

    def calibrate(self, proba: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities."""
        return self.calibration.apply(proba)

    def apply(self, proba: np.ndarray) -> np.ndarray:
        """The class shown for each chip (int64)."""
        q = self.calibrate(proba)
        if self.rule == "cost":
            return np.argmin(q @ np.asarray(self.cost), axis=1).astype(np.int64)
        return np.argmax(q * np.asarray(self.weights), axis=1).astype(np.int64)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "rule": self.rule,
            "slope": self.calibration.slope,
            "bias": list(self.calibration.bias),
            "weights": list(self.weights),
            "cost": [list(r) for r in self.cost],
            "n_val": self.n_val,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Decision:
        """Inverse of :meth:`to_dict`."""
        return cls(
            rule=check_rule(str(d["rule"])),
            calibration=Calibration(float(d["slope"]), tuple(float(v) for v in d["bias"])),
            weights=tuple(float(v) for v in d["weights"]),
            cost=tuple(tuple(float(v) for v in r) for r in d["cost"]),
            n_val=int(d.get("n_val", 0)),
        )


def fit_decision(
    val_proba: np.ndarray,
    val_y: np.ndarray,
    rule: str = DEFAULT_DECISION,
    *,
    prior_shift: np.ndarray | None = None,
    cost: Any = DEFAULT_COST,
    calibrate: bool = True,
) -> Decision:
    """Fit the map's decision on a fold's validation chips.

    Args:
        val_proba: ``(n_val, n_classes)`` forest probabilities of the validation chips.
        val_y: their true classes.
        rule: one of :data:`DECISION_RULES`.
        prior_shift: log-prior correction the calibration starts from
            (:meth:`~landslide_app.model.forest.DensityForest.prior_shift`); None: zeros.
        cost: cost matrix of the ``"cost"`` rule (rows true class, columns shown class).
        calibrate: False keeps the raw probabilities (plus ``prior_shift``), for comparison.
    """
    rule = check_rule(rule)
    p, y = _check(val_proba, val_y)
    assert y is not None
    k = p.shape[1]
    cost_m = _check_cost(cost, k)
    if calibrate:
        cal = fit_calibration(p, y, prior_shift)
    else:
        shift = np.zeros(k) if prior_shift is None else np.asarray(prior_shift, dtype=np.float64)
        cal = Calibration(1.0, tuple(float(v - shift[0]) for v in shift))
    weights = (1.0,) * k
    if rule == "macro_f1" and len(y):
        q = cal.apply(p)
        best = (-1.0, weights)
        for w1 in F1_WEIGHT_GRID:
            for w2 in F1_WEIGHT_GRID:
                w = (1.0, w1, w2, *(1.0,) * (k - 3))[:k]
                score = _macro_f1(y, np.argmax(q * np.asarray(w), axis=1), k)
                # ties: the weights closest to 1 (the accuracy rule)
                closer = abs(np.log(w)).sum() < abs(np.log(best[1])).sum()
                if score > best[0] + 1e-12 or (abs(score - best[0]) <= 1e-12 and closer):
                    best = (score, w)
        weights = best[1]
    return Decision(
        rule, cal, tuple(float(v) for v in weights), tuple(tuple(float(v) for v in r) for r in cost_m), n_val=len(y)
    )
