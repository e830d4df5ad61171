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
  :func:`fit_selecting_slope` - the same chips the CNN uses to select its epoch; the threshold
  and classifier of each candidate are fitted on the training chips only. A fixed mask is
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
* **score -> class**: :class:`ScoreClassifier`, a multinomial logistic regression on the single
  feature ``log10(density + 1e-4)`` (standardised; ``class_weight="balanced"`` like the CNN's
  forest, since class 2 is rare), fitted on the fold's training chips. It gives calibrated-ish
  probabilities for the three classes (typically ``p0`` falls and ``p2`` rises with the
  score, ``p1`` peaks in between). A class missing from the training chips gets probability 0.

Chips are streamed (:func:`compute_change_stats` reads ``batch_size`` chips at a time); all that
is kept per chip is its histogram of valid change values (``n_bins + 2`` int32 counts, 3.2 kB at
the defaults), from which both the fold's threshold and every chip's density follow, so one
pass over the store serves both folds.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, cast

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler
from tqdm.auto import tqdm

from landslide_app import config as C
from landslide_app.core.sar import SAR_DB_FLOOR, to_db
from landslide_app.core.vocabulary import N_CLASSES
from landslide_app.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

SLOPE_INDEX: int = C.CHANNELS.index("slope")
CURV_INDEX: int = C.CHANNELS.index("curvature")
#: Chip indices of the pre-event VH channels (t0..t2).
VH_PRE_INDICES: tuple[int, ...] = tuple(C.CHANNELS.index(f"vh_t{t}") for t in range(C.N_PRE_DATES))
#: Candidate slope masks (degrees) selected on the validation chips by :func:`fit_selecting_slope`.
SLOPE_GRID_DEG: tuple[float, ...] = (10.0, 15.0, 20.0, 25.0)
#: Offset added to the density before the log of the score feature.
DENSITY_EPS: float = 1e-4


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
