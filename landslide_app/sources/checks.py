"""Checks of a source's rasters that would otherwise give a silently wrong chip store.

Run once before a chip build writes anything (:func:`check_source_rasters`), on the headers and
a small decimated sample of the *local* raster files of a source (remote assets are read only by
the build itself; the Planetary Computer serves gamma0 in linear power, on north-up grids):

* a raster without a CRS (the catalog may claim one that the file lacks): refused, naming the
  item, the asset and the file, with the ``gdal_edit.py`` command that assigns one;
* a geographic DEM across the antimeridian (longitudes beyond +-180, or a bounding box whose west
  edge is east of its east edge): refused with the ``gdalwarp`` to a UTM zone (warping it onto
  one chip grid would drop the half on the other side as "no data");
* a SAR asset delivered in decibels (most values negative) instead of gamma0 in linear power:
  refused, naming the date and the file, with the ``gdal_calc.py`` that converts it;
* a DEM whose elevations cannot be metres (band unit feet, or values above
  :data:`MAX_ELEVATION_M`: an undeclared nodata value such as 32767, or centimetres): refused
  with the ``gdal_edit.py`` / ``gdal_calc.py`` that fixes it (chips read elevations as metres);

and :func:`utm_epsg_for_lonlat_bbox` picks the UTM zone of an area, refusing areas beyond the
UTM zones (north of 84°N, south of 80°S) with the polar CRS to pass (``--epsg 3413`` / ``3031``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landslide_app.errors import ConfigError, RasterError

if TYPE_CHECKING:
    from landslide_app.sources.stac import SceneSource

log = logging.getLogger(__name__)

#: Latitude limits of the UTM zones (degrees).
UTM_NORTH_LIMIT, UTM_SOUTH_LIMIT = 84.0, -80.0
#: Polar CRSs in metres to suggest beyond the UTM zones.
POLAR_NORTH_EPSG, POLAR_SOUTH_EPSG = 3413, 3031
POLAR_NAMES = {True: "NSIDC Polar Stereographic North", False: "Antarctic Polar Stereographic"}
#: A SAR sample with more than this fraction of negative values is taken as decibels.
DB_NEGATIVE_FRACTION: float = 0.5
#: Edge (pixels) of the decimated sample read from each local SAR asset.
SAMPLE_EDGE: int = 256
_SAR_NODATA = -32768.0
#: Highest plausible elevation in metres (Everest is 8,849 m).
MAX_ELEVATION_M: float = 9000.0
_FEET = {"ft", "foot", "feet", "international foot", "us survey foot", "us-ft", "ftus", "foot_us"}


def utm_zone_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS 84 UTM zone of a point (326ZZ north, 327ZZ south)."""
    lon = ((float(lon) + 180.0) % 360.0) - 180.0
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)
    return (32600 if lat >= 0 else 32700) + zone


def utm_epsg_for_lonlat_bbox(bbox: Sequence[float], what: str = "the DEM") -> int:
    """The UTM zone (EPSG) of a lon/lat ``(w, s, e, n)`` box; a box across the antimeridian has
    ``w > e``.

    Raises:
        ConfigError: the box reaches beyond the UTM zones (polar areas), naming the polar CRS to
            pass with ``--epsg`` (or to reproject to with ``gdalwarp``).
    """
    w, s, e, n = (float(v) for v in bbox)
    if n > UTM_NORTH_LIMIT or s < UTM_SOUTH_LIMIT:
        north = n > UTM_NORTH_LIMIT
        epsg = POLAR_NORTH_EPSG if north else POLAR_SOUTH_EPSG
        raise ConfigError(
            f"{what} ({w:.4g}, {s:.4g}, {e:.4g}, {n:.4g} lon/lat) reaches latitude {n if north else s:.4g}, "
            f"beyond the UTM zones ({-UTM_SOUTH_LIMIT:g}°S to {UTM_NORTH_LIMIT:g}°N), so no UTM chip grid fits it; "
            f"pass a polar CRS in metres: --epsg {epsg} ({POLAR_NAMES[north]}), or reproject the DEM first: "
            f"gdalwarp -t_srs EPSG:{epsg} -tr 10 10 dem.tif dem_{epsg}.tif"
        )
    lon = (w + e) / 2.0 if w <= e else ((w + e + 360.0) / 2.0)
    return utm_zone_epsg(lon, (s + n) / 2.0)


def _local_path(href: str) -> Path | None:
    if href.startswith("file://"):
        href = href[len("file://") :]
    if "://" in href or href.startswith("/vsi"):
        return None
    return Path(href)


def _assets(items: list[dict], keys: Sequence[str]) -> Iterator[tuple[dict, str, Path]]:
    for item in items:
        for key in keys:
            asset = item.get("assets", {}).get(key)
            if asset is None:
                continue
            path = _local_path(str(asset.get("href", "")))
            if path is not None and path.exists():
                yield item, key, path


def check_source_rasters(source: SceneSource) -> None:
    """Refuse a source whose local rasters would give a silently wrong store (module docstring).

    Raises:
        RasterError: a raster without CRS, a geographic DEM across the antimeridian, a SAR asset
            in decibels.
    """
    import rasterio
    from rasterio.errors import RasterioError

    for item, key, path in _assets(source.dem_items, [source.dem_asset]):
        try:
            with rasterio.open(path) as ds:
                _check_crs(ds, item, key, path)
                _check_antimeridian(ds, path)
                _check_elevations(ds, path)
        except RasterioError:
            continue  # unreadable files are reported by the build, naming the chip row
    for day, items in source.sar_days:
        for item, key, path in _assets(items, ("vv", "vh")):
            try:
                with rasterio.open(path) as ds:
                    _check_crs(ds, item, key, path)
                    _check_linear_power(ds, day, key, path)
            except RasterioError:
                continue


def _check_crs(ds, item: dict, key: str, path: Path) -> None:
    if ds.crs is None:
        claimed = item.get("properties", {}).get("proj:epsg") or item.get("properties", {}).get("proj:code")
        fix = f"EPSG:{claimed}" if isinstance(claimed, int) else (claimed or "EPSG:32619")
        raise RasterError(
            f"the raster {path} (item {item.get('id')!r}, asset {key!r}) has no CRS"
            + (f" although the catalog says {fix}" if claimed else "")
            + f"; assign it (gdal_edit.py -a_srs {fix} {path}) or fix the catalog, then rerun"
        )


def _check_antimeridian(ds, path: Path) -> None:
    from pyproj import CRS

    crs = CRS.from_user_input(ds.crs.to_wkt())
    if crs.is_compound:
        crs = crs.sub_crs_list[0]
    if not crs.is_geographic:
        return
    left, bottom, right, top = ds.bounds
    left, right = min(left, right), max(left, right)
    if left >= -180.0 and right <= 180.0:
        return
    epsg = utm_epsg_for_lonlat_bbox(
        ((left + 180) % 360 - 180, min(bottom, top), (right + 180) % 360 - 180, max(bottom, top)),
        f"the DEM {path.name}",
    )
    raise RasterError(
        f"the DEM {path} spans longitudes {left:.6g} to {right:.6g}, across the antimeridian (±180°): on one chip "
        f"grid the part beyond 180° would be read as no data (sea). Reproject it to the UTM zone there and pass the "
        f"result: gdalwarp -t_srs EPSG:{epsg} -tr 10 10 {path.name} dem_{epsg}.tif, then --dem dem_{epsg}.tif "
        f"--epsg {epsg}"
    )


def _sample(ds) -> np.ndarray:
    """A decimated sample of band 1 (about :data:`SAMPLE_EDGE` pixels a side), NaN where masked."""
    h, w = ds.height, ds.width
    scale = max(1.0, max(h, w) / SAMPLE_EDGE)
    shape = (max(1, int(h / scale)), max(1, int(w / scale)))
    return np.ma.filled(ds.read(1, out_shape=shape, masked=True).astype(np.float64), np.nan)


def _check_elevations(ds, path: Path) -> None:
    unit = (ds.units[0] or "").strip().lower() if ds.units else ""
    if unit in _FEET:
        raise RasterError(
            f"the DEM {path} has elevations in {unit}, but chips read elevations as metres; convert them: gdal_calc.py "
            f'-A {path.name} --calc="A*0.3048" --outfile {path.stem}_m.tif (then gdal_edit.py -units m), and pass '
            f"--dem {path.stem}_m.tif"
        )
    z = _sample(ds)
    z = z[np.isfinite(z)]
    if z.size and float(z.max()) > MAX_ELEVATION_M:
        top = float(z.max())
        frac = float(np.mean(z > MAX_ELEVATION_M))
        raise RasterError(
            f"the DEM {path} has elevations up to {top:,.0f} m ({frac:.1%} of the sampled cells above "
            f"{MAX_ELEVATION_M:,.0f} m, higher than any mountain): an undeclared nodata value or elevations not in "
            f"metres. Declare the nodata value (gdal_edit.py -a_nodata {top:g} {path.name}) or convert the "
            "elevations to metres, then rerun"
        )


def looks_like_db(values: np.ndarray) -> tuple[bool, float, float]:
    """``(is_db, negative fraction, median)`` of SAR backscatter samples (NaN/nodata ignored).

    gamma0 in linear power is never negative; in decibels land backscatter lies around -25 to
    -5 dB, so most values are negative.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v) & (v != _SAR_NODATA)]
    if v.size < 16:
        return False, math.nan, math.nan
    neg = float(np.mean(v < 0))
    return neg > DB_NEGATIVE_FRACTION, neg, float(np.median(v))


def _check_linear_power(ds, day, key: str, path: Path) -> None:
    is_db, neg, median = looks_like_db(_sample(ds))
    if is_db:
        raise RasterError(
            f"the SAR of {day} ({key.upper()}, {path}) looks like decibels: {neg:.0%} of its values are negative "
            f"(median {median:.1f}), but chips are built from gamma0 in linear power (> 0). Convert the file: "
            f'gdal_calc.py -A {path.name} --calc="10**(A/10)" --NoDataValue=-32768 --outfile {path.stem}_linear.tif '
            "and point the catalog at it (or remove that date from the catalog), then rerun"
        )
