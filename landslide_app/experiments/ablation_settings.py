"""What an ablation runs: :class:`AblationSettings` (inputs, revisits, splits, epochs, seeds, precision,
baselines, class thresholds, blocked-split block size, decision rule, forest fit, ensemble), checked when made."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from difflib import get_close_matches
from typing import Any

from landslide_app.core.density import check_thresholds
from landslide_app.core.vocabulary import (
    DEFAULT_ENSEMBLE,
    DEFAULT_FOREST_FIT,
    DEFAULT_LR,
    DEFAULT_TRAIN_CONV,
    FOREST_FITS,
    INPUTS,
    REVISITS,
    SPLITS,
    TRAIN_CONVS,
    check_ensemble,
    check_learning_rate,
)
from landslide_app.errors import ConfigError
from landslide_app.experiments.artifacts import RunSpec
from landslide_app.model.decision import DEFAULT_DECISION, check_rule
from landslide_app.model.protocol import DEFAULT_BLOCK_KM, block_size_for_km

DEFAULT_EPOCHS = 5
#: Keyword arguments ``train_kwargs`` may hold (passed on to the embedding-model training).
TRAIN_KEYS: frozenset[str] = frozenset({"precision", "lr", "width", "conv"})


@dataclass
class AblationSettings:
    """What an ablation runs."""

    inputs: Sequence[str] = INPUTS
    revisits: Sequence[int] = REVISITS
    splits: Sequence[str] = ("random",)
    epochs: int = DEFAULT_EPOCHS
    seed: int = 0
    device: str | None = None
    #: "auto": bf16 where the device has bf16 units, else fp32 (see landslide_app.model.runtime)
    precision: str = "auto"
    baselines: bool = True
    #: density-class thresholds (heads/km²) to relabel the chips with; None: the store's classes
    thresholds: tuple[float, float] | None = None
    #: block edge (km) of the blocked split, rounded to whole chips (model.protocol.DEFAULT_BLOCK_KM)
    block_km: float = DEFAULT_BLOCK_KM
    train_kwargs: dict[str, Any] = field(default_factory=dict)
    #: repeats: seeds ``seed, seed+1, ..., seed+seeds-1`` (each its own split and initialisation)
    seeds: int = 1
    #: the map's decision rule (landslide_app.model.decision), fitted on validation chips
    decision: str = DEFAULT_DECISION
    #: the chips the forest is fitted on: "train" or "validation" (landslide_app.model.embedding_forest)
    forest_fit: str = DEFAULT_FOREST_FIT
    #: networks per fold, trained on the same chips, probabilities averaged (landslide_app.model.ensemble)
    ensemble: int = DEFAULT_ENSEMBLE
    #: write the held-out embeddings and fold models (the first seed's runs; repeats skip them:
    #: results, predictions and features only)
    save_models: bool = True

    def __post_init__(self) -> None:
        block_size_for_km(float(self.block_km), 1.0)  # a positive, finite distance (ConfigError otherwise)
        for i in self.inputs:
            if i not in INPUTS:
                raise ConfigError(f"unknown input {i!r}: use dem, sar or fused")
        for k in self.revisits:
            if int(k) not in REVISITS:
                raise ConfigError(f"revisits {k} is impossible: use 1, 2 or 3 post-event dates")
        for s in self.splits:
            if s not in SPLITS:
                raise ConfigError(f"unknown split {s!r}: use random or blocked")
        if not 1 <= int(self.epochs) <= 1000:
            raise ConfigError(f"--epochs {self.epochs} must be between 1 and 1000")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision {self.precision!r}: use auto, fp32 or bf16")
        if self.thresholds is not None:
            self.thresholds = check_thresholds(self.thresholds)
        if not 1 <= int(self.seeds) <= 100:
            raise ConfigError(f"--seeds {self.seeds} must be between 1 and 100")
        check_rule(self.decision)
        if self.forest_fit not in FOREST_FITS:
            raise ConfigError(f"forest_fit {self.forest_fit!r}: use {' or '.join(FOREST_FITS)}")
        unknown = sorted(set(self.train_kwargs) - TRAIN_KEYS)
        if unknown:
            raise ConfigError(
                f"unknown training setting(s) {', '.join(map(repr, unknown))}; known: {', '.join(sorted(TRAIN_KEYS))}"
            )
        self.ensemble = check_ensemble(self.ensemble)
        if "lr" in self.train_kwargs:
            self.train_kwargs["lr"] = check_learning_rate(self.train_kwargs["lr"])
        if self.train_kwargs.get("conv", DEFAULT_TRAIN_CONV) not in TRAIN_CONVS:
            raise ConfigError(f"train conv {self.train_kwargs['conv']!r}: use one of {', '.join(TRAIN_CONVS)}")

    @property
    def lr(self) -> float:
        """The network's learning rate these settings train with (``train_kwargs["lr"]`` or the default)."""
        return float(self.train_kwargs.get("lr", DEFAULT_LR))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AblationSettings:
        """Settings from a mapping (a JSON/YAML file, a form); unknown keys are a ConfigError."""
        if not isinstance(d, dict):
            raise ConfigError(f"ablation settings must be a mapping of names to values, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            hints = [
                f"{k!r}" + (f" (did you mean {m[0]!r}?)" if (m := get_close_matches(k, known, 1)) else "")
                for k in unknown
            ]
            raise ConfigError(f"unknown ablation setting(s) {', '.join(hints)}; known: {', '.join(sorted(known))}")
        return cls(**d)

    def seed_list(self) -> list[int]:
        """The seeds of the repeats."""
        return [int(self.seed) + i for i in range(int(self.seeds))]

    def specs(self) -> list[RunSpec]:
        return [RunSpec(i, int(k), s, self.thresholds) for s in self.splits for i in self.inputs for k in self.revisits]
