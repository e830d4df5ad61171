"""Named, independent random streams derived from one seed.

Each stage draws from its own stream (``numpy.random.SeedSequence`` spawn keys), so changing
how one stage consumes random numbers does not change the others, and SAR speckle for any
date, polarisation and row block can be regenerated on its own.
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def stream(seed: int, name: str, *extra: int) -> np.random.Generator:
    """Return the generator for stage ``name`` (and optional integer sub-keys) of ``seed``."""
    ss = np.random.SeedSequence(entropy=seed, spawn_key=(_key(name), *map(int, extra)))
    return np.random.default_rng(ss)
