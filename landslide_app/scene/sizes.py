"""Scene sizes: named presets and the ``"COLSxROWS"`` custom form, plus seed validation.

Sizes are counted in chips of ``config.CHIP_SIZE`` pixels (128 px = 1.28 km at 10 m).

:func:`check_scene_memory` refuses, before any work, a size whose generation cannot fit in the
memory available now (the scene is generated in memory): it says how much it would need.
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

#: Peak memory of scene generation: a fixed part plus bytes per pixel. Measured with
#: ``/usr/bin/time -f %M landslide-app -q scene --size S`` on the 2-core CI machine: 296 MB (tiny,
#: 0.79 Mpx), 425 MB (16x12, 3.1 Mpx), 674 MB (32x24, 12.6 Mpx); the per-pixel slope between the
#: two larger sizes is 26 B/px. An estimate from below: a size is refused only when even this
#: optimistic figure does not fit.
SCENE_BASE_BYTES: int = 250 * 2**20
SCENE_BYTES_PER_PIXEL: int = 26

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


def scene_memory_bytes(size: str | SceneSize) -> int:
    """Estimated peak memory (bytes) of generating a scene of ``size`` (an estimate from below)."""
    sz = parse_scene_size(size)
    return SCENE_BASE_BYTES + SCENE_BYTES_PER_PIXEL * sz.width * sz.height


def check_scene_memory(size: str | SceneSize, available: int | None = None) -> SceneSize:
    """Refuse a scene size that cannot be generated in the memory available now.

    Args:
        size: the scene size.
        available: bytes available (default: the machine's available memory now; no check when
            unknown).

    Raises:
        ConfigError: with the memory needed and available, and a size that fits.
    """
    from landslide_app.core.memory import available_memory

    sz = parse_scene_size(size)
    avail = available_memory() if available is None else int(available)
    need = scene_memory_bytes(sz)
    if avail is None or need <= avail:
        return sz
    # the largest square size that fits, as a suggestion
    px = max(0, (avail - SCENE_BASE_BYTES) // (2 * SCENE_BYTES_PER_PIXEL))  # half the estimate: a margin
    edge = max(MIN_CHIPS_PER_AXIS, min(MAX_CHIPS_PER_AXIS, int((px**0.5) // config.CHIP_SIZE)))
    gib = 2**30
    raise ConfigError(
        f"scene size {sz.name!r} ({sz.width:,} x {sz.height:,} px) needs at least {need / gib:.1f} GiB of memory to "
        f"generate, but {avail / gib:.1f} GiB are available; choose a smaller --size (e.g. '{edge}x{edge}' fits) "
        "or free memory"
    )


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
