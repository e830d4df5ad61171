"""Load DEM and SAR windows of a :class:`~landslide_app.core.grid.ChipGrid` with stackstac.

One lazy stackstac array per source (DEM with a one-pixel halo for terrain derivatives; SAR per
acquisition day, mosaicked over the day's slices), chunked one chip row per chunk, read row by
row. Local files, HTTP servers and Planetary Computer URLs all go through GDAL.

Remote reads are retried: GDAL's own HTTP retries first (:data:`GDAL_ENV`), then bounded retries
with backoff here (:class:`~landslide_app.sources.retry.RetryPolicy`), dropping GDAL's cache of
the failure before each retry (GDAL remembers a failed open and would fail again without asking
the server). When they are exhausted a :class:`~landslide_app.errors.SourceError` says so.
Local files are not retried: a missing, truncated or corrupt file is a
:class:`~landslide_app.errors.RasterError` naming the file.
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import threading
from collections.abc import Callable
from typing import TypeVar

import numpy as np
import stackstac
import xarray as xr
from rasterio.enums import Resampling

from landslide_app.core.grid import ChipGrid
from landslide_app.errors import RasterError, SourceError
from landslide_app.sources.retry import RetryPolicy, call_with_retry, is_transient, redact
from landslide_app.sources.stac import SceneSource

log = logging.getLogger(__name__)
T = TypeVar("T")
_REMOTE = ("http://", "https://", "/vsicurl", "s3://", "gs://", "az://", "/vsis3", "/vsigs", "/vsiaz")
#: Remote errors that a retry cannot cure (HTTP 4xx but 429). Over HTTP everything else is
#: retried (bounded): a fault while GDAL reads a header makes a file look "not a raster", one
#: while it reads a tile gives "Read failed".
_REMOTE_PERMANENT = re.compile(r"(HTTP response code|HTTP Error|HTTP error code):? 4(?!29)\d\d", re.IGNORECASE)
_FILE_IN_MESSAGE = re.compile(r"'([^']+\.tiff?)'|([^\s'\",:()]+\.tiff?)\b", re.IGNORECASE)


def _describe(exc: BaseException) -> tuple[str, str]:
    """``(" (file)", detail)`` of a read error: the raster named anywhere in the exception chain
    (GDAL/rasterio wrap the root cause) and the message plus its most specific cause."""
    chain: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in chain and len(chain) < 10:
        chain.append(cur)
        cur = cur.__cause__ or cur.__context__
    name = ""
    for e in chain:
        m = _FILE_IN_MESSAGE.search(str(e))
        if m:
            name = f" ({m.group(1) or m.group(2)})"
            break
    detail = str(exc).replace(" See previous exception for details.", "").rstrip(".")
    root = str(chain[-1]).rstrip(".")
    if len(chain) > 1 and root and root not in detail:
        detail = f"{detail} ({root})"
    return name, detail


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

    def __init__(
        self, source: SceneSource, grid: ChipGrid, retry: RetryPolicy | None = None, direct: bool = True
    ) -> None:
        self.source = source
        self.grid = grid
        self.retry = retry or RetryPolicy()
        self._lock = threading.Lock()
        hrefs = [a.get("href", "") for _, items in source.sar_days for i in items for a in i.get("assets", {}).values()]
        hrefs += [a.get("href", "") for i in source.dem_items for a in i.get("assets", {}).values()]
        self.remote = any(str(h).startswith(_REMOTE) for h in hrefs)
        self._hrefs = [str(h) for h in hrefs]
        self._build()
        # local rasters already on the chip grid: plain windowed reads, same values, no warping
        from landslide_app.sources.direct import DirectReader

        self._direct = None if self.remote or not direct else DirectReader.maybe(source, grid)

    # ---- lazy arrays --------------------------------------------------------------------
    def _stack(self, items: list[dict], assets: list[str], bounds, resampling: Resampling) -> xr.DataArray:
        return stackstac.stack(
            items,
            assets=assets,
            epsg=self.grid.epsg,
            resolution=self.grid.resolution,
            bounds=bounds,
            snap_bounds=False,
            chunksize=(1, 1, self.grid.chip_size, -1),  # one chip row a chunk
            dtype=np.dtype("float32"),
            fill_value=np.float32(np.nan),
            rescale=False,
            resampling=resampling,
            xy_coords="center",
            properties=False,
            band_coords=False,
            gdal_env=GDAL_ENV,
            errors_as_nodata=(),
        )

    def _build(self) -> None:
        g, h = self.grid, DEM_HALO * self.grid.resolution
        left, bottom, right, top = g.bounds
        try:
            dem = self._stack(
                self.source.dem_items,
                [self.source.dem_asset],
                (left - h, bottom - h, right + h, top + h),
                Resampling.bilinear,
            )
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
        with self._lock:  # one call: one fresh token per storage container (the dicts change in place)
            self.source.resign([i for _, items in self.source.sar_days for i in items] + self.source.dem_items)
            self._build()

    # ---- reads --------------------------------------------------------------------------
    def _read(self, fn: Callable[[], T], what: str) -> T:
        """``fn()`` with retries for remote sources; failures become typed errors."""
        try:
            if not self.remote:
                return fn()
            try:
                return call_with_retry(
                    fn, self.retry, what, on_expired=self._resign, on_retry=_forget_failure, transient=_remote_transient
                )
            except SourceError as exc:
                if _REFUSED.search(str(exc)):
                    raise SourceError(
                        f"{exc} The storage refused access (HTTP 403) although the assets were re-signed: "
                        "check the subscription key (PC_SDK_SUBSCRIPTION_KEY) and this machine's clock."
                    ) from exc
                raise SourceError(f"{exc}{_diagnose(str(exc))}") from exc
        except (SourceError, RasterError):
            raise
        except Exception as exc:  # noqa: BLE001 - GDAL/rasterio/dask raise many kinds
            name, detail = _describe(exc)
            full = [h for h in self._hrefs if name and "/" not in name and h.endswith("/" + name[2:-1])]
            if len(full) == 1:  # GDAL named the file only by its base name
                name = f" ({full[0]})"
            if self.remote:
                raise SourceError(
                    f"cannot read {what} from {self.source.description}{redact(name)}: {redact(detail)}. The server "
                    "answered but the file is missing or unreadable there; check the catalog's "
                    "asset URLs."
                ) from exc
            raise RasterError(
                f"cannot read {what}{name}: {detail}. A raster of the source is missing, truncated "
                "or corrupt; check or replace that file (re-download / re-export it), then rerun "
                "the same command."
            ) from exc

    def read_dem_row(self, row: int) -> np.ndarray:
        """Elevation of chip row ``row`` with a ``DEM_HALO``-pixel halo: ``(S + 2h, W + 2h)``, NaN = nodata."""
        s, h = self.grid.chip_size, DEM_HALO
        ys = slice(row * s, (row + 1) * s + 2 * h)  # the DEM array starts h pixels above the grid
        direct = self._direct
        if direct is not None:
            return self._read(lambda: direct.read_dem_row(row, h), f"the DEM of chip row {row}")
        return self._read(
            lambda: np.asarray(self._dem[ys, :].compute(scheduler="threads"), dtype=np.float32),
            f"the DEM of chip row {row}",
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

        direct = self._direct
        if direct is not None:
            load = lambda: direct.read_sar_row(row)  # noqa: E731
        out = self._read(load, f"the SAR of chip row {row}")
        out[out == SAR_NODATA] = np.nan
        out[out <= 0] = np.nan  # gamma0 power is positive; <= 0 only from nodata fill/resampling
        return out


_REFUSED = re.compile(r"last error: .*HTTP response code: 403", re.DOTALL)
_URL_IN_MESSAGE = re.compile(r"'(?:/vsicurl/)?(https?://[^'\s]+)'")


def _forget_failure(exc: BaseException) -> None:
    """Before a retry: drop GDAL's cache of the failed URL (all of it when none is named)."""
    m = _URL_IN_MESSAGE.search(str(exc))
    clear_gdal_http_cache(f"/vsicurl/{m.group(1)}" if m else None)


def _diagnose(message: str) -> str:
    """A sentence about the server of the first URL in ``message`` when it refuses connections."""
    import socket
    from urllib.parse import urlsplit

    m = _URL_IN_MESSAGE.search(message) or re.search(r"(https?://[^'\s)]+)", message)
    if not m:
        return ""
    u = urlsplit(m.group(1))
    host, port = u.hostname, u.port or (443 if u.scheme == "https" else 80)
    if not host:
        return ""
    if _proxy_for(u.scheme, host):  # the proxy, not this host, is what we connect to
        return ""
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as exc:
        return f" The server {host}:{port} does not accept connections now ({exc.strerror or exc})."
    return ""


def _proxy_for(scheme: str, host: str) -> bool:
    """True when HTTP requests to ``host`` go through a proxy (GDAL's or the environment's)."""
    import urllib.request

    if os.environ.get("GDAL_HTTP_PROXY"):
        return not urllib.request.proxy_bypass_environment(host)  # type: ignore[attr-defined]  # not in typeshed
    proxied = bool(urllib.request.getproxies_environment().get(scheme))
    return proxied and not urllib.request.proxy_bypass_environment(host)  # type: ignore[attr-defined]


def _remote_transient(exc: BaseException) -> bool:
    return is_transient(exc) or not _REMOTE_PERMANENT.search(str(exc))


def _loaded_gdals() -> list[ctypes.CDLL]:
    """Every GDAL library loaded in this process (rasterio and pyogrio wheels bundle their own)."""
    libs: list[ctypes.CDLL] = []
    try:
        with open("/proc/self/maps") as fh:
            paths = {line.split()[-1] for line in fh if "libgdal" in os.path.basename(line.split()[-1])}
    except (OSError, IndexError):  # not Linux: nothing found, nothing cleared
        return libs
    for path in sorted(paths):
        if path not in _GDAL_LIBS:
            try:
                lib = ctypes.CDLL(path)
                _GDAL_LIBS[path] = lib if hasattr(lib, "VSICurlClearCache") else None
            except OSError:
                _GDAL_LIBS[path] = None
        lib_or_none = _GDAL_LIBS[path]
        if lib_or_none is not None:
            libs.append(lib_or_none)
    return libs


_GDAL_LIBS: dict[str, ctypes.CDLL | None] = {}


def clear_gdal_http_cache(prefix: str | None = None) -> bool:
    """Drop GDAL's /vsicurl/ cache (file properties, failed opens, cached ranges) of the files
    starting with ``prefix`` (e.g. ``/vsicurl/https://host/file.tif``), or all. Best effort."""
    libs = _loaded_gdals()
    for lib in libs:
        if prefix:
            lib.VSICurlPartialClearCache(prefix.encode())
        else:
            lib.VSICurlClearCache()
    return bool(libs)
