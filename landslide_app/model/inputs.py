"""Select and normalise the network input channels of a model configuration.

A chip (``config.CHANNELS`` order, float32, NaN = masked) holds 4 DEM channels, VV/VH for
6 dates (3 pre-event, 3 post-event) and the per-pixel landslide head count. A configuration
(:class:`ModelConfig`) picks

* ``inputs="dem"``: the DEM channels only,
* ``inputs="sar"``: the SAR channels only,
* ``inputs="fused"``: both (two network branches),

and ``revisits`` (1..3): the SAR channels of the 3 pre-event dates plus the first ``revisits``
post-event dates, VV and VH each, i.e. ``2 * (3 + revisits)`` SAR channels.

Transforms (:func:`prepare_inputs`):

* DEM: elevation, slope and curvature are standardised with statistics fitted on training chips;
  aspect (degrees clockwise from north) becomes ``sin`` and ``cos`` (5 DEM network channels).
  Negative aspect (richdem's flag for flat cells) becomes ``(0, 0)``.
* SAR: gamma0 linear power -> dB (:func:`landslide_app.core.sar.to_db`, floored at -40 dB), then
  standardised with **one mean/std per polarisation shared by all dates**, so that the
  pre/post-event change survives normalisation.
* NaN -> 0 in the network input; a separate validity mask (all *selected* input channels finite)
  is returned, so a DEM-only configuration is not masked by missing SAR.

Normalisation statistics (:class:`NormStats`) are fitted by :func:`fit_norm_stats` on training
chips only, streaming batch by batch, and serialise to JSON.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np

from landslide_app import config as C
from landslide_app.core.sar import to_db
from landslide_app.core.vocabulary import INPUTS, InputKind
from landslide_app.errors import ConfigError, InputError

logger = logging.getLogger(__name__)


#: Number of channels of a full chip (inputs + label).
N_CHIP_CHANNELS: int = len(C.CHANNELS)
#: Index of the label (head count) channel.
LABEL_INDEX: int = C.CHANNELS.index(C.LABEL_CHANNEL)
#: Chip indices of the DEM channels.
ELEV_INDEX, SLOPE_INDEX, CURV_INDEX, ASPECT_INDEX = (C.CHANNELS.index(n) for n in C.DEM_CHANNELS)
#: DEM channels that are standardised (elevation, slope, curvature).
DEM_STANDARDISED: tuple[int, ...] = (ELEV_INDEX, SLOPE_INDEX, CURV_INDEX)
#: Number of DEM network channels (elevation, slope, curvature, sin aspect, cos aspect).
N_DEM_FEATURES: int = 5
#: Standardised values are clipped to +-this many standard deviations.
CLIP_SIGMA: float = 10.0
_SAR_FIRST = C.CHANNELS.index("vv_t0")


def sar_chip_indices(revisits: int) -> tuple[int, ...]:
    """Chip channel indices of the SAR inputs for ``revisits`` post-event dates.

    Order: ``vv_t0, vh_t0, ..., vv_t{2+revisits}, vh_t{2+revisits}`` (time order, VV then VH).
    """
    n_dates = C.N_PRE_DATES + revisits
    return tuple(range(_SAR_FIRST, _SAR_FIRST + len(C.POLARISATIONS) * n_dates))


@dataclass(frozen=True)
class ModelConfig:
    """One configuration of the paper's ablation (Table 2).

    Attributes:
        inputs: ``"dem"``, ``"sar"`` or ``"fused"``.
        revisits: post-event SAR dates used (1..3). Kept for ``"dem"`` too (it names the row of
            the ablation table) although the DEM-only network ignores it.
    """

    inputs: InputKind = "fused"
    revisits: int = 3

    def __post_init__(self) -> None:
        if self.inputs not in INPUTS:
            raise ConfigError(f"Unknown model inputs {self.inputs!r}: use one of {', '.join(INPUTS)}.")
        if isinstance(self.revisits, bool) or not isinstance(self.revisits, (int, np.integer)):
            raise ConfigError(f"revisits must be an integer 1..{C.N_POST_DATES}, got {self.revisits!r}.")
        if not 1 <= int(self.revisits) <= C.N_POST_DATES:
            raise ConfigError(
                f"revisits={self.revisits} is impossible: the chips hold {C.N_POST_DATES} "
                f"post-event dates, use 1..{C.N_POST_DATES}."
            )
        object.__setattr__(self, "revisits", int(self.revisits))

    @property
    def uses_dem(self) -> bool:
        """Whether the DEM branch is used."""
        return self.inputs in ("dem", "fused")

    @property
    def uses_sar(self) -> bool:
        """Whether the SAR branch is used."""
        return self.inputs in ("sar", "fused")

    @property
    def n_dem(self) -> int:
        """Number of DEM network channels (0 when the DEM branch is unused)."""
        return N_DEM_FEATURES if self.uses_dem else 0

    @property
    def n_sar(self) -> int:
        """Number of SAR network channels (0 when the SAR branch is unused)."""
        return len(sar_chip_indices(self.revisits)) if self.uses_sar else 0

    @property
    def chip_channels(self) -> tuple[int, ...]:
        """Chip channel indices this configuration reads (validity is computed on these)."""
        dem = tuple(range(len(C.DEM_CHANNELS))) if self.uses_dem else ()
        sar = sar_chip_indices(self.revisits) if self.uses_sar else ()
        return dem + sar

    @property
    def name(self) -> str:
        """Short name, e.g. ``fused-r3``."""
        return f"{self.inputs}-r{self.revisits}"

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {"inputs": self.inputs, "revisits": self.revisits}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; a missing or unknown key is a :class:`ConfigError`."""
        if not isinstance(d, dict):
            raise ConfigError(f"Model configuration must be a mapping with inputs and revisits, got {d!r}.")
        unknown = sorted(set(d) - {"inputs", "revisits"})
        if unknown:
            raise ConfigError(
                f"Unknown model configuration key(s) {', '.join(map(repr, unknown))}; the keys are inputs "
                "(dem, sar or fused) and revisits (1..3)."
            )
        try:
            return cls(inputs=d["inputs"], revisits=d["revisits"])  # type: ignore[arg-type]
        except KeyError as err:
            raise ConfigError(f"Model configuration lacks key {err}; expected inputs, revisits.") from None


@dataclass(frozen=True)
class NormStats:
    """Normalisation statistics fitted on training chips.

    Attributes:
        dem_mean, dem_std: elevation (m), slope (deg), curvature.
        sar_mean, sar_std: dB statistics per polarisation (``config.POLARISATIONS`` order),
            pooled over all 6 dates.
        n_pixels: valid pixels counted per DEM statistic and per SAR polarisation.
    """

    dem_mean: tuple[float, float, float]
    dem_std: tuple[float, float, float]
    sar_mean: tuple[float, float]
    sar_std: tuple[float, float]
    n_pixels: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (NaN, for a channel without data, becomes ``None``)."""
        d = asdict(self)
        for k in ("dem_mean", "dem_std", "sar_mean", "sar_std"):
            d[k] = [float(v) if np.isfinite(v) else None for v in d[k]]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> NormStats:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                dem_mean=_floats3(d["dem_mean"]),
                dem_std=_floats3(d["dem_std"]),
                sar_mean=_floats2(d["sar_mean"]),
                sar_std=_floats2(d["sar_std"]),
                n_pixels={str(k): int(v) for k, v in dict(cast(Mapping[Any, Any], d.get("n_pixels", {}))).items()},
            )
        except (KeyError, TypeError, ValueError) as err:
            raise InputError(f"Malformed normalisation statistics ({err}); refit them.") from err

    def check_usable(self, cfg: ModelConfig) -> None:
        """Raise :class:`InputError` when ``cfg`` needs a statistic that could not be fitted."""
        if cfg.uses_dem and not np.all(np.isfinite(self.dem_mean + self.dem_std)):
            raise InputError(
                "The training chips hold no valid DEM pixels; the DEM configuration cannot run. "
                "Rebuild the chips with a DEM."
            )
        if cfg.uses_sar and not np.all(np.isfinite(self.sar_mean + self.sar_std)):
            raise InputError(
                f"The training chips hold no valid SAR pixels; inputs={cfg.inputs!r} cannot run. "
                "Use inputs='dem' or rebuild the chips with SAR."
            )

    def to_json(self) -> str:
        """Serialise to a JSON string."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> NormStats:
        """Parse :meth:`to_json` output."""
        try:
            return cls.from_dict(json.loads(text))
        except json.JSONDecodeError as err:
            raise InputError(f"Normalisation statistics are not valid JSON: {err}") from err


def _floats(values: object, n: int) -> tuple[float, ...]:
    # ``values`` comes from JSON; a non-iterable raises TypeError here, which the caller reports.
    out = tuple(float("nan") if v is None else float(v) for v in cast(Iterable[Any], values))
    if len(out) != n:
        raise ValueError(f"expected {n} values, got {len(out)}")
    return out


def _floats2(values: object) -> tuple[float, float]:
    a, b = _floats(values, 2)
    return a, b


def _floats3(values: object) -> tuple[float, float, float]:
    a, b, c = _floats(values, 3)
    return a, b, c


def check_chips(chips: np.ndarray, *, need_label: bool = False) -> np.ndarray:
    """Validate a chip batch ``(N, 17, H, W)`` (or ``(N, 16, H, W)`` without label).

    Returns:
        The batch as float32 (no copy when already float32).
    """
    arr = np.asarray(chips)
    if arr.ndim != 4:
        raise InputError(f"Chip batch must have shape (N, channels, H, W), got {arr.shape}.")
    n_ch = arr.shape[1]
    if n_ch not in (N_CHIP_CHANNELS, N_CHIP_CHANNELS - 1):
        raise InputError(
            f"Chip batch has {n_ch} channels; expected {N_CHIP_CHANNELS} in the order {', '.join(C.CHANNELS)}."
        )
    if need_label and n_ch != N_CHIP_CHANNELS:
        raise InputError("Chip batch has no label channel; training needs the 17-channel chips.")
    return arr.astype(np.float32, copy=False)


class _Moments:
    """Streaming sum / sum of squares / count in float64."""

    def __init__(self) -> None:
        self.s = 0.0
        self.ss = 0.0
        self.n = 0

    def add(self, values: np.ndarray) -> None:
        v = values[np.isfinite(values)].astype(np.float64)
        self.s += float(v.sum())
        self.ss += float(np.square(v).sum())
        self.n += int(v.size)

    def mean_std(self, what: str) -> tuple[float, float]:
        if self.n == 0:
            logger.warning("No valid pixel of %s in the training chips; it cannot be used.", what)
            return float("nan"), float("nan")
        mean = self.s / self.n
        var = max(self.ss / self.n - mean * mean, 0.0)
        std = float(np.sqrt(var))
        if not std > 1e-6:
            logger.warning("%s is constant over the training chips; using std 1.", what)
            std = 1.0
        return float(mean), std


def fit_norm_stats(batches: Iterable[np.ndarray] | np.ndarray, revisits: int = C.N_POST_DATES) -> NormStats:
    """Fit :class:`NormStats` on training chips, streaming over batches.

    Args:
        batches: an iterable of chip batches ``(n, 17|16, H, W)`` or a single batch. Only finite
            pixels count; each statistic uses its own channel's valid pixels.
        revisits: post-event dates the configuration uses (1..3): the SAR statistics pool the 3
            pre-event dates and these post-event dates only (the configuration's own inputs; a
            later date it never sees does not shift its normalisation).

    A statistic whose channel has no valid pixel at all (e.g. a region without SAR) is NaN;
    :func:`prepare_inputs` then refuses configurations that need it.
    """
    if isinstance(batches, np.ndarray):
        batches = [batches]
    dem = [_Moments() for _ in DEM_STANDARDISED]
    sar = [_Moments() for _ in C.POLARISATIONS]
    n_pol = len(C.POLARISATIONS)
    if isinstance(revisits, bool) or not 1 <= int(revisits) <= C.N_POST_DATES:
        raise ConfigError(f"revisits must be an integer 1..{C.N_POST_DATES}, got {revisits!r}.")
    all_sar = sar_chip_indices(int(revisits))
    for batch in batches:
        arr = check_chips(batch)
        for m, idx in zip(dem, DEM_STANDARDISED):
            m.add(arr[:, idx])
        for p, m in enumerate(sar):
            m.add(to_db(arr[:, list(all_sar[p::n_pol])]))
    dem_ms = [m.mean_std(C.CHANNELS[i]) for m, i in zip(dem, DEM_STANDARDISED)]
    sar_ms = [m.mean_std(f"SAR {pol.upper()} (dB)") for m, pol in zip(sar, C.POLARISATIONS)]
    stats = NormStats(
        dem_mean=tuple(ms[0] for ms in dem_ms),  # type: ignore[arg-type]
        dem_std=tuple(ms[1] for ms in dem_ms),  # type: ignore[arg-type]
        sar_mean=tuple(ms[0] for ms in sar_ms),  # type: ignore[arg-type]
        sar_std=tuple(ms[1] for ms in sar_ms),  # type: ignore[arg-type]
        n_pixels={
            **{C.CHANNELS[i]: m.n for m, i in zip(dem, DEM_STANDARDISED)},
            **{pol: m.n for m, pol in zip(sar, C.POLARISATIONS)},
        },
    )
    logger.debug("Fitted normalisation statistics: %s", stats)
    return stats


@dataclass(frozen=True)
class PreparedBatch:
    """Network-ready inputs of a chip batch.

    Attributes:
        x: float32 ``(N, n_dem + n_sar, H, W)``: DEM network channels first, then SAR; NaN -> 0.
        valid: bool ``(N, H, W)``: every selected input channel finite.
        label: float32 ``(N, H, W)`` head counts (NaN kept) or ``None`` when the chips had none.
    """

    x: np.ndarray
    valid: np.ndarray
    label: np.ndarray | None


def _standardise(values: np.ndarray, mean: float, std: float) -> np.ndarray:
    out = (values - np.float32(mean)) / np.float32(std)
    return np.clip(out, -CLIP_SIGMA, CLIP_SIGMA)


def prepare_inputs(chips: np.ndarray, cfg: ModelConfig, stats: NormStats) -> PreparedBatch:
    """Select, transform and normalise the input channels of ``cfg``.

    Args:
        chips: ``(N, 17, H, W)`` (or 16 channels, no label) in ``config.CHANNELS`` order.
        cfg: the configuration.
        stats: statistics from :func:`fit_norm_stats` on the training chips.

    Returns:
        A :class:`PreparedBatch`.
    """
    arr = check_chips(chips)
    stats.check_usable(cfg)
    parts: list[np.ndarray] = []
    sel = arr[:, list(cfg.chip_channels)]
    valid = np.isfinite(sel).all(axis=1)
    if cfg.uses_dem:
        for k, idx in enumerate(DEM_STANDARDISED):
            parts.append(_standardise(arr[:, idx], stats.dem_mean[k], stats.dem_std[k]))
        aspect = arr[:, ASPECT_INDEX]
        rad = np.deg2rad(aspect)
        with np.errstate(invalid="ignore"):
            flat = aspect < 0
        parts.append(np.where(flat, 0.0, np.sin(rad)).astype(np.float32))
        parts.append(np.where(flat, 0.0, np.cos(rad)).astype(np.float32))
    if cfg.uses_sar:
        n_pol = len(C.POLARISATIONS)
        for j, idx in enumerate(sar_chip_indices(cfg.revisits)):
            p = j % n_pol
            parts.append(_standardise(to_db(arr[:, idx]), stats.sar_mean[p], stats.sar_std[p]))
    x = np.stack(parts, axis=1).astype(np.float32, copy=False)
    # one pass instead of nan_to_num's three: every non-finite value (and every masked pixel) -> 0
    np.copyto(x, 0.0, where=~(np.isfinite(x) & valid[:, None]))
    label = arr[:, LABEL_INDEX].copy() if arr.shape[1] == N_CHIP_CHANNELS else None
    return PreparedBatch(x=x, valid=valid, label=label)
