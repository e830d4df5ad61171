"""Cloud-Optimized GeoTIFF writing, one band at a time, block by block.

Rows are written into a temporary tiled GeoTIFF next to the target, which GDAL's COG driver
then copies (DEFLATE, floating-point predictor, 512 px tiles, averaged overviews). Memory stays
at one block of rows plus GDAL's cache, whatever the raster size.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.windows import Window

from landslide_app.scene.grid import SceneGrid

#: Nodata value of the SAR assets (as on Planetary Computer's sentinel-1-rtc).
SAR_NODATA: float = -32768.0

COG_OPTIONS: dict[str, str] = {
    "COMPRESS": "DEFLATE",
    "PREDICTOR": "3",
    "BLOCKSIZE": "512",
    "OVERVIEWS": "AUTO",
    "OVERVIEW_RESAMPLING": "AVERAGE",
    "RESAMPLING": "AVERAGE",
    "BIGTIFF": "IF_SAFER",
    "NUM_THREADS": "ALL_CPUS",
}


def write_cog(
    path: Path,
    grid: SceneGrid,
    blocks: Iterable[tuple[slice, np.ndarray]],
    *,
    nodata: float | None,
    description: str,
) -> None:
    """Write a single-band float32 COG from ``(rows, array)`` blocks covering the grid.

    Args:
        path: Target file; its parent must exist.
        grid: Raster grid.
        blocks: Row blocks in any order; together they must cover every row once.
        nodata: Nodata value written into the file (None: none).
        description: Band description (e.g. ``"VV gamma0 (linear power)"``).
    """
    tmp = path.with_name(f".{path.stem}.staging.tif")
    profile = {
        "driver": "GTiff",
        "width": grid.width,
        "height": grid.height,
        "count": 1,
        "dtype": "float32",
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        "BIGTIFF": "IF_SAFER",
    }
    covered = 0
    try:
        with rasterio.open(tmp, "w", **profile) as dst:
            dst.set_band_description(1, description)
            for rows, arr in blocks:
                r0, r1, _ = rows.indices(grid.height)
                if arr.shape != (r1 - r0, grid.width):
                    raise ValueError(f"block {rows} has shape {arr.shape}, expected {(r1 - r0, grid.width)}")
                dst.write(arr.astype(np.float32, copy=False), 1, window=Window(0, r0, grid.width, r1 - r0))
                covered += r1 - r0
        if covered != grid.height:
            raise ValueError(f"blocks covered {covered} rows of {grid.height}")
        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"):
            rasterio.shutil.copy(tmp, path, driver="COG", **COG_OPTIONS)
    finally:
        if tmp.exists():
            os.remove(tmp)
