"""Scene sizes: named presets and the ``"COLSxROWS"`` custom form, plus seed validation.

Sizes are counted in chips of ``config.CHIP_SIZE`` pixels (128 px = 1.28 km at 10 m).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from landslide_app import config
from landslide_app.errors import ConfigError


@dataclass(frozen=True)
class SceneSize:
    """Extent of a scene in chips.

    Attributes:
        name: Preset name, or the normalised custom form ``"COLSxROWS"``.
        n_cols: Chips west-east.
        n_rows: Chips north-south.
    """

    name: str
    n_cols: int
    n_rows: int

    @property
    def width(self) -> int:
        """Width in pixels."""
        return self.n_cols * config.CHIP_SIZE

    @property
    def height(self) -> int:
        """Height in pixels."""
        return self.n_rows * config.CHIP_SIZE


#: Named presets: ``tiny`` for tests, ``demo`` (~33 x 22 km, the offline default), ``pr`` (about
#: the extent of Puerto Rico, ~5,700 land chips).
SCENE_SIZES: dict[str, SceneSize] = {
    "tiny": SceneSize("tiny", 8, 6),
    "demo": SceneSize("demo", 26, 17),
    "pr": SceneSize("pr", 140, 48),
}

#: Smallest and largest custom size per axis, in chips.
MIN_CHIPS_PER_AXIS: int = 2
MAX_CHIPS_PER_AXIS: int = 400

_CUSTOM = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def _allowed() -> str:
    presets = ", ".join(f"'{k}' ({v.n_cols}x{v.n_rows} chips)" for k, v in SCENE_SIZES.items())
    return (
        f"use one of {presets}, or a custom 'COLSxROWS' in {config.CHIP_SIZE}-px chips "
        f"such as '12x8' ({MIN_CHIPS_PER_AXIS} to {MAX_CHIPS_PER_AXIS} chips per axis)"
    )


def parse_scene_size(size: str | SceneSize) -> SceneSize:
    """Parse a scene size: a preset name (``tiny``, ``demo``, ``pr``) or ``"COLSxROWS"``.

    Raises:
        ConfigError: if the size is neither a preset nor a valid custom form.
    """
    if isinstance(size, SceneSize):
        return size
    if not isinstance(size, str):
        raise ConfigError(f"Scene size must be a string, got {size!r}: {_allowed()}.")
    key = size.strip().lower()
    if key in SCENE_SIZES:
        return SCENE_SIZES[key]
    m = _CUSTOM.match(key)
    if not m:
        raise ConfigError(f"Unknown scene size {size!r}: {_allowed()}.")
    cols, rows = int(m.group(1)), int(m.group(2))
    for n, axis in ((cols, "columns"), (rows, "rows")):
        if not MIN_CHIPS_PER_AXIS <= n <= MAX_CHIPS_PER_AXIS:
            raise ConfigError(f"Scene size {size!r} has {n} chip {axis}: {_allowed()}.")
    return SceneSize(f"{cols}x{rows}", cols, rows)


def check_seed(seed: object) -> int:
    """Validate a seed: a non-negative integer (an all-digit string is accepted).

    Raises:
        ConfigError: if the seed is not a non-negative integer below 2**63.
    """
    if isinstance(seed, str) and seed.strip().isdigit():
        seed = int(seed.strip())
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(f"Seed must be a non-negative integer such as 0 or 42, got {seed!r}.")
    value = int(seed)
    if not 0 <= value < 2**63:
        raise ConfigError(f"Seed must be a non-negative integer below 2**63, got {value}.")
    return value
