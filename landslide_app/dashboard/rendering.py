"""Rasters -> PNG data URLs and lon/lat bounds for map overlays (no widgets here)."""

from __future__ import annotations

import base64
import io

import numpy as np


def hillshade(elevation: np.ndarray, cell_size: float, azimuth: float = 315.0, altitude: float = 45.0) -> np.ndarray:
    """Hillshade in [0, 1] (matplotlib's LightSource with the true cell size); NaN stays NaN."""
    from matplotlib.colors import LightSource

    z = np.where(np.isfinite(elevation), elevation, 0.0)
    shade = LightSource(azdeg=azimuth, altdeg=altitude).hillshade(z, vert_exag=1.0, dx=cell_size, dy=cell_size)
    shade[~np.isfinite(elevation)] = np.nan
    return shade


def png_data_url(rgba: np.ndarray) -> str:
    """An ``(H, W, 4)`` float [0, 1] or uint8 RGBA image as a ``data:image/png`` URL."""
    from matplotlib.image import imsave

    buf = io.BytesIO()
    imsave(buf, rgba, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def terrain_rgba(elevation: np.ndarray, cell_size: float, sea_level: float = 0.0) -> np.ndarray:
    """Hillshaded terrain colours; sea (elevation <= ``sea_level``) blue, nodata transparent."""
    from matplotlib import colormaps
    from matplotlib.colors import Normalize

    shade = hillshade(elevation, cell_size)
    land = np.isfinite(elevation) & (elevation > sea_level)
    top = np.nanpercentile(elevation[land], 99) if land.any() else 1.0
    rgba = colormaps["gist_earth"](Normalize(0, max(top, 1.0))(np.nan_to_num(elevation)))
    rgba[..., :3] *= (0.35 + 0.65 * np.nan_to_num(shade, nan=1.0))[..., None]
    rgba[~land] = (0.62, 0.77, 0.90, 1.0)
    rgba[~np.isfinite(elevation)] = (0, 0, 0, 0)
    return rgba


def lonlat_bounds(bounds: tuple[float, float, float, float], crs: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((south, west), (north, east))`` of projected ``bounds`` for ipyleaflet."""
    from pyproj import Transformer

    w, s, e, n = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform_bounds(*bounds)
    return ((s, w), (n, e))
