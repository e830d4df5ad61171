"""Terrain attributes of a DEM array with richdem's formulas in numpy (see :mod:`landslide_app.terrain`
for units, sign conventions, edges and nodata)."""

from __future__ import annotations

import numpy as np

from landslide_app.config import DEM_CHANNELS, FLAT_ASPECT_DEG
from landslide_app.errors import RasterError


def terrain_stack(
    dem: np.ndarray,
    cell_size_x: float | np.ndarray,
    cell_size_y: float | np.ndarray,
    nodata: float | None = None,
) -> np.ndarray:
    """Elevation, slope, curvature and aspect of a DEM, in ``config.DEM_CHANNELS`` order.

    See the module docstring for units, sign conventions and the treatment of edges and nodata.

    Args:
        dem: 2-D elevation array (metres), rows from north to south, columns from west to east.
            NaN and non-finite values are nodata.
        cell_size_x: Ground width of a cell in metres (sign ignored). A 1-D array of one value
            per row is accepted for grids whose cell width changes with the row (geographic
            grids: the width shrinks with the cosine of latitude).
        cell_size_y: Ground height of a cell in metres (sign ignored), scalar or one per row.
        nodata: Extra value of ``dem`` that means no data (besides NaN).

    Returns:
        ``float32`` array of shape ``(4, H, W)``: elevation (m), slope (degrees), curvature
        (1/(100 m), positive convex) and aspect (degrees clockwise from north that the slope
        faces, :data:`~landslide_app.config.FLAT_ASPECT_DEG` on flat cells); NaN on nodata.

    Raises:
        RasterError: If ``dem`` is not 2-D or a cell size is not a positive finite number.
    """
    z = np.array(dem, dtype=np.float64, copy=True)
    if z.ndim != 2:
        raise RasterError(f"the DEM must be a 2-D array (rows, columns), got shape {z.shape}; pass a single band.")
    height, width = z.shape
    lx = _per_row(cell_size_x, height, "cell_size_x")
    ly = _per_row(cell_size_y, height, "cell_size_y")
    if nodata is not None and not np.isnan(nodata):
        z[z == nodata] = np.nan
    z[~np.isfinite(z)] = np.nan
    valid = np.isfinite(z)

    out = np.full((len(DEM_CHANNELS), height, width), np.nan, dtype=np.float32)
    out[0] = z
    if height == 0 or width == 0 or not valid.any():
        return out

    # every cell from its 3 x 3 window (shifted views of the NaN-padded DEM); cells whose window
    # is incomplete come out NaN here and are recomputed below
    zp = np.pad(z, 1, constant_values=np.nan)
    windows = {k: zp[1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width] for k, (dr, dc) in _OFFSETS.items()}
    with np.errstate(invalid="ignore"):
        slope, aspect, curvature = _horn_zt(windows, lx[:, None], ly[:, None])

    _fix_incomplete_cells(z, valid, lx, ly, slope, aspect, curvature)
    _fill_channels(out, valid, slope, curvature, aspect)
    return out


def _fill_channels(
    out: np.ndarray, valid: np.ndarray, slope: np.ndarray, curvature: np.ndarray, aspect: np.ndarray
) -> None:
    """Write slope, curvature and aspect into ``out[1:]``: NaN off the DEM, aspect in [0, 360),
    :data:`~landslide_app.config.FLAT_ASPECT_DEG` on flat cells."""
    slope[~valid] = np.nan
    aspect[~valid] = np.nan
    curvature[~valid] = np.nan
    out[1] = slope
    out[2] = curvature
    out[3] = aspect
    asp = out[3]
    asp[asp >= 360.0] -= 360.0
    asp[out[1] == 0.0] = FLAT_ASPECT_DEG


def _per_row(size: float | np.ndarray, height: int, name: str) -> np.ndarray:
    """A cell size as one positive float64 per row."""
    arr = np.abs(np.asarray(size, dtype=np.float64))
    if arr.ndim == 0:
        arr = np.full(height, float(arr))
    elif arr.shape != (height,):
        raise RasterError(f"{name} must be a number or one value per DEM row ({height}), got shape {arr.shape}.")
    if height and not (np.all(np.isfinite(arr)) and np.all(arr > 0)):
        raise RasterError(
            f"{name} must be a positive cell size in metres, got {size!r}; check the raster's "
            "geotransform (a cell size of 0 or NaN means a broken transform)."
        )
    return arr


# Offsets (row, col) of the 3 x 3 window: a b c / d e f / g h i, row 0 = north.
_OFFSETS = {
    "a": (-1, -1), "b": (-1, 0), "c": (-1, 1),
    "d": (0, -1), "e": (0, 0), "f": (0, 1),
    "g": (1, -1), "h": (1, 0), "i": (1, 1),
}  # fmt: skip


def _fix_incomplete_cells(
    z: np.ndarray,
    valid: np.ndarray,
    lx: np.ndarray,
    ly: np.ndarray,
    slope: np.ndarray,
    aspect: np.ndarray,
    curvature: np.ndarray,
) -> None:
    """Recompute, in place, cells whose 3 x 3 window has a missing (off-grid/nodata) cell."""
    vp = np.pad(valid, 1, constant_values=False)
    height, width = z.shape
    complete = valid.copy()
    for dr, dc in _OFFSETS.values():
        complete &= vp[1 + dr : 1 + dr + height, 1 + dc : 1 + dc + width]
    rows, cols = np.nonzero(valid & ~complete)
    if rows.size == 0:
        return
    zp = np.pad(z, 1, constant_values=np.nan)
    nb = {k: zp[rows + 1 + dr, cols + 1 + dc] for k, (dr, dc) in _OFFSETS.items()}
    e = nb["e"]
    filled = dict(nb)
    # Side neighbours: linear extrapolation through the cell from the opposite side.
    for side, opposite in (("b", "h"), ("h", "b"), ("d", "f"), ("f", "d")):
        miss = np.isnan(nb[side])
        filled[side] = np.where(miss, 2.0 * e - nb[opposite], nb[side])
    # Corner neighbours: the plane through the cell and its two (filled) side neighbours.
    for corner, (s1, s2) in (("a", ("b", "d")), ("c", ("b", "f")),
                             ("g", ("h", "d")), ("i", ("h", "f"))):  # fmt: skip
        miss = np.isnan(nb[corner])
        filled[corner] = np.where(miss, filled[s1] + filled[s2] - e, nb[corner])
    s, a, c = _horn_zt(filled, lx[rows], ly[rows])
    # No cell on either side along an axis: no gradient along that axis -> undefined.
    degenerate = (np.isnan(nb["b"]) & np.isnan(nb["h"])) | (np.isnan(nb["d"]) & np.isnan(nb["f"]))
    s[degenerate] = a[degenerate] = c[degenerate] = np.nan
    slope[rows, cols] = s
    aspect[rows, cols] = a
    curvature[rows, cols] = c


def _horn_zt(n: dict[str, np.ndarray], lx: np.ndarray, ly: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """richdem's slope (deg), aspect (deg) and curvature formulas on 3 x 3 windows (arrays of
    the nine neighbours; cell sizes broadcast against them)."""
    a, b, c, d, e, f, g, h, i = (n[k] for k in "abcdefghi")
    dzdx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * lx)  # towards east
    dzdy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * ly)  # towards south (richdem's sign)
    slope = np.degrees(np.arctan(np.hypot(dzdx, dzdy)))
    aspect = np.mod(90.0 - np.degrees(np.arctan2(dzdy, -dzdx)), 360.0)
    curvature = -100.0 * ((d + f - 2 * e) / lx**2 + (b + h - 2 * e) / ly**2)
    return slope, aspect, curvature
