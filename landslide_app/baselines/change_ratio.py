"""SAR change-ratio heatmap baseline, after Handwerger et al. (2022, NHESS 22, 753-773).

Landslides strip vegetation, and the scar's cross-polarised (VH) backscatter drops after the
event. Per pixel of a chip (:func:`change_and_mask`)::

    change = mean_t(VH_dB, pre-event dates t0..t2) - mean_t(VH_dB, post-event dates t3..t{2+k})

with ``k = revisits`` (1..3) and ``VH_dB = 10 log10(gamma0)`` floored at ``db_floor`` (-40 dB,
like the CNN inputs). A **positive** change (VH darker after the event) marks a candidate scar; a
VH rise (wet soil, debris, layover) is never flagged.

Documented choices (the NHESS paper tunes masks per event; these are ours):

* **slope mask**: keep pixels with slope >= ``slope_min_deg``. Flat land (floodplains, towns,
  coast) rarely fails, and its VH changes with flooding, crops and wet soil. The NHESS paper
  reports that masking flat areas helps but gives no universal value, so the evaluation
  (:func:`landslide_app.baselines.evaluate.run_baseline`) **selects it per fold on the
  validation chips** among :data:`SLOPE_GRID_DEG` (10, 15, 20, 25 degrees) with
  :func:`~landslide_app.baselines.change_ratio_model.fit_selecting_slope` - the same chips the
  CNN uses to select its epoch; the threshold and classifier of each candidate are fitted on the
  training chips only. A fixed mask is
  ``ChangeRatioParams.slope_min_deg`` (default 10 degrees, also the fallback when no validation
  AUC is defined). On the generated ``demo`` scene the selection mostly picks 15-25 degrees:
  with 10 degrees the post-event wet-soil brightening of the rainiest (most landslide-prone)
  slopes outweighs the scars and the density even anti-correlates with the head count.
* **curvature mask**: keep *concave* pixels only, richdem curvature < ``curvature_max`` = 0
  (negative = concave in :mod:`landslide_app.terrain`'s convention: hollows, channels, where
  heads cluster); convex and exactly planar pixels are dropped. ``curvature_max=None`` switches
  the curvature mask off (slope mask only).
* pixels with a non-finite slope, curvature or VH value are invalid (outside every count).
* **threshold**: the ``quantile`` (0.99) of the change over the valid pixels of the fold's
  *training* chips only. It is computed from histograms on a fixed grid of ``bin_width_db``
  (0.05 dB) edges over ``hist_range_db`` (-10..30 dB), plus an underflow and an overflow bin: the
  threshold is the lowest grid edge ``t`` such that at most ``1 - quantile`` of the training
  pixels have ``change >= t`` (the 99th percentile rounded *up* to the 0.05 dB grid). A pixel is
  **flagged** when it is valid and ``change >= threshold``; with the threshold on the grid the
  per-chip histogram counts give exactly :func:`flag_pixels`' counts.
* **score**: flagged-pixel density of a chip, ``flagged / valid`` (0 for a chip without valid
  pixel).
* **score -> class**: :class:`~landslide_app.baselines.change_ratio_model.ScoreClassifier`, a
  multinomial logistic regression on the single feature ``log10(density + 1e-4)``
  (standardised; ``class_weight="balanced"`` like the CNN's forest, since class 2 is rare),
  fitted on the fold's training chips. It gives calibrated-ish probabilities for the three
  classes (typically ``p0`` falls and ``p2`` rises with the score, ``p1`` peaks in between). A
  class missing from the training chips gets probability 0.

Chips are streamed (:func:`compute_change_stats` reads ``batch_size`` chips at a time); all that
is kept per chip is its histogram of valid change values (``n_bins + 2`` int32 counts, 3.2 kB at
the defaults), from which both the fold's threshold and every chip's density follow, so one
pass over the store serves both folds.

This module holds the rule (parameters, per-pixel change and masks, per-chip histograms, the
threshold); :mod:`landslide_app.baselines.change_ratio_model` fits it per fold (threshold, score
classifier, slope-mask selection).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np
from tqdm.auto import tqdm

from landslide_app import config as C
from landslide_app.core.sar import SAR_DB_FLOOR, to_db
from landslide_app.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

SLOPE_INDEX: int = C.CHANNELS.index("slope")
CURV_INDEX: int = C.CHANNELS.index("curvature")
#: Chip indices of the pre-event VH channels (t0..t2).
VH_PRE_INDICES: tuple[int, ...] = tuple(C.CHANNELS.index(f"vh_t{t}") for t in range(C.N_PRE_DATES))
#: Candidate slope masks (degrees) selected on the validation chips by :func:`fit_selecting_slope`.
SLOPE_GRID_DEG: tuple[float, ...] = (10.0, 15.0, 20.0, 25.0)


def vh_post_indices(revisits: int) -> tuple[int, ...]:
    """Chip indices of the first ``revisits`` post-event VH channels."""
    return tuple(C.CHANNELS.index(f"vh_t{C.N_PRE_DATES + k}") for k in range(revisits))


@dataclass(frozen=True)
class ChangeRatioParams:
    """Parameters of the change-ratio rule (see the module docstring for the choices)."""

    revisits: int = 3
    slope_min_deg: float = 10.0
    curvature_max: float | None = 0.0
    quantile: float = 0.99
    hist_range_db: tuple[float, float] = (-10.0, 30.0)
    bin_width_db: float = 0.05
    db_floor: float = SAR_DB_FLOOR

    def __post_init__(self) -> None:
        if int(self.revisits) not in range(1, C.N_POST_DATES + 1):
            raise ConfigError(f"revisits must be 1..{C.N_POST_DATES}, got {self.revisits}.")
        if not 0.0 < self.quantile < 1.0:
            raise ConfigError(f"quantile must lie in (0, 1), got {self.quantile}.")
        lo, hi = self.hist_range_db
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ConfigError(f"hist_range_db must be (low, high) with low < high, got {self.hist_range_db}.")
        if not 0.0 < self.bin_width_db <= hi - lo:
            raise ConfigError(f"bin_width_db must lie in (0, {hi - lo}], got {self.bin_width_db}.")
        if not np.isfinite(self.slope_min_deg):
            raise ConfigError(f"slope_min_deg must be finite, got {self.slope_min_deg}.")

    @property
    def edges(self) -> np.ndarray:
        """Histogram grid edges ``e_0 < ... < e_M`` (float64, rounded to 1e-9 dB)."""
        lo, hi = self.hist_range_db
        n = int(round((hi - lo) / self.bin_width_db))
        return np.round(lo + self.bin_width_db * np.arange(n + 1, dtype=np.float64), 9)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        d = asdict(self)
        d["hist_range_db"] = list(self.hist_range_db)
        return d


def _check_chips(chips: np.ndarray) -> np.ndarray:
    arr = np.asarray(chips)
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1] != len(C.CHANNELS):
        raise InputError(f"chips must be (n, {len(C.CHANNELS)}, S, S) in config.CHANNELS order, got shape {arr.shape}.")
    return arr


def _mean_db(chips: np.ndarray, indices: Sequence[int], floor: float) -> np.ndarray:
    db = to_db(chips[:, list(indices)], floor, np.float64)
    db[~np.isfinite(db)] = np.nan  # NaN survives the floor; +inf power is invalid too
    return db.mean(axis=1)


def vh_change_db(chips: np.ndarray, revisits: int = 3, db_floor: float = SAR_DB_FLOOR) -> np.ndarray:
    """Per-pixel VH change (dB): pre-event mean minus mean of the first ``revisits`` post dates.

    Args:
        chips: ``(n, 17, S, S)`` (or one ``(17, S, S)`` chip), gamma0 in linear power.

    Returns:
        float32 ``(n, S, S)``; positive = VH decreased after the event; NaN where any used VH
        value is NaN.
    """
    arr = _check_chips(chips)
    pre = _mean_db(arr, VH_PRE_INDICES, db_floor)
    post = _mean_db(arr, vh_post_indices(revisits), db_floor)
    return (pre - post).astype(np.float32)


def _mask(arr: np.ndarray, change: np.ndarray, p: ChangeRatioParams) -> np.ndarray:
    slope = arr[:, SLOPE_INDEX]
    curv = arr[:, CURV_INDEX]
    valid = np.isfinite(change) & np.isfinite(slope) & np.isfinite(curv)
    with np.errstate(invalid="ignore"):
        valid &= slope >= p.slope_min_deg
        if p.curvature_max is not None:
            valid &= curv < p.curvature_max
    return valid


def change_and_mask(chips: np.ndarray, params: ChangeRatioParams | None = None) -> tuple[np.ndarray, np.ndarray]:
    """VH change (dB) and the validity mask (slope, curvature, finite values) of each pixel.

    Returns:
        ``(change, valid)``, float32 and bool, each ``(n, S, S)``.
    """
    p = params or ChangeRatioParams()
    arr = _check_chips(chips)
    change = vh_change_db(arr, p.revisits, p.db_floor)
    return change, _mask(arr, change, p)


def flag_pixels(chips: np.ndarray, threshold_db: float, params: ChangeRatioParams | None = None) -> np.ndarray:
    """Flagged pixels: valid (masks) and ``change >= threshold_db``. Bool ``(n, S, S)``."""
    change, valid = change_and_mask(chips, params)
    with np.errstate(invalid="ignore"):
        return valid & (change >= threshold_db)


def chip_histograms(change: np.ndarray, valid: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per-chip counts of valid change values on the grid ``edges`` (``M + 1`` edges).

    Bin 0 holds ``x < e_0``, bin ``i`` (1..M) holds ``e_{i-1} <= x < e_i``, bin ``M + 1`` holds
    ``x >= e_M``, so the count of bins ``>= i`` is exactly the number of values ``>= e_{i-1}``.

    Returns:
        int32 ``(n, M + 2)``.
    """
    n = change.shape[0]
    n_bins = len(edges) + 1
    idx = np.searchsorted(edges, change.reshape(n, -1), side="right")
    offs = (np.arange(n, dtype=np.int64) * n_bins)[:, None]
    flat = (idx + offs)[valid.reshape(n, -1)]
    return np.bincount(flat, minlength=n * n_bins).reshape(n, n_bins).astype(np.int32)


@dataclass
class ChangeStats:
    """Per-chip histograms of the valid VH change, the output of one pass over the chips."""

    ids: np.ndarray
    counts: np.ndarray
    params: ChangeRatioParams

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids, dtype=np.int64)
        self._pos = {int(i): k for k, i in enumerate(self.ids)}
        if len(self._pos) != len(self.ids):
            raise InputError("ChangeStats: duplicate chip ids.")

    @property
    def n_valid(self) -> np.ndarray:
        """Valid (masked-in) pixels per chip."""
        return self.counts.sum(axis=1)

    def rows(self, ids: Sequence[int] | np.ndarray) -> np.ndarray:
        """Row positions of ``ids``."""
        try:
            return np.asarray([self._pos[int(i)] for i in np.asarray(ids).tolist()], dtype=np.int64)
        except KeyError as err:
            raise InputError(f"chip {err.args[0]} has no change statistics.") from None

    def fit_threshold(self, ids: Sequence[int] | np.ndarray) -> tuple[float, int]:
        """Threshold (dB) and its first flagged bin, fitted on the valid pixels of ``ids`` only."""
        hist = self.counts[self.rows(ids)].sum(axis=0, dtype=np.int64)
        total = int(hist.sum())
        if total == 0:
            raise InputError(
                "No valid pixel (slope/curvature mask, finite VH) in the training chips: the "
                "change-ratio threshold cannot be fitted. Relax slope_min_deg / curvature_max."
            )
        edges = self.params.edges
        above = np.cumsum(hist[::-1])[::-1]  # above[i] = count in bins >= i
        allowed = (1.0 - self.params.quantile) * total
        ok = np.flatnonzero(above[1:] <= allowed) + 1  # candidate first bins 1..M+1
        if len(ok) == 0:
            # More than 1 - q of the pixels overflow the grid: flag the overflow bin (x >= e_M).
            first = len(edges)
            logger.warning(
                "More than %.1f %% of the training pixels change by >= %.1f dB (the histogram's "
                "upper edge); flagging all of them.",
                100 * (1 - self.params.quantile),
                edges[-1],
            )
        else:
            first = int(ok[0])
            if first == 1:
                logger.warning(
                    "The change-ratio quantile lies below the histogram's lower edge; threshold set to %.2f dB.",
                    edges[0],
                )
        return float(edges[first - 1]), first

    def flagged(self, ids: Sequence[int] | np.ndarray, first_bin: int) -> np.ndarray:
        """Flagged pixels per chip for the threshold whose first flagged bin is ``first_bin``."""
        return self.counts[self.rows(ids), first_bin:].sum(axis=1)

    def density(self, ids: Sequence[int] | np.ndarray, first_bin: int) -> np.ndarray:
        """Flagged / valid pixels per chip (0 where a chip has no valid pixel)."""
        r = self.rows(ids)
        flagged = self.counts[r, first_bin:].sum(axis=1).astype(np.float64)
        valid = self.counts[r].sum(axis=1).astype(np.float64)
        return np.divide(flagged, valid, out=np.zeros_like(flagged), where=valid > 0)


def compute_change_stats(
    reader: Any,
    ids: Sequence[int] | np.ndarray,
    params: ChangeRatioParams | Sequence[ChangeRatioParams] | None = None,
    *,
    batch_size: int = 32,
    progress: bool = True,
) -> ChangeStats | list[ChangeStats]:
    """Stream the chips ``ids`` from ``reader.read_many`` and histogram their valid VH change.

    ``params`` may be a list of parameter sets sharing ``revisits``, ``db_floor`` and the
    histogram grid (e.g. several slope masks): the chips are then read once and a list of
    :class:`ChangeStats` (one per set) is returned.
    """
    many = isinstance(params, (list, tuple))
    plist: list[ChangeRatioParams] = (
        list(cast(Sequence[ChangeRatioParams], params))
        if many
        else [cast("ChangeRatioParams | None", params) or ChangeRatioParams()]
    )
    if not plist:
        raise ConfigError("compute_change_stats needs at least one parameter set.")
    p0 = plist[0]
    for p in plist[1:]:
        if (p.revisits, p.db_floor, p.hist_range_db, p.bin_width_db) != (
            p0.revisits,
            p0.db_floor,
            p0.hist_range_db,
            p0.bin_width_db,
        ):
            raise ConfigError("Parameter sets read in one pass must share revisits, db_floor and the histogram grid.")
    ids = np.asarray(ids, dtype=np.int64)
    edges = p0.edges
    outs = [np.zeros((len(ids), len(edges) + 1), dtype=np.int32) for _ in plist]
    step = max(int(batch_size), 1)
    with tqdm(total=len(ids), unit="chip", desc="change ratio", disable=not progress) as bar:
        for start in range(0, len(ids), step):
            sel = ids[start : start + step]
            arr = _check_chips(reader.read_many(sel.tolist()))
            change = vh_change_db(arr, p0.revisits, p0.db_floor)
            for p, out in zip(plist, outs):
                out[start : start + len(sel)] = chip_histograms(change, _mask(arr, change, p), edges)
            bar.update(len(sel))
    stats = [ChangeStats(ids=ids, counts=out, params=p) for p, out in zip(plist, outs)]
    for st in stats:
        n_valid = st.n_valid
        logger.info(
            "Change ratio (%d revisit(s), slope >= %g deg, curvature < %s): %d chips, %d valid pixels; "
            "%d chips without a valid pixel.",
            st.params.revisits,
            st.params.slope_min_deg,
            st.params.curvature_max,
            len(ids),
            int(n_valid.sum()),
            int((n_valid == 0).sum()),
        )
    return stats if many else stats[0]
