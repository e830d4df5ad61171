"""What ``landslide-app info`` prints about a chip store (:func:`store_info`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from landslide_app.chips.meta import StoreMeta


def store_info(path: Path, meta: StoreMeta, index: Any) -> dict[str, Any]:
    """The summary of the store at ``path`` with metadata ``meta`` and GeoPackage ``index`` (class
    counts and heads only when labelled)."""
    idx, m, grid = index, meta, meta.grid
    out: dict[str, Any] = {
        "path": str(path),
        "format": m.format,
        "n_chips": int(len(idx)),
        "channels": list(m.channels),
        "chip_size": int(grid.chip_size),
        "crs": grid.crs,
        "resolution_m": grid.resolution,
        "grid": {"n_rows": grid.n_rows, "n_cols": grid.n_cols},
        "labelled": m.labelled,
    }
    if m.labelled:
        counts = {str(c): int((idx["density_class"] == c).sum()) for c in range(3)}
        out.update(
            {
                "class_counts": counts,
                "n_heads": int(idx["head_count"].sum()) if len(idx) else 0,
                "density_thresholds": None if m.density_thresholds is None else list(m.density_thresholds),
                "inventory": m.inventory,
            }
        )
    out.update(
        {
            "has_sar": m.has_sar,
            "dates": list(m.dates),
            "n_pre": m.n_pre_dates if m.has_sar else 0,
            "n_post": m.n_post,
            "event_date": m.event_date,
            "relative_orbit": m.relative_orbit,
            "orbit_state": m.orbit_state,
            "acquisitions": [a.to_dict() for a in m.acquisitions],
            "source": m.source,
            "fingerprint": m.fingerprint,
            "code_version": m.code_version,
            "checksums": m.checksums,
        }
    )
    return out
