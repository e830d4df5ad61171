"""The words every layer shares: input kinds, revisit counts, splits, precisions, classes, features,
STAC collections. One definition each; the CLI's ``choices`` and the validators import them.

Values follow Boehm et al. (Table 2 and §3, see ``docs/design.md`` for the reference): three input
configurations (DEM only, SAR only, both fused), 1..3 post-event revisits, three density classes,
and a forest over 19 percentiles (5 %, 10 %, ..., 95 %) of each chip's embedding.
"""

from __future__ import annotations

import math
from typing import Literal, get_args

import numpy as np

from landslide_app.errors import ConfigError

#: Which network branches a configuration uses.
InputKind = Literal["dem", "sar", "fused"]
INPUTS: tuple[str, ...] = get_args(InputKind)
#: Post-event revisits a configuration sees (the 3 pre-event dates are always used).
REVISITS: tuple[int, ...] = (1, 2, 3)
#: Cross-prediction splits: the paper's random halves and a spatially blocked variant.
SplitKind = Literal["random", "blocked"]
SPLITS: tuple[str, ...] = get_args(SplitKind)
#: Training precision as asked for; ``"auto"`` resolves to bf16 where the device computes it natively.
PrecisionArg = Literal["auto", "fp32", "bf16"]
PRECISIONS: tuple[str, ...] = get_args(PrecisionArg)
#: How the network's dilated convolutions train (landslide_app.model.dilated): "auto" (the weight gradient
#: on their phase sub-grids on CPU in fp32, else the dilated kernel), "phase" or "direct".
TrainConvArg = Literal["auto", "phase", "direct"]
TRAIN_CONVS: tuple[str, ...] = get_args(TrainConvArg)
DEFAULT_TRAIN_CONV: TrainConvArg = "auto"

#: The baselines evaluated under the CNN's protocol (:mod:`landslide_app.baselines`), and what the report,
#: the README and the dashboard's tables call each.
BaselineName = Literal["change_ratio", "slope", "sar_stats"]
BASELINES: tuple[str, ...] = get_args(BaselineName)
BASELINE_TITLES: dict[str, str] = {
    "change_ratio": "SAR change ratio (Handwerger et al. 2022)",
    "slope": "DEM slope model",
    "sar_stats": "SAR chip statistics + slope (forest)",
}

#: Most training epochs any command (``ablate``, ``train``) or the dashboard accepts.
MAX_EPOCHS: int = 1000

#: ``train --model``: the paper's network + forest, or the SAR chip-statistics forest (no network).
MODEL_KINDS: tuple[str, ...] = ("cnn", "sar-stats")

#: Density classes: 0 no landslide, 1 up to the upper threshold, 2 above (see :mod:`.density`).
N_CLASSES: int = 3

#: Percentiles of a chip's embedding that form the forest's input vector: 5, 10, ..., 95.
PERCENTILES: tuple[int, ...] = tuple(range(5, 100, 5))
N_FEATURES: int = len(PERCENTILES)

#: STAC collection of Sentinel-1 radiometrically terrain-corrected scenes (Planetary Computer's name,
#: also used by the offline demo catalog).
SAR_COLLECTION: str = "sentinel-1-rtc"
#: Collection name of the DEM in a local (demo) STAC catalog.
LOCAL_DEM_COLLECTION: str = "dem"
#: Planetary Computer DEM collections and the asset that holds the elevation.
DEM_ASSETS: dict[str, str] = {"nasadem": "elevation", "cop-dem-glo-30": "data", "3dep-seamless": "data"}
DEM_COLLECTIONS: tuple[str, ...] = tuple(DEM_ASSETS)
DEFAULT_DEM_COLLECTION: str = "nasadem"

#: How ``predict``/``respond`` standardise a new store's inputs: with the training chips' statistics
#: recorded in the run, or with the new store's own (``scene``). ``benchmarks/bench_transfer.py``
#: (tiny islands, 3 unseen seeds, 7 configurations) measured a tie in the mean out-of-area AUC
#: (0.674 both); ``training`` wins for DEM and every fused configuration (the default model), ``scene``
#: for SAR-only ones, so ``training`` is the default: it also keeps a genuinely different area (steeper,
#: wetter) from being rescaled to look like the training one.
NormaliseMode = Literal["training", "scene"]
NORMALISE_MODES: tuple[str, ...] = get_args(NormaliseMode)
DEFAULT_NORMALISE: str = "training"

#: Which chips' embeddings the density forest is fitted on: the fold's training chips (the network
#: fitted them, so their embeddings are in-sample) or its validation chips (out-of-sample for the
#: network, but fewer); see :mod:`landslide_app.model.embedding_forest`, ``benchmarks/bench_forest_fit.py``.
ForestFit = Literal["train", "validation"]
FOREST_FITS: tuple[str, ...] = get_args(ForestFit)
#: "train" kept: on the demo store (seed 0, the ablation's own fold networks) "validation" raised the held-out
#: AUC (fused r3 0.752 -> 0.808, DEM 0.649 -> 0.687) but its map showed class 1 everywhere (fused r3 macro-F1
#: 0.441 -> 0.267); one seed gives no interval, so no switch (rule: a paired 95 % interval above 0 for both).
DEFAULT_FOREST_FIT: ForestFit = "train"

#: Adam learning rate of the embedding network (``--lr`` of ``ablate`` and ``train``). 1e-3 since issue 13's
#: paired 5-seed study (``benchmarks/bench_learning_rate.py``, results.json ``learning_rate``): against the
#: former 3e-3 it collapsed in 0 of 70 trainings instead of 1 of 70, held-out AUC +0.012 [-0.001, +0.026]
#: pooled, map accuracy +0.003 [-0.001, +0.006]. Part of every cache key, so runs at another rate never mix.
DEFAULT_LR: float = 1e-3
#: Largest learning rate any command accepts (Adam diverges long before; the range is (0, MAX_LR]).
MAX_LR: float = 1.0


def check_learning_rate(lr: object) -> float:
    """``lr`` as a float if it is a number in ``(0, MAX_LR]``; a :class:`ConfigError` saying so otherwise."""
    try:
        value = float(lr) if not isinstance(lr, (bool, str)) else math.nan  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = math.nan
    if not 0 < value <= MAX_LR:  # NaN fails too
        raise ConfigError(f"learning rate {lr!r} must be a number in (0, {MAX_LR:g}] (default {DEFAULT_LR:g})")
    return value


#: Networks per fold of a deployable ensemble (``--ensemble K`` of ``ablate`` and ``train``): 1 is the
#: paper's single network. K networks are trained on the same chips (seeds ``seed + j *``
#: :data:`ENSEMBLE_SEED_STRIDE`, member 0 the single model's), each with its own forest; the map averages
#: their class probabilities (:mod:`landslide_app.model.ensemble`).
DEFAULT_ENSEMBLE: int = 1
#: Most networks per fold any command accepts (each one costs a full training).
MAX_ENSEMBLE: int = 16
#: Seed offset between the members of an ensemble: member ``j`` of the fold seeded ``s`` is seeded
#: ``s + j * ENSEMBLE_SEED_STRIDE``, far from the ``seed + fold`` and ``seed + repeat`` seeds of the protocol.
ENSEMBLE_SEED_STRIDE: int = 1000


def check_ensemble(k: object) -> int:
    """``k`` as an int if it is a whole number in ``[1, MAX_ENSEMBLE]``; a :class:`ConfigError` saying so otherwise."""
    ok = isinstance(k, (int, np.integer)) and not isinstance(k, bool) and 1 <= int(k) <= MAX_ENSEMBLE
    if not ok:
        raise ConfigError(
            f"ensemble {k!r} must be a whole number of networks in 1..{MAX_ENSEMBLE} (default {DEFAULT_ENSEMBLE})"
        )
    return int(k)  # type: ignore[call-overload]
