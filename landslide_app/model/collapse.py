"""A collapsed training: the network embeds every chip (nearly) the same, and nothing else would say so.

The paper's loss ``(1 - mean(E+)) + mean(E-)`` (:mod:`landslide_app.model.loss`) is linear in the
sigmoid output, so a pixel's gradient carries the factor ``sigmoid'(z)``, which vanishes when the
sigmoid saturates: landslide pixels pushed deep below 0 never come back, while the background
pixels still near the boundary keep pushing every logit down (Adam turns their tiny gradients into
full-size steps). Seen once: fused r2, seed 0, 5 epochs on the demo island (reproduced): within the
first epoch the activations before the head grew from 6 to 190 in 18 steps, an overshoot sent every
logit below -2 by step 23, and from there the loss stayed 1.0000 for every later batch and epoch
while the logits drifted to -237. Every chip then gets the same 19 percentile features, the forest
predicts its class shares for every chip and every AUC of that model is exactly 0.500 (pooled over
the two folds of the ablation, whose shares differ, near it). More epochs cannot undo it; another
seed can.

**Rule** (:func:`check_collapse`): the training collapsed when, over the chips the forest is
fitted on (at least 2 with finite features), **every** percentile feature spreads by at most
:data:`COLLAPSE_SPREAD` (max - min over the chips). Embeddings are sigmoid outputs in [0, 1], a
fixed scale, so the threshold is 1e-4 of their whole range. Measured over the 306 training chips
of the demo island (5 epochs, seed 0): the collapsed fused-r2 model 2.3e-8, the six others 1.0
(dem, sar r1-r3, fused r1, r3); a 1-epoch DEM model on the tiny test store 0.028. It costs
nothing: the features are those the forest is fitted on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

#: Largest spread (max - min over the chips) of every percentile feature that still counts as
#: constant: 1e-4 of the embedding's [0, 1] range.
COLLAPSE_SPREAD: float = 1e-4


@dataclass(frozen=True)
class CollapseCheck:
    """What :func:`check_collapse` found.

    Attributes:
        collapsed: every feature spread by at most :data:`COLLAPSE_SPREAD` over ``n_chips`` chips.
        spread: the largest spread of a feature over the chips (NaN: fewer than 2 chips to judge).
        n_chips: chips with finite features that were compared.
    """

    collapsed: bool
    spread: float
    n_chips: int


def feature_spread(features: np.ndarray) -> tuple[float, int]:
    """``(largest max - min of a feature column over the chips, chips compared)`` of the rows of
    ``features`` ``(n, 19)`` that are all finite; NaN spread when fewer than 2 such rows."""
    f = np.asarray(features, dtype=np.float64)
    rows = f[np.isfinite(f).all(axis=1)] if f.ndim == 2 else np.empty((0, 0))
    if len(rows) < 2:
        return float("nan"), int(len(rows))
    return float((rows.max(axis=0) - rows.min(axis=0)).max()), int(len(rows))


def check_collapse(features: np.ndarray, name: str = "", seed: int | None = None) -> CollapseCheck:
    """Judge a trained network by the percentile features of the chips the forest is fitted on; a
    collapse is logged as a warning that says what to do."""
    spread, n = feature_spread(features)
    collapsed = bool(np.isfinite(spread) and spread <= COLLAPSE_SPREAD)
    logger.debug("%s: percentile features spread by up to %.3g over %d chips", name or "model", spread, n)
    if collapsed:
        what = " ".join(p for p in (name, "" if seed is None else f"seed {seed}") if p)
        logger.warning(
            "training collapsed%s: constant embeddings for all %d chips (every percentile feature spreads "
            "by at most %.2g over them), so the forest sees no signal (AUC 0.500); "
            "rerun with another --seed (more epochs do not help: a collapsed network gets no gradient).",
            f" ({what})" if what else "",
            n,
            spread,
        )
    return CollapseCheck(collapsed, spread, n)
