"""Rasters -> PNG images and lon/lat bounds for map overlays (no widgets here).

Leaflet stretches an image overlay between two lon/lat corners in Web Mercator, so a raster on
a UTM grid is first warped to EPSG:3857 (:func:`to_web_mercator`); drawn with its UTM corners
instead, it would be offset from the chip polygons by up to a few hundred metres (grid
convergence).
"""

from __future__ import annotations

import base64
import io
import warnings

import numpy as np

#: A fully transparent 1 x 1 PNG (an overlay with nothing to show).
EMPTY_PNG_URL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def hillshade(elevation: np.ndarray, cell_size: float, azimuth: float = 315.0, altitude: float = 45.0) -> np.ndarray:
    """Hillshade in [0, 1] (matplotlib's LightSource with the true cell size); NaN stays NaN."""
    from matplotlib.colors import LightSource

    z = np.where(np.isfinite(elevation), elevation, 0.0)
    shade = LightSource(azdeg=azimuth, altdeg=altitude).hillshade(z, vert_exag=1.0, dx=cell_size, dy=cell_size)
    shade[~np.isfinite(elevation)] = np.nan
    return shade


def png_bytes(rgba: np.ndarray) -> bytes:
    """An ``(H, W, 4)`` float [0, 1] or uint8 RGBA image as PNG bytes."""
    from PIL import Image

    arr = np.asarray(rgba)
    if arr.dtype != np.uint8:
        arr = (np.clip(np.nan_to_num(arr), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr, mode="RGBA" if arr.shape[-1] == 4 else "RGB").save(buf, format="PNG", compress_level=3)
    return buf.getvalue()


def data_url(png: bytes) -> str:
    """PNG bytes as a ``data:image/png`` URL."""
    return "data:image/png;base64," + base64.b64encode(png).decode()


def png_data_url(rgba: np.ndarray) -> str:
    """An ``(H, W, 4)`` float [0, 1] or uint8 RGBA image as a ``data:image/png`` URL."""
    return data_url(png_bytes(rgba))


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


def lonlat_bounds(
    bounds: tuple[float, float, float, float], crs: str
) -> tuple[tuple[float, float], tuple[float, float]]:
    """``((south, west), (north, east))`` of projected ``bounds`` for ipyleaflet."""
    from pyproj import Transformer

    w, s, e, n = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform_bounds(*bounds)
    return ((s, w), (n, e))


def to_web_mercator(
    rgba: np.ndarray,
    transform,
    crs: str,
    max_px: int = 2048,
) -> tuple[np.ndarray, tuple[tuple[float, float], tuple[float, float]]]:
    """Warp an ``(H, W, 4)`` uint8 RGBA image on a projected grid to Web Mercator (nearest).

    Returns the warped image (transparent outside the source) and its ``((south, west),
    (north, east))`` bounds for an ``ipyleaflet.ImageOverlay``.
    """
    from rasterio.crs import CRS
    from rasterio.enums import Resampling
    from rasterio.transform import array_bounds
    from rasterio.warp import calculate_default_transform, reproject

    src = np.moveaxis(np.asarray(rgba, np.uint8), -1, 0)
    h, w = src.shape[1:]
    dst_crs = CRS.from_epsg(3857)
    left, bottom, right, top = array_bounds(h, w, transform)
    dt, dw, dh = calculate_default_transform(crs, dst_crs, w, h, left=left, bottom=bottom, right=right, top=top)
    scale = max(dw, dh) / max_px
    if scale > 1:  # keep the overlay a sane size
        dw, dh = int(np.ceil(dw / scale)), int(np.ceil(dh / scale))
        dt = dt @ dt.scale(scale, scale)
    dst = np.zeros((4, dh, dw), np.uint8)
    reproject(
        src,
        dst,
        src_transform=transform,
        src_crs=crs,
        dst_transform=dt,
        dst_crs=dst_crs,
        resampling=Resampling.nearest,
        src_nodata=None,
        dst_nodata=0,
    )
    b = array_bounds(dh, dw, dt)
    return np.moveaxis(dst, 0, -1), lonlat_bounds(b, "EPSG:3857")


def block_mean(chips: np.ndarray, px: int) -> np.ndarray:
    """Downsample ``(n, S, S)`` chips to ``(n, px, px)`` by block means (NaN-aware).

    ``S`` must be a multiple of ``px``.
    """
    n, s, _ = chips.shape
    if s % px:
        raise ValueError(f"chip size {s} is not a multiple of {px}")
    f = s // px
    blocks = np.asarray(chips, np.float32).reshape(n, px, f, px, f)
    with warnings.catch_warnings():  # all-NaN blocks (masked pixels) stay NaN
        warnings.simplefilter("ignore", category=RuntimeWarning)
        return np.nanmean(blocks, axis=(2, 4))


def mosaic(n_rows: int, n_cols: int, rc: np.ndarray, tiles: np.ndarray) -> np.ndarray:
    """Place ``(n, p, p)`` tiles at grid positions ``rc`` (n, 2) in a NaN ``(n_rows p, n_cols p)`` image."""
    n, p, _ = tiles.shape
    out = np.full((n_rows, p, n_cols, p), np.nan, np.float32)
    out[rc[:, 0], :, rc[:, 1], :] = tiles
    return out.reshape(n_rows * p, n_cols * p)


def colour_rgba(values: np.ndarray, cmap: str = "magma", vmin: float = 0.0, vmax: float = 1.0) -> np.ndarray:
    """Values -> uint8 RGBA through a matplotlib colormap; NaN transparent."""
    from matplotlib import colormaps

    v = np.asarray(values, np.float32)
    norm = np.clip((np.nan_to_num(v, nan=vmin) - vmin) / max(vmax - vmin, 1e-12), 0.0, 1.0)
    rgba = colormaps[cmap](norm, bytes=True)
    rgba[~np.isfinite(v)] = 0
    return rgba


def mosaic_px(n_rows: int, n_cols: int, chip_size: int, max_px: int = 2048, preferred: int = 32) -> int:
    """Pixels per chip in the embedding mosaic: ``preferred`` unless the mosaic gets too wide.

    Always a divisor of ``chip_size`` (a power of two for 128-pixel chips).
    """
    px = min(preferred, chip_size)
    while px > 1 and (max(n_rows, n_cols) * px > max_px or chip_size % px):
        px //= 2
    return max(px, 1)
