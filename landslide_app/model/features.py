"""Chip descriptors: 19 percentiles (5 %, 10 %, ..., 95 %) of each chip's embedding.

Percentiles use numpy's default ("linear") interpolation over the chip's valid pixels only.
A pixel is valid when its embedding is finite and (if a mask is given) the mask is True.
A chip without any valid pixel gets a row of NaN (scikit-learn's random forest accepts NaN;
the chip store normally drops such chips before this point).
"""

from __future__ import annotations

import logging

import numpy as np

from landslide_app.core.vocabulary import N_FEATURES, PERCENTILES

logger = logging.getLogger(__name__)

FEATURE_NAMES: tuple[str, ...] = tuple(f"p{p:02d}" for p in PERCENTILES)


def percentile_features(embeddings: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Per-chip percentile vector of the embeddings.

    Args:
        embeddings: ``(N, H, W)`` or ``(N, 1, H, W)`` embedding values.
        valid: optional bool mask of the same shape (False = masked pixel).

    Returns:
        float32 ``(N, N_FEATURES)`` (19 columns).
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim == 4 and emb.shape[1] == 1:
        emb = emb[:, 0]
    if emb.ndim != 3:
        raise ValueError(f"embeddings must be (N, H, W) or (N, 1, H, W), got {emb.shape}")
    ok = np.isfinite(emb)
    if valid is not None:
        v = np.asarray(valid, dtype=bool)
        if v.ndim == 4 and v.shape[1] == 1:
            v = v[:, 0]
        if v.shape != emb.shape:
            raise ValueError(f"valid shape {v.shape} != embeddings shape {emb.shape}")
        ok &= v
    n = emb.shape[0]
    flat = emb.reshape(n, -1)
    okf = ok.reshape(n, -1)
    out = np.full((n, N_FEATURES), np.nan, dtype=np.float64)
    full = okf.all(axis=1)
    if full.any():
        out[full] = np.percentile(flat[full], PERCENTILES, axis=1).T
    for i in np.flatnonzero(~full):
        vals = flat[i, okf[i]]
        if vals.size:
            out[i] = np.percentile(vals, PERCENTILES)
        else:
            logger.warning("Chip %d has no valid embedding pixel; its features are NaN.", i)
    return out.astype(np.float32)
