"""A DEM GeoTIFF to a 4-band terrain GeoTIFF (elevation, slope, curvature, aspect) on the same grid,
computed strip by strip with a one-row halo (so the values equal those of the whole DEM)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np

from landslide_app.atomic import atomic_path
from landslide_app.config import DEM_CHANNELS, FLAT_ASPECT_DEG
from landslide_app.errors import RasterError
from landslide_app.terrain.stack import terrain_stack
from landslide_app.terrain.units import cell_sizes_m, pick_band, z_to_metres

logger = logging.getLogger(__name__)

#: Band descriptions of the GeoTIFF written by :func:`write_terrain`, in ``DEM_CHANNELS`` order.
TERRAIN_BAND_NAMES: tuple[str, ...] = ("elevation", "slope_deg", "curvature", "aspect_deg")
#: Units written as band metadata next to :data:`TERRAIN_BAND_NAMES`.
TERRAIN_BAND_UNITS: tuple[str, ...] = ("m", "degree", "1/(100 m)", "degree")

assert len(TERRAIN_BAND_NAMES) == len(DEM_CHANNELS)


def write_terrain(
    dem_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    band: int | None = None,
    strip_rows: int = 1024,
) -> Path:
    """Write the 4-band terrain GeoTIFF (elevation, slope, curvature, aspect) of a DEM GeoTIFF.

    The output lies on the DEM's grid (same CRS, transform and shape), is float32 with NaN as
    nodata, tiled (256 x 256) and deflate-compressed, with band descriptions
    :data:`TERRAIN_BAND_NAMES` and unit metadata. It is written to a temporary file in the same
    folder and renamed into place, so a reader never sees a half-written file.

    Cell sizes: in a projected CRS the grid step is converted to metres with the CRS's linear
    unit (metre, foot, US survey foot, ...). In a geographic CRS (e.g. EPSG:4326) the ground
    width and height of the cells of each row are computed on the CRS's ellipsoid at that row's
    latitude (geodesic distances), so slopes are true ground slopes without reprojecting.
    Elevations are taken as metres unless the band's unit (or the vertical part of a compound
    CRS) says feet; then they are converted to metres.

    Args:
        dem_path: DEM GeoTIFF (any GDAL raster) with a CRS.
        out_path: Output GeoTIFF path; its folder is created if needed.
        band: Band of ``dem_path`` holding the elevation (1-based). Required when the raster has
            more than one band.
        strip_rows: Rows processed at a time (memory bound); rounded to a multiple of 256.

    Returns:
        ``out_path`` as a :class:`~pathlib.Path`.

    Raises:
        RasterError: If the DEM is missing, not a raster, corrupt, has several bands and
            ``band`` is not given, has no CRS, a rotated grid or unknown units.
    """
    import rasterio

    dem_path, out_path = Path(dem_path), Path(out_path)
    src = _open_dem(dem_path, out_path)
    with src:
        band_index = pick_band(src, band, dem_path)
        flips = _check_grid(src, dem_path)
        lx, ly = cell_sizes_m(src.crs, src.transform, src.height, dem_path)
        z_factor = z_to_metres(src, band_index, dem_path)
        step = max(256, (int(strip_rows) // 256) * 256)
        with atomic_path(out_path) as tmp, rasterio.open(tmp, "w", **_profile(src)) as dst:
            _describe(dst, dem_path)
            for r0 in range(0, src.height, step):
                _write_strip(src, dst, band_index, z_factor, lx, ly, flips, r0, min(r0 + step, src.height), dem_path)
    logger.info("wrote terrain attributes of %s to %s", dem_path, out_path)
    return out_path


def _open_dem(dem_path: Path, out_path: Path):
    """The DEM opened with rasterio; a missing file, the DEM as output, or a non-raster is refused."""
    import rasterio
    from rasterio.errors import RasterioError

    if not dem_path.exists():
        raise RasterError(f"DEM file {dem_path} does not exist; check the path.")
    if out_path.resolve() == dem_path.resolve():
        raise RasterError(f"the terrain output {out_path} is the DEM itself; choose another output path.")
    try:
        return rasterio.open(dem_path)
    except RasterioError as err:
        raise RasterError(
            f"{dem_path} cannot be read as a raster ({err}); give a GeoTIFF DEM (or any raster GDAL reads)."
        ) from err


def _check_grid(src, dem_path: Path) -> tuple[bool, bool]:
    """Refuse a DEM without a CRS or with a rotated grid; return whether rows / columns are flipped
    (south-up, east-to-west) relative to north-up."""
    if src.crs is None:
        raise RasterError(
            f"{dem_path} has no coordinate reference system; set one "
            "(e.g. gdal_edit.py -a_srs EPSG:32619 dem.tif) and retry."
        )
    transform = src.transform
    if transform.b != 0 or transform.d != 0:
        raise RasterError(
            f"{dem_path} has a rotated or sheared geotransform; warp it to a north-up grid "
            f"first (gdalwarp {dem_path.name} north_up.tif)."
        )
    # South-up (positive y pixel size) or east-to-west grids: computed on the north-up view
    # and written back in the file's own row/column order (same grid as the DEM).
    flip_rows, flip_cols = transform.e > 0, transform.a < 0
    if flip_rows or flip_cols:
        logger.warning(
            "%s is stored %s; terrain is computed on its north-up view and written on its own grid",
            dem_path.name,
            "south-up (positive y pixel size)" if flip_rows else "east-to-west",
        )
    return flip_rows, flip_cols


def _profile(src) -> dict:
    """Output profile: the DEM's grid, float32 with NaN nodata, 256 x 256 tiles, deflate."""
    return {
        "driver": "GTiff",
        "dtype": "float32",
        "count": len(TERRAIN_BAND_NAMES),
        "height": src.height,
        "width": src.width,
        "crs": src.crs,
        "transform": src.transform,
        "nodata": float("nan"),
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "predictor": 3,
        "BIGTIFF": "IF_SAFER",
    }


def _describe(dst, dem_path: Path) -> None:
    """Band descriptions, units and the dataset tags that explain curvature and aspect."""
    for i, (name, unit) in enumerate(zip(TERRAIN_BAND_NAMES, TERRAIN_BAND_UNITS), 1):
        dst.set_band_description(i, name)
        dst.update_tags(i, units=unit)
    dst.update_tags(
        SOURCE_DEM=dem_path.name,
        CURVATURE="richdem/ArcGIS curvature: -100 * Laplacian(z), z and x,y in m; positive convex, negative concave",
        ASPECT=f"degrees clockwise from north that the slope faces; {FLAT_ASPECT_DEG:g} on flat cells",
    )


def _write_strip(src, dst, band_index, z_factor, lx, ly, flips, r0: int, r1: int, dem_path: Path) -> None:
    """Rows ``r0:r1`` of the terrain, computed from the DEM rows with a one-row halo."""
    from rasterio.errors import RasterioError
    from rasterio.windows import Window

    width, height = src.width, src.height
    h0, h1 = max(r0 - 1, 0), min(r1 + 1, height)
    win = Window(0, h0, width, h1 - h0)
    try:
        data = src.read(band_index, window=win, masked=True)
    except RasterioError as err:
        detail = str(err).replace(" See previous exception for details.", "").rstrip(".")
        if err.__cause__ is not None and str(err.__cause__) not in detail:
            detail += f": {err.__cause__}"
        raise RasterError(
            f"{dem_path} is corrupt or truncated (reading rows {h0}-{h1} "
            f"failed: {detail}); download or export it again."
        ) from err
    z = np.ma.filled(data.astype(np.float64), np.nan) * z_factor
    flip_rows, flip_cols = flips
    rows = slice(None, None, -1 if flip_rows else 1)
    cols = slice(None, None, -1 if flip_cols else 1)
    stack = terrain_stack(z[rows, cols], lx[h0:h1][rows], ly[h0:h1][rows])[:, rows, cols]
    dst.write(stack[:, r0 - h0 : r1 - h0], window=Window(0, r0, width, r1 - r0))
