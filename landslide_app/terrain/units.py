"""The units of a DEM raster: the elevation band, cell sizes in metres (projected or geographic CRS)
and the factor that turns its elevations into metres."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np

from landslide_app.errors import RasterError

logger = logging.getLogger(__name__)

# Vertical units (GDAL band unit type) -> metres.
_Z_UNITS_TO_M: dict[str, float] = {
    "": 1.0,
    "m": 1.0,
    "metre": 1.0,
    "metres": 1.0,
    "meter": 1.0,
    "meters": 1.0,
    "ft": 0.3048,
    "foot": 0.3048,
    "feet": 0.3048,
    "international foot": 0.3048,
    "us survey foot": 1200.0 / 3937.0,
    "us-ft": 1200.0 / 3937.0,
    "ftus": 1200.0 / 3937.0,
    "foot_us": 1200.0 / 3937.0,
}


def pick_band(src, band: int | None, path: Path) -> int:
    """The 1-based elevation band: ``band`` when it exists, else the only band."""
    if band is None:
        if src.count != 1:
            raise RasterError(
                f"{path} has {src.count} bands; say which one holds the elevation (band=N, "
                "1-based) or extract it to a single-band GeoTIFF (gdal_translate -b N)."
            )
        return 1
    if not 1 <= band <= src.count:
        raise RasterError(f"{path} has {src.count} band(s); band={band} does not exist.")
    return band


def cell_sizes_m(crs, transform, height: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Ground cell width and height in metres, one value per row."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        pcrs = CRS.from_user_input(crs.to_wkt())
    except CRSError as err:
        raise RasterError(f"{path} has a CRS that PROJ cannot read ({err}); reassign it.") from err
    if pcrs.is_compound:
        pcrs = pcrs.sub_crs_list[0]
    if pcrs.is_geographic:
        unit = pcrs.axis_info[0]
        to_deg = unit.unit_conversion_factor / (math.pi / 180.0)
        rows = np.arange(height, dtype=np.float64) + 0.5
        lat = (transform.f + transform.e * rows) * to_deg
        dlat = abs(transform.e) * to_deg
        dlon = abs(transform.a) * to_deg
        if np.any(np.abs(lat) + dlat / 2 > 90.0):
            raise RasterError(
                f"{path} is in a geographic CRS but its rows reach latitudes beyond +-90; check its geotransform."
            )
        geod = pcrs.get_geod()
        if geod is None:  # pragma: no cover - a geographic CRS always has an ellipsoid
            raise RasterError(f"{path} has a geographic CRS without an ellipsoid; reassign it (gdal_edit.py -a_srs).")
        lon0 = np.zeros(height)
        _, _, lx = geod.inv(lon0, lat, lon0 + dlon, lat)
        _, _, ly = geod.inv(lon0, lat - dlat / 2, lon0, lat + dlat / 2)
        # Round to relative steps of 1e-4 (error <= 0.005 %); the rounding depends only on the
        # row's latitude, so strip-wise processing gives identical values.
        lx, ly = _round_relative(np.asarray(lx)), _round_relative(np.asarray(ly))
        logger.info(
            "%s is geographic: cell size %.2f-%.2f m (x) by %.2f m (y), per row latitude",
            path.name,
            lx.min(),
            lx.max(),
            ly.mean(),
        )
        return lx, ly
    axes = pcrs.axis_info[:2]
    factors = {a.unit_conversion_factor for a in axes}
    if len(axes) < 2 or len(factors) != 1 or not all(f > 0 for f in factors):
        raise RasterError(
            f"{path} has a CRS whose horizontal units are unknown or differ between axes "
            f"({[a.unit_name for a in axes]}); reproject the DEM to a metric CRS such as UTM "
            "(gdalwarp -t_srs EPSG:32619)."
        )
    factor = factors.pop()
    if factor != 1.0:
        logger.info("%s: horizontal unit %s = %g m", path.name, axes[0].unit_name, factor)
    return (np.full(height, abs(transform.a) * factor), np.full(height, abs(transform.e) * factor))


def _round_relative(values: np.ndarray, step: float = 1e-4) -> np.ndarray:
    """Round positive values to the nearest power of ``1 + step`` (relative error <= step/2)."""
    base = math.log1p(step)
    return np.exp(np.round(np.log(values.astype(np.float64)) / base) * base)


def z_to_metres(src, band_index: int, path: Path) -> float:
    """Factor that converts the DEM's elevations to metres (band unit, then vertical CRS)."""
    unit = (src.units[band_index - 1] or "").strip().lower()
    if not unit:
        try:
            from pyproj import CRS

            pcrs = CRS.from_user_input(src.crs.to_wkt())
            if pcrs.is_compound and len(pcrs.sub_crs_list) > 1:
                vaxis = pcrs.sub_crs_list[1].axis_info[0]
                return float(vaxis.unit_conversion_factor)
        except Exception:  # noqa: BLE001 - a CRS without a vertical part: assume metres
            pass
        return 1.0
    if unit not in _Z_UNITS_TO_M:
        raise RasterError(
            f"{path} band {band_index} has elevation unit {unit!r}, which is not metres or feet; "
            "convert the elevations to metres or set the band unit (gdal_edit.py -units m)."
        )
    factor = _Z_UNITS_TO_M[unit]
    if factor != 1.0:
        logger.info("%s: elevations in %s, converted to metres", path.name, unit)
    return factor
