"""Load DEM and SAR windows of a :class:`~landslide_app.chips.grid.ChipGrid` with stackstac.

One lazy stackstac array per source (DEM with a one-pixel halo for terrain derivatives; SAR per
acquisition day, mosaicked over the day's slices), chunked one chip per chunk, read chip by chip
with bounded retries. Local files, HTTP servers and Planetary Computer URLs all go through GDAL.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import stackstac
import xarray as xr
from rasterio.enums import Resampling

from landslide_app.chips.grid import ChipGrid
from landslide_app.errors import RasterError, SourceError
from landslide_app.sources.retry import RetryPolicy, call_with_retry
from landslide_app.sources.stac import SceneSource

log = logging.getLogger(__name__)

#: GDAL options for remote reads: GDAL's own HTTP retries below ours, no directory listings.
GDAL_ENV = stackstac.DEFAULT_GDAL_ENV.updated(
    always={
        "GDAL_HTTP_MAX_RETRY": "3",
        "GDAL_HTTP_RETRY_DELAY": "0.2",
        "GDAL_HTTP_TIMEOUT": "30",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".tif,.tiff,.TIF",
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
    }
)
SAR_NODATA = -32768.0
DEM_HALO = 1


class GridReader:
    """Reads per-chip DEM (with halo) and SAR stacks of ``source`` on ``grid``."""

    def __init__(self, source: SceneSource, grid: ChipGrid, retry: RetryPolicy | None = None) -> None:
        self.source = source
        self.grid = grid
        self.retry = retry or RetryPolicy()
        self._lock = threading.Lock()
        self._build()

    # ---- lazy arrays --------------------------------------------------------------------
    def _stack(self, items: list[dict], assets: list[str], bounds, resampling: Resampling) -> xr.DataArray:
        return stackstac.stack(
            items, assets=assets, epsg=self.grid.epsg, resolution=self.grid.resolution,
            bounds=bounds, snap_bounds=False, chunksize=(1, 1, self.grid.chip_size, -1),  # one chip row a chunk
            dtype=np.dtype("float32"), fill_value=np.float32(np.nan), rescale=False,
            resampling=resampling, xy_coords="center", properties=False, band_coords=False,
            gdal_env=GDAL_ENV, errors_as_nodata=(),
        )

    def _build(self) -> None:
        g, h = self.grid, DEM_HALO * self.grid.resolution
        left, bottom, right, top = g.bounds
        try:
            dem = self._stack(self.source.dem_items, [self.source.dem_asset],
                              (left - h, bottom - h, right + h, top + h), Resampling.bilinear)
            self._dem = stackstac.mosaic(dem, dim="time").isel(band=0)
            self._sar = []
            for _day, items in self.source.sar_days:
                arr = self._stack(items, ["vv", "vh"], g.bounds, Resampling.bilinear)
                self._sar.append(stackstac.mosaic(arr, dim="time"))
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise SourceError(f"cannot set up reading {self.source.description}: {exc}") from exc
        expect = (g.height + 2 * DEM_HALO, g.width + 2 * DEM_HALO)
        if self._dem.shape != expect:
            raise RasterError(f"DEM window shape {self._dem.shape} != expected {expect}")

    def _resign(self) -> None:
        if self.source.resign is None:
            return
        with self._lock:
            for _, items in self.source.sar_days:
                self.source.resign(items)
            self.source.resign(self.source.dem_items)
            self._build()

    # ---- reads --------------------------------------------------------------------------
    def read_dem_row(self, row: int) -> np.ndarray:
        """Elevation of chip row ``row`` with a ``DEM_HALO``-pixel halo: ``(S + 2h, W + 2h)``, NaN = nodata."""
        s, h = self.grid.chip_size, DEM_HALO
        ys = slice(row * s, (row + 1) * s + 2 * h)  # the DEM array starts h pixels above the grid
        return call_with_retry(
            lambda: np.asarray(self._dem[ys, :].compute(scheduler="threads"), dtype=np.float32),
            self.retry, f"DEM of chip row {row}", on_expired=self._resign,
        )

    def read_sar_row(self, row: int) -> np.ndarray:
        """SAR of chip row ``row``: float32 ``(n_days, 2, S, W)`` (VV, VH), gamma0 linear, NaN = nodata."""
        s = self.grid.chip_size
        if not self._sar:
            return np.empty((0, 2, s, self.grid.width), np.float32)
        ys = slice(row * s, (row + 1) * s)

        def load() -> np.ndarray:
            import dask

            vals = dask.compute(*[a[:, ys, :] for a in self._sar], scheduler="threads")
            return np.stack([np.asarray(v, np.float32) for v in vals])

        out = call_with_retry(load, self.retry, f"SAR of chip row {row}", on_expired=self._resign)
        out[out == SAR_NODATA] = np.nan
        out[out <= 0] = np.nan  # gamma0 power is positive; <= 0 only from nodata fill/resampling
        return out
