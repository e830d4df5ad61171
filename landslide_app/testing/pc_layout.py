"""Where the emulated Planetary Computer archive lies and how it writes its rasters: the blob
accounts and containers, the scene's moved position (straddling UTM 19N/20N), the slices' extent,
and the COG writer, lon/lat footprints and bounding boxes shared by
:mod:`~landslide_app.testing.pc_archive` and :mod:`~landslide_app.testing.pc_catalogs`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

S1_ACCOUNT, S1_CONTAINER = "sentinel1euwestrtc", "sentinel1-grd-rtc"
DEM_ACCOUNT, DEM_CONTAINER = "nasademeuwest", "nasadem-cog"
BLOB_DOMAIN = ".blob.core.windows.net"
#: Where the scene is moved (EPSG:32619 top-left corner): it then straddles 66 deg W (UTM 19N/20N).
ARCHIVE_X0, ARCHIVE_Y0 = 812000.0, 2020000.0
SCENE_X0, SCENE_Y0 = 680000.0, 2050000.0
#: Fraction of the scene width covered by the western / eastern slice of a pass (they overlap).
WEST_FRACTION, EAST_START = 0.6, 0.4
ARCSEC = 1.0 / 3600.0
SAR_NODATA = -32768.0


def blob_href(account: str, container: str, path: str) -> str:
    return f"http://{account}{BLOB_DOMAIN}/{container}/{path}"


def write_cog(path: Path, arr: np.ndarray, crs: str, transform: Any, nodata: float | None) -> None:
    import rasterio

    path.parent.mkdir(parents=True, exist_ok=True)
    profile = {
        "driver": "COG",
        "width": arr.shape[1],
        "height": arr.shape[0],
        "count": 1,
        "dtype": arr.dtype.name,
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "compress": "deflate",
        "blocksize": 256,
        "overviews": "none",
    }
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(arr, 1)


def footprint(crs_from: int, xmin: float, ymin: float, xmax: float, ymax: float, n: int = 9) -> dict:
    from pyproj import Transformer

    tr = Transformer.from_crs(crs_from, 4326, always_xy=True)
    t = np.linspace(0.0, 1.0, n)
    xs = np.concatenate([xmin + t * (xmax - xmin), np.full(n, xmax), xmax - t * (xmax - xmin), np.full(n, xmin)])
    ys = np.concatenate([np.full(n, ymin), ymin + t * (ymax - ymin), np.full(n, ymax), ymax - t * (ymax - ymin)])
    lon, lat = tr.transform(xs, ys)
    ring = [[float(a), float(b)] for a, b in zip(lon, lat)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def bbox_of(geom: dict) -> list[float]:
    ring = np.array(geom["coordinates"][0])
    return [float(ring[:, 0].min()), float(ring[:, 1].min()), float(ring[:, 0].max()), float(ring[:, 1].max())]
