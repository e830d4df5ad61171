"""Domain shift: how far a new chip store's inputs are from the chips a model was trained on.

A model carries to a new area only when its inputs look alike: SAR from another orbit geometry, SAR
already in dB where linear gamma0 is expected, or a DEM in feet give a map without any error. This
module measures per-channel statistics of a chip store on an even sample of chips
(:func:`channel_stats`), records them in the run bundle at training, and compares a new store with
them at prediction (:func:`compare`): a channel is flagged when

* its mean moved by more than :data:`MEAN_SHIFT_SIGMA` training standard deviations, or
* its standard deviation changed by more than a factor :data:`STD_RATIO`, or
* its share of valid pixels fell below :data:`VALID_RATIO` of the training share (the chip
  builder drops SAR values <= 0 as no data, so SAR in dB arrives mostly *missing*), or
* (SAR) more than :data:`NONPOSITIVE_SAR` of its values are <= 0, which linear gamma0 never is
  (the usual sign of input already in dB, in a store that kept them).

Values are compared in the model's units: DEM channels as stored (m, degrees, curvature), SAR in
dB (``10 log10`` of linear gamma0, floored like the network's input). Aspect is circular and is not
compared. The same sample gives the statistics of ``--normalise scene`` (:func:`scene_norm_stats`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from landslide_app import config as C
from landslide_app.chips.store import ChipStore
from landslide_app.model.inputs import NormStats, fit_norm_stats, to_db

log = logging.getLogger(__name__)

#: Chips read (evenly spaced over the store) to estimate a store's statistics.
SAMPLE_CHIPS: int = 192
#: Every this-many-th pixel of a sampled chip, in both directions.
PIXEL_STEP: int = 4
#: A channel's mean may move by at most this many training standard deviations.
MEAN_SHIFT_SIGMA: float = 1.0
#: A channel's standard deviation may change by at most this factor (either way).
STD_RATIO: float = 2.0
#: A channel's share of valid (finite) pixels may fall to this fraction of the training share.
VALID_RATIO: float = 0.5
#: Largest share of SAR values <= 0 in linear gamma0 (more: the input is probably in dB).
NONPOSITIVE_SAR: float = 0.01
#: Channels compared: DEM channels except (circular) aspect, and every SAR channel.
COMPARED: tuple[str, ...] = ("elevation", "slope", "curvature", *C.sar_channel_names())


@dataclass(frozen=True)
class ChannelStats:
    """Statistics of one channel over the valid pixels of a chip sample (model units)."""

    n: int
    mean: float | None
    std: float | None
    nonpositive: float | None = None  # SAR: share of raw values <= 0
    valid: float | None = None  # share of the sampled pixels that are finite

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> ChannelStats:
        def num(key: str) -> float | None:
            v = d.get(key)
            return None if v is None else float(v)  # type: ignore[arg-type]

        return cls(
            n=int(d.get("n", 0)),  # type: ignore[call-overload]
            mean=num("mean"),
            std=num("std"),
            nonpositive=num("nonpositive"),
            valid=num("valid"),
        )


@dataclass(frozen=True)
class ShiftedChannel:
    """One channel of a new store that differs from the training chips beyond the thresholds."""

    channel: str
    train_mean: float
    train_std: float
    new_mean: float | None
    new_std: float | None
    mean_shift_sigma: float | None
    std_ratio: float | None
    reason: str
    looks_db: bool = False  # SAR values <= 0 beyond NONPOSITIVE_SAR


def sample_ids(ids: np.ndarray, n: int = SAMPLE_CHIPS) -> np.ndarray:
    """Up to ``n`` ids evenly spaced over ``ids`` (all of them when fewer)."""
    ids = np.asarray(ids, np.int64)
    if len(ids) <= n:
        return ids
    return ids[np.unique(np.linspace(0, len(ids) - 1, n).round().astype(np.int64))]


def read_sample(store: ChipStore, ids: np.ndarray | None = None, n: int = SAMPLE_CHIPS) -> np.ndarray:
    """Sampled chips of ``store`` (of ``ids`` when given), every :data:`PIXEL_STEP`-th pixel:
    ``(k, C, S/step, S/step)`` float32 in the store's channel order."""
    pick = sample_ids(store.ids if ids is None else ids, n)
    parts = [store.read(int(i))[:, ::PIXEL_STEP, ::PIXEL_STEP] for i in pick]
    if not parts:
        s = -(-store.grid.chip_size // PIXEL_STEP)
        return np.empty((0, len(store.channels), s, s), np.float32)
    return np.stack(parts).astype(np.float32, copy=False)


def stats_of_sample(sample: np.ndarray, channels: Sequence[str]) -> dict[str, ChannelStats]:
    """Per-channel :class:`ChannelStats` of a chip sample whose channels are named ``channels``."""
    out: dict[str, ChannelStats] = {}
    for name in COMPARED:
        if name not in channels:
            continue
        raw = sample[:, list(channels).index(name)]
        total = raw.size
        raw = raw[np.isfinite(raw)]
        valid = raw.size / total if total else None
        is_sar = name.startswith(C.POLARISATIONS)
        vals = to_db(raw).astype(np.float64) if is_sar else raw.astype(np.float64)
        nonpos = float(np.mean(raw <= 0)) if (is_sar and raw.size) else None
        if vals.size == 0:
            out[name] = ChannelStats(0, None, None, nonpos, valid)
        else:
            out[name] = ChannelStats(int(vals.size), float(vals.mean()), float(vals.std()), nonpos, valid)
    return out


def channel_stats(store: ChipStore, ids: np.ndarray | None = None, n: int = SAMPLE_CHIPS) -> dict[str, dict]:
    """JSON-ready per-channel statistics of ``store`` (of ``ids``, e.g. a model's training chips)."""
    return {k: asdict(v) for k, v in stats_of_sample(read_sample(store, ids, n), store.channels).items()}


def scene_norm_stats(sample: np.ndarray, channels: Sequence[str]) -> NormStats:
    """Normalisation statistics of a new store (``--normalise scene``) from its chip sample."""
    full = np.full((sample.shape[0], len(C.CHANNELS) - 1, *sample.shape[2:]), np.nan, np.float32)
    for j, name in enumerate(C.CHANNELS[:-1]):
        if name in channels:
            full[:, j] = sample[:, list(channels).index(name)]
    return fit_norm_stats(full)


def compare(
    train: Mapping[str, Mapping[str, object]], new: Mapping[str, ChannelStats], channels: Sequence[str] | None = None
) -> list[ShiftedChannel]:
    """The channels (of ``channels``, default all compared) whose statistics moved beyond the thresholds.

    Args:
        train: the training statistics recorded in the run bundle (``run.json`` ``channel_stats``).
        new: the new store's statistics (:func:`stats_of_sample`).
    """
    shifted = []
    for name in channels or COMPARED:
        if name not in train or name not in new:
            continue
        t, s = ChannelStats.from_dict(train[name]), new[name]
        if t.mean is None or t.std is None:
            continue
        t_std = max(t.std, 1e-6)
        reasons = []
        is_sar = name.startswith(C.POLARISATIONS)
        looks_db = s.nonpositive is not None and s.nonpositive > NONPOSITIVE_SAR
        if looks_db:
            reasons.append(f"{s.nonpositive:.0%} of its values are <= 0: linear gamma0 never is (input in dB?)")
        lost = t.valid is not None and t.valid > 0 and (s.valid or 0.0) < VALID_RATIO * t.valid
        if lost:
            why = " (SAR values <= 0 are read as no data: input in dB?)" if is_sar else ""
            reasons.append(f"only {s.valid or 0:.0%} of its pixels are valid, {t.valid:.0%} in training{why}")
            looks_db = looks_db or is_sar
        shift = ratio = None
        if s.mean is not None and s.std is not None:
            shift = abs(s.mean - t.mean) / t_std
            ratio = max(s.std, 1e-6) / t_std
            if shift > MEAN_SHIFT_SIGMA:
                reasons.append(f"mean moved {shift:.1f} training std (> {MEAN_SHIFT_SIGMA:g})")
            if not 1 / STD_RATIO <= ratio <= STD_RATIO:
                reasons.append(f"std x{ratio:.2f} (outside x1/{STD_RATIO:g}..x{STD_RATIO:g})")
        if reasons:
            shifted.append(
                ShiftedChannel(
                    name,
                    t.mean,
                    t.std,
                    s.mean,
                    s.std,
                    None if shift is None else round(shift, 3),
                    None if ratio is None else round(ratio, 3),
                    "; ".join(reasons),
                    looks_db,
                )
            )
    return shifted


def hint(shifted: Sequence[ShiftedChannel]) -> str:
    """What probably happened, from which channels moved."""
    names = {s.channel for s in shifted}
    tips = []
    if any(s.looks_db for s in shifted):
        tips.append("the SAR looks like dB: give linear gamma0 (RTC power), as Planetary Computer serves it")
    if "elevation" in names:
        e = next(s for s in shifted if s.channel == "elevation")
        if e.std_ratio is not None and 2.8 < e.std_ratio < 3.8:
            tips.append("elevation spreads x3.3 wider: a DEM in feet? convert it to metres")
        else:
            tips.append("elevation differs: another vertical unit or datum, or a very different relief")
    if any(n.startswith(C.POLARISATIONS) for n in names) and not tips:
        tips.append(
            "the SAR differs: another orbit geometry (relative orbit / ascending vs descending), "
            "another processing level, or another season"
        )
    return "; ".join(tips) or "a very different landscape"


def describe(shifted: Sequence[ShiftedChannel], store_path: object, model_name: str) -> str:
    """One warning naming the shifted channels."""

    def here(s: ShiftedChannel) -> str:
        return "no valid pixel" if s.new_mean is None else f"{s.new_mean:.3g}±{s.new_std:.3g}"

    parts = ", ".join(
        f"{s.channel} (train {s.train_mean:.3g}±{s.train_std:.3g}, here {here(s)}: {s.reason})" for s in shifted
    )
    return (
        f"{store_path} differs from the chips {model_name} was trained on in {len(shifted)} channel(s): "
        f"{parts}. Likely cause: {hint(shifted)}. The map may be unreliable; try --normalise scene or "
        "fix the input."
    )
