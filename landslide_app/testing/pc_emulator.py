"""An offline Microsoft Planetary Computer on loopback, for running the real data path whole.

Two parts:

* :func:`build_archive` turns a generated demo scene into an archive shaped like Planetary
  Computer's: ``sentinel-1-rtc`` items (two overlapping slices per pass, the western one in
  EPSG:32619, the eastern one reprojected into EPSG:32620, as real RTC products are cut and
  projected per UTM zone; relative orbits 135 ascending and 98 descending; S1A and S1B; more dates
  than paper Table 1; ``proj:epsg``/``proj:transform``/``proj:shape``, ``sat:relative_orbit``,
  ``sat:orbit_state``, ``sar:polarizations``; assets ``vv``/``vh`` as float32 COGs with nodata
  -32768) and ``nasadem`` items (asset ``elevation``, int16 COGs in EPSG:4326 at 1 arc-second,
  tiles split on whole degrees). The scene is moved east so that it straddles the UTM 19N/20N
  boundary (66 deg W), as Puerto Rico does. Asset hrefs keep blob-storage host names
  (``http://<account>.blob.core.windows.net/<container>/...``). The same rasters are also
  described by a local STAC catalog (``local/catalog.json``), for comparisons.
* :class:`PlanetaryComputerEmulator` serves it on ``127.0.0.1``: a STAC API (landing page with the
  item-search conformance classes and ``search`` links; ``GET``/``POST /search`` with
  ``collections``, ``bbox``, ``datetime``, ``query``, ``limit``; paging through ``next`` links,
  ``page_size`` items a page), the SAS token endpoint the ``planetary_computer`` SDK asks
  (``GET {PC_SDK_SAS_URL}/{account}/{container}`` -> ``{"msft:expiry": ..., "token": ...}``) and an
  HTTP proxy for the blob hosts (``HTTP_PROXY`` / ``GDAL_HTTP_PROXY``) that serves the COGs with
  range requests (:mod:`landslide_app.testing.range_server`) and checks the token: missing,
  forged or expired -> 403 ``AuthenticationFailed`` like Azure.

Faults on demand: ``faults`` (e.g. :class:`BurstFaults`: 429/503 bursts on ``/search`` and on the
COG reads), ``revoke_first_token_after`` (the first token stops working after that many reads: a
token expiring mid-build, the reader must re-sign) and ``refuse_tokens`` (the token endpoint
answers 403). Not emulated: TLS (the hrefs use ``http://``), DNS, Azure's real throttling limits,
CQL2 filters, the real products' geometry (layover, incidence) and sizes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import numpy as np

from landslide_app.testing.range_server import Fault, RangeServer, _make_handler

log = logging.getLogger(__name__)

S1_ACCOUNT, S1_CONTAINER = "sentinel1euwestrtc", "sentinel1-grd-rtc"
DEM_ACCOUNT, DEM_CONTAINER = "nasademeuwest", "nasadem-cog"
BLOB_DOMAIN = ".blob.core.windows.net"
API_PREFIX = "/api/stac/v1"
SAS_PREFIX = "/api/sas/v1/token"
#: Where the scene is moved (EPSG:32619 top-left corner): it then straddles 66 deg W (UTM 19N/20N).
ARCHIVE_X0, ARCHIVE_Y0 = 812000.0, 2020000.0
SCENE_X0, SCENE_Y0 = 680000.0, 2050000.0
#: Fraction of the scene width covered by the western / eastern slice of a pass (they overlap).
WEST_FRACTION, EAST_START = 0.6, 0.4
ARCSEC = 1.0 / 3600.0
SAR_NODATA = -32768.0
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]


# ---- the archive ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pass:
    """One emulated Sentinel-1 pass: orbit, day, platform, which slices exist, which scene date it shows."""

    orbit: int
    state: str
    when: datetime
    platform: str
    scene_index: int  # which of the scene's six acquisitions provides the values
    slices: tuple[str, ...] = ("west", "east")


def archive_passes() -> list[Pass]:
    """The emulated passes: orbit 135 ascending as paper Table 1 (plus one earlier and one later
    pass), orbit 98 descending every 12 days whose first post-event pass (2017-09-21) has only
    its western slice (so it leaves the eastern part of an area uncovered)."""
    from landslide_app.config import S1_DATES, S1_PLATFORMS

    out = [Pass(135, "ascending", S1_DATES[0] - timedelta(days=12), "SENTINEL-1A", 0)]
    out += [Pass(135, "ascending", d, p.upper(), k) for k, (d, p) in enumerate(zip(S1_DATES, S1_PLATFORMS))]
    out.append(Pass(135, "ascending", S1_DATES[-1] + timedelta(days=12), "SENTINEL-1A", 5))
    first = datetime(2017, 8, 16, 10, 12, 31, tzinfo=timezone.utc)
    for k in range(6):
        when = first + timedelta(days=12 * k)
        post = when.date() > date(2017, 9, 20)
        out.append(
            Pass(
                98,
                "descending",
                when,
                "SENTINEL-1A",
                3 if post else 2,
                ("west",) if when.date() == date(2017, 9, 21) else ("west", "east"),
            )
        )
    return out


@dataclass
class Archive:
    """An emulated archive on disk (see :func:`build_archive`)."""

    root: Path
    items: dict[str, list[dict]]
    local_catalog: Path
    inventory: Path
    truth_dem: Path
    bbox: tuple[float, float, float, float]

    @property
    def blob_root(self) -> Path:
        return self.root / "blobs"


def _blob_href(account: str, container: str, path: str) -> str:
    return f"http://{account}{BLOB_DOMAIN}/{container}/{path}"


def _write_cog(path: Path, arr: np.ndarray, crs: str, transform: Any, nodata: float | None) -> None:
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


def _footprint(crs_from: int, xmin: float, ymin: float, xmax: float, ymax: float, n: int = 9) -> dict:
    from pyproj import Transformer

    tr = Transformer.from_crs(crs_from, 4326, always_xy=True)
    t = np.linspace(0.0, 1.0, n)
    xs = np.concatenate([xmin + t * (xmax - xmin), np.full(n, xmax), xmax - t * (xmax - xmin), np.full(n, xmin)])
    ys = np.concatenate([np.full(n, ymin), ymin + t * (ymax - ymin), np.full(n, ymax), ymax - t * (ymax - ymin)])
    lon, lat = tr.transform(xs, ys)
    ring = [[float(a), float(b)] for a, b in zip(lon, lat)]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [ring]}


def _bbox_of(geom: dict) -> list[float]:
    ring = np.array(geom["coordinates"][0])
    return [float(ring[:, 0].min()), float(ring[:, 1].min()), float(ring[:, 0].max()), float(ring[:, 1].max())]


def _sar_slices(truth: np.ndarray, which: str) -> tuple[np.ndarray, int, Any, dict]:
    """One slice of a truth band: (array, epsg, transform, lon/lat footprint of its valid data)."""
    from affine import Affine
    from pyproj import Transformer
    from rasterio.warp import Resampling, reproject

    h, w = truth.shape
    t_truth = Affine(10.0, 0.0, ARCHIVE_X0, 0.0, -10.0, ARCHIVE_Y0)
    if which == "west":
        c1 = int(round(w * WEST_FRACTION))
        arr = truth[:, :c1].copy()
        geom = _footprint(32619, ARCHIVE_X0, ARCHIVE_Y0 - 10 * h, ARCHIVE_X0 + 10 * c1, ARCHIVE_Y0)
        return arr, 32619, t_truth, geom
    c0 = int(round(w * EAST_START))
    src = truth[:, c0:]
    t_src = Affine(10.0, 0.0, ARCHIVE_X0 + 10 * c0, 0.0, -10.0, ARCHIVE_Y0)
    xmin, ymin, xmax, ymax = ARCHIVE_X0 + 10 * c0, ARCHIVE_Y0 - 10 * h, ARCHIVE_X0 + 10 * w, ARCHIVE_Y0
    tr = Transformer.from_crs(32619, 32620, always_xy=True)
    bx0, by0, bx1, by1 = tr.transform_bounds(xmin, ymin, xmax, ymax, densify_pts=21)
    bx0, by0 = np.floor(bx0 / 10) * 10, np.floor(by0 / 10) * 10  # on the zone's 10 m lattice
    bx1, by1 = np.ceil(bx1 / 10) * 10, np.ceil(by1 / 10) * 10
    dst_t = Affine(10.0, 0.0, bx0, 0.0, -10.0, by1)
    dst = np.full((int((by1 - by0) / 10), int((bx1 - bx0) / 10)), SAR_NODATA, np.float32)
    reproject(
        src,
        dst,
        src_transform=t_src,
        src_crs="EPSG:32619",
        dst_transform=dst_t,
        dst_crs="EPSG:32620",
        src_nodata=SAR_NODATA,
        dst_nodata=SAR_NODATA,
        resampling=Resampling.bilinear,
    )
    return dst, 32620, dst_t, _footprint(32619, xmin, ymin, xmax, ymax)


def _s1_item(
    p: Pass, which: str, k: int, paths: dict[str, str], arr: np.ndarray, epsg: int, transform: Any, geom: dict
) -> dict:
    start = p.when + timedelta(seconds=25 * k)
    end = start + timedelta(seconds=25)
    code = p.platform[-2:].replace("-", "")  # "1A"
    item_id = f"S{code}_IW_GRDH_1SDV_{start:%Y%m%dT%H%M%S}_{end:%Y%m%dT%H%M%S}_{p.orbit:03d}{k}_rtc"
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "collection": "sentinel-1-rtc",
        "stac_extensions": [
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
            "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
        ],
        "geometry": geom,
        "bbox": _bbox_of(geom),
        "properties": {
            "datetime": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "start_datetime": start.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "end_datetime": end.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "platform": p.platform,
            "constellation": "Sentinel-1",
            "instruments": ["c-sar"],
            "sat:relative_orbit": p.orbit,
            "sat:orbit_state": p.state,
            "sat:platform_international_designator": "2014-016A" if p.platform.endswith("A") else "2016-025A",
            "sar:polarizations": ["VV", "VH"],
            "sar:instrument_mode": "IW",
            "sar:product_type": "GRD",
            "sar:frequency_band": "C",
            "s1:processing_level": "1",
            "slice": which,
            "proj:epsg": epsg,
            "proj:shape": list(arr.shape),
            "proj:transform": list(transform)[:6],
        },
        "assets": {
            pol: {
                "href": paths[pol],
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "title": f"{pol.upper()}: RTC gamma0 (linear power)",
                "raster:bands": [{"nodata": SAR_NODATA, "data_type": "float32", "spatial_resolution": 10}],
            }
            for pol in ("vv", "vh")
        },
        "links": [],
    }


def _dem_items(truth_dem: np.ndarray, blob_root: Path) -> list[dict]:
    """NASADEM-like tiles (int16, EPSG:4326, 1 arc-second, split on whole degrees) over the scene."""
    from affine import Affine
    from rasterio.warp import Resampling, reproject, transform_bounds

    h, w = truth_dem.shape
    t_truth = Affine(10.0, 0.0, ARCHIVE_X0, 0.0, -10.0, ARCHIVE_Y0)
    west, south, east, north = transform_bounds(
        "EPSG:32619", "EPSG:4326", ARCHIVE_X0, ARCHIVE_Y0 - 10 * h, ARCHIVE_X0 + 10 * w, ARCHIVE_Y0, densify_pts=21
    )
    margin = 30  # arc-seconds around the scene
    c0, c1 = int(np.floor(west * 3600)) - margin, int(np.ceil(east * 3600)) + margin
    r0, r1 = int(np.floor(south * 3600)) - margin, int(np.ceil(north * 3600)) + margin
    items = []
    for lo_deg in range(int(np.floor(west)), int(np.floor(east)) + 1):
        a, b = max(c0, lo_deg * 3600), min(c1, (lo_deg + 1) * 3600)
        if a >= b:
            continue
        tile_t = Affine(ARCSEC, 0.0, a * ARCSEC, 0.0, -ARCSEC, r1 * ARCSEC)
        dst = np.zeros((r1 - r0, b - a), np.float32)
        reproject(
            truth_dem.astype(np.float32),
            dst,
            src_transform=t_truth,
            src_crs="EPSG:32619",
            dst_transform=tile_t,
            dst_crs="EPSG:4326",
            resampling=Resampling.bilinear,
        )
        name = f"NASADEM_HGT_n{int(np.floor(south)):02d}w{-lo_deg:03d}"
        path = blob_root / DEM_ACCOUNT / DEM_CONTAINER / "v001" / f"{name}.tif"
        _write_cog(path, np.round(dst).astype(np.int16), "EPSG:4326", tile_t, None)
        geom = {
            "type": "Polygon",
            "coordinates": [
                [
                    [a * ARCSEC, r0 * ARCSEC],
                    [b * ARCSEC, r0 * ARCSEC],
                    [b * ARCSEC, r1 * ARCSEC],
                    [a * ARCSEC, r1 * ARCSEC],
                    [a * ARCSEC, r0 * ARCSEC],
                ]
            ],
        }
        items.append(
            {
                "type": "Feature",
                "stac_version": "1.0.0",
                "id": name,
                "collection": "nasadem",
                "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
                "geometry": geom,
                "bbox": _bbox_of(geom),
                "properties": {
                    "datetime": "2000-02-20T00:00:00Z",
                    "proj:epsg": 4326,
                    "proj:shape": list(dst.shape),
                    "proj:transform": list(tile_t)[:6],
                },
                "assets": {
                    "elevation": {
                        "href": _blob_href(DEM_ACCOUNT, DEM_CONTAINER, f"v001/{name}.tif"),
                        "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                        "roles": ["data"],
                        "raster:bands": [{"data_type": "int16", "spatial_resolution": 30, "unit": "metre"}],
                    }
                },
                "links": [],
            }
        )
    return items


def build_archive(scene_dir: str | Path, out: str | Path) -> Archive:
    """Write the emulated archive of the generated demo scene ``scene_dir`` under ``out``."""
    import rasterio
    from affine import Affine

    from landslide_app.scene import catalog as scene_stac

    scene_dir, out = Path(scene_dir), Path(out)
    blob_root = out / "blobs"
    with rasterio.open(scene_dir / "dem" / "elevation.tif") as ds:
        truth_dem = ds.read(1)
    truth_path = out / "truth_dem.tif"
    _write_cog(truth_path, truth_dem, "EPSG:32619", Affine(10.0, 0.0, ARCHIVE_X0, 0.0, -10.0, ARCHIVE_Y0), None)
    bands: list[dict[str, np.ndarray]] = []
    for acq in scene_stac.acquisitions():
        bands.append({})
        for pol in ("vv", "vh"):
            with rasterio.open(scene_dir / getattr(acq, pol)) as ds:
                bands[-1][pol] = ds.read(1)
    sar_items: list[dict] = []
    slice_cache: dict[tuple[int, str, str], tuple[np.ndarray, int, Any, dict]] = {}
    for p in archive_passes():
        for k, which in enumerate(("west", "east")):
            if which not in p.slices:
                continue
            paths, last = {}, None
            for pol in ("vv", "vh"):
                key = (p.scene_index, which, pol)
                if key not in slice_cache:
                    slice_cache[key] = _sar_slices(bands[p.scene_index][pol], which)
                arr, epsg, transform, geom = last = slice_cache[key]
                rel = (
                    f"GRD/{p.when:%Y/%-m/%-d}/IW/DV/{p.platform[-2:].replace('-', '')}_{p.when:%Y%m%dT%H%M%S}"
                    f"_{p.orbit:03d}_{which}_rtc/measurement/iw-{pol}.rtc.tiff"
                )
                _write_cog(blob_root / S1_ACCOUNT / S1_CONTAINER / rel, arr, f"EPSG:{epsg}", transform, SAR_NODATA)
                paths[pol] = _blob_href(S1_ACCOUNT, S1_CONTAINER, rel)
            assert last is not None
            sar_items.append(_s1_item(p, which, k, paths, last[0], last[1], last[2], last[3]))
    _write_truth_catalog(out, truth_dem, bands)
    dem_items = _dem_items(truth_dem, blob_root)
    items = {"sentinel-1-rtc": sar_items, "nasadem": dem_items}
    (out / "items.json").write_text(json.dumps(items))
    h, w = truth_dem.shape
    inner = _bbox_of(
        _footprint(32619, ARCHIVE_X0 + 1000, ARCHIVE_Y0 - 10 * h + 1000, ARCHIVE_X0 + 10 * w - 1000, ARCHIVE_Y0 - 1000)
    )
    bbox = (
        round(inner[0] + 0.002, 4),
        round(inner[1] + 0.002, 4),
        round(inner[2] - 0.002, 4),
        round(inner[3] - 0.002, 4),
    )
    return Archive(out, items, _write_local_catalog(out, items), _move_inventory(scene_dir, out), truth_path, bbox)


def _write_truth_catalog(out: Path, truth_dem: np.ndarray, bands: list[dict[str, np.ndarray]]) -> Path:
    """The moved scene itself (EPSG:32619, 10 m, the six Table 1 dates), as a local STAC catalog
    ``out/truth/catalog.json``: what the emulated products were cut from, for tolerance checks."""
    import pystac
    from affine import Affine

    from landslide_app.scene import catalog as scene_stac

    root = out / "truth"
    t = Affine(10.0, 0.0, ARCHIVE_X0, 0.0, -10.0, ARCHIVE_Y0)
    h, w = truth_dem.shape
    geom = _footprint(32619, ARCHIVE_X0, ARCHIVE_Y0 - 10 * h, ARCHIVE_X0 + 10 * w, ARCHIVE_Y0)
    props = {"proj:epsg": 32619, "proj:shape": [h, w], "proj:transform": list(t)[:6]}
    cat = pystac.Catalog("emulated-truth", "the scene the emulated products were cut from")
    ext = pystac.Extent(pystac.SpatialExtent([_bbox_of(geom)]), pystac.TemporalExtent([None, None]))
    s1, dem = pystac.Collection("sentinel-1-rtc", "truth SAR", ext), pystac.Collection("dem", "truth DEM", ext)
    for acq, b in zip(scene_stac.acquisitions(), bands):
        item = pystac.Item(
            acq.item_id,
            geom,
            _bbox_of(geom),
            acq.datetime,
            {**props, "platform": acq.platform, "sat:relative_orbit": 135, "sat:orbit_state": "ascending"},
        )
        for pol in ("vv", "vh"):
            path = root / "sar" / f"{acq.item_id}_{pol}.tif"
            _write_cog(path, b[pol], "EPSG:32619", t, SAR_NODATA)
            item.add_asset(pol, pystac.Asset(str(path), media_type=pystac.MediaType.COG))
        s1.add_item(item)
    item = pystac.Item("dem-elevation", geom, _bbox_of(geom), datetime(2000, 2, 11, tzinfo=timezone.utc), dict(props))
    item.add_asset("elevation", pystac.Asset(str(out / "truth_dem.tif"), media_type=pystac.MediaType.COG))
    dem.add_item(item)
    cat.add_children([s1, dem])
    cat.normalize_and_save(str(root), pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def _local_href(href: str, blob_root: Path) -> str:
    u = urlsplit(href)
    return str(blob_root / u.netloc.split(".")[0] / u.path.lstrip("/"))


def _write_local_catalog(out: Path, items: dict[str, list[dict]]) -> Path:
    """The same items with local file hrefs, as a self-contained STAC catalog (``out/local``)."""
    root = out / "local"
    links = []
    for coll, its in items.items():
        cdir = root / coll
        cdir.mkdir(parents=True, exist_ok=True)
        item_links = []
        for it in its:
            d = json.loads(json.dumps(it))
            for a in d["assets"].values():
                a["href"] = _local_href(a["href"], out / "blobs")
            d["links"] = [{"rel": "root", "href": "../catalog.json"}, {"rel": "parent", "href": "./collection.json"}]
            (cdir / f"{it['id']}.json").write_text(json.dumps(d))
            item_links.append({"rel": "item", "href": f"./{it['id']}.json", "type": "application/geo+json"})
        coll_doc = {
            "type": "Collection",
            "stac_version": "1.0.0",
            "id": coll,
            "description": coll,
            "license": "proprietary",
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}},
            "links": [
                {"rel": "root", "href": "../catalog.json"},
                {"rel": "parent", "href": "../catalog.json"},
                *item_links,
            ],
        }
        (cdir / "collection.json").write_text(json.dumps(coll_doc))
        links.append({"rel": "child", "href": f"./{coll}/collection.json", "type": "application/json"})
    cat = {
        "type": "Catalog",
        "stac_version": "1.0.0",
        "id": "emulated-local",
        "description": "same rasters, local hrefs",
        "links": [{"rel": "root", "href": "./catalog.json"}, *links],
    }
    (root / "catalog.json").write_text(json.dumps(cat))
    return root / "catalog.json"


def _move_inventory(scene_dir: Path, out: Path) -> Path:
    """The scene's landslide heads moved with the scene (lon/lat GeoPackage)."""
    import geopandas as gpd

    inv = gpd.read_file(scene_dir / "inventory.gpkg").to_crs(32619)
    inv = inv.set_geometry(inv.geometry.translate(ARCHIVE_X0 - SCENE_X0, ARCHIVE_Y0 - SCENE_Y0)).to_crs(4326)
    path = out / "inventory.gpkg"
    inv.to_file(path, driver="GPKG")
    return path


# ---- faults -----------------------------------------------------------------------------------
class BurstFaults:
    """Deterministic fault bursts: of every ``every`` matching requests, the first ``length`` fail
    with the statuses in turn (429, 503, ...). ``only``: path suffixes that may fail."""

    def __init__(
        self,
        every: int = 6,
        length: int = 2,
        statuses: Sequence[int] = (429, 503),
        only: tuple[str, ...] = ("/search", ".tif", ".tiff"),
    ) -> None:
        self.every, self.length, self.statuses, self.only = every, length, tuple(statuses), only
        self._n = 0
        self._lock = threading.Lock()
        self.served = 0

    def __call__(self, path: str) -> Fault:
        if not path.split("?", 1)[0].endswith(self.only):
            return None
        with self._lock:
            k, self._n = self._n, self._n + 1
            if k % self.every < self.length:
                self.served += 1
                return ("status", self.statuses[k % len(self.statuses)])
        return None


# ---- the server -------------------------------------------------------------------------------
@dataclass
class EmulatorStats:
    searches: int = 0
    pages: int = 0
    post_searches: int = 0
    get_searches: int = 0
    tokens_issued: int = 0
    tokens_refused: int = 0
    blob_reads: int = 0
    blob_denied: dict[str, int] = field(default_factory=dict)
    hosts: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def deny(self, why: str) -> None:
        with self.lock:
            self.blob_denied[why] = self.blob_denied.get(why, 0) + 1


def _parse_dt(text: str, end: bool) -> datetime | None:
    if text in ("", ".."):
        return None
    if len(text) == 10:
        d = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
        return d + timedelta(days=1) - timedelta(microseconds=1) if end else d
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _matches_query(props: dict, query: dict) -> bool:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b,
        "neq": lambda a, b: a != b,
        "lt": lambda a, b: a is not None and a < b,
        "lte": lambda a, b: a is not None and a <= b,
        "gt": lambda a, b: a is not None and a > b,
        "gte": lambda a, b: a is not None and a >= b,
        "in": lambda a, b: a in b,
    }
    for prop, conds in query.items():
        for op, value in conds.items():
            if op not in ops:
                raise ValueError(f"unsupported query operator {op!r}")
            if not ops[op](props.get(prop), value):
                return False
    return True


class PlanetaryComputerEmulator:
    """Context manager: serve ``archive`` on loopback and point the process at it (see module docstring).

    While active, the process environment holds ``LANDSLIDE_APP_PC_STAC_URL``, ``PC_SDK_SAS_URL``,
    ``HTTP_PROXY``/``http_proxy``, ``GDAL_HTTP_PROXY`` and ``NO_PROXY``/``no_proxy`` (restored on exit),
    and the ``planetary_computer`` SDK's cached settings and tokens are cleared on entry and exit.
    """

    def __init__(
        self,
        archive: Archive,
        page_size: int = 4,
        faults: Callable[[str], Fault] | None = None,
        token_ttl_s: float = 3600.0,
        revoke_first_token_after: int | None = None,
        refuse_tokens: bool = False,
    ) -> None:
        self.archive = archive
        self.page_size = page_size
        self.token_ttl_s = token_ttl_s
        self.revoke_first_token_after = revoke_first_token_after
        self.refuse_tokens = refuse_tokens
        self.stats = EmulatorStats()
        self._secret = secrets.token_bytes(16)
        self._revoked: set[str] = set()
        self._first_sig: str | None = None
        self._first_reads = 0
        self._range = RangeServer(archive.blob_root, faults=faults)
        self._range._server.RequestHandlerClass = self._handler_class(faults)
        self._saved_env: dict[str, str | None] = {}

    # ---- addresses -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self._range.url

    @property
    def stac_url(self) -> str:
        return self.url + API_PREFIX

    @property
    def sas_url(self) -> str:
        return self.url + SAS_PREFIX

    def environ(self) -> dict[str, str]:
        """The environment a process needs to use the emulation instead of the real service."""
        proxy = self.url
        return {
            "LANDSLIDE_APP_PC_STAC_URL": self.stac_url,
            "PC_SDK_SAS_URL": self.sas_url,
            "HTTP_PROXY": proxy,
            "http_proxy": proxy,
            "GDAL_HTTP_PROXY": proxy.split("://", 1)[1],
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    # ---- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> PlanetaryComputerEmulator:
        self._range.__enter__()
        for k, v in self.environ().items():
            self._saved_env[k] = os.environ.get(k)
            os.environ[k] = v
        _reset_sdk()
        return self

    def __exit__(self, *exc: Any) -> None:
        for k, v in self._saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reset_sdk()
        self._range.close()

    # ---- tokens ----------------------------------------------------------------------------
    def _sign(self, account: str, container: str, st: str, se: str) -> str:
        msg = f"{account}/{container}/{st}/{se}".encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()[:32]

    def issue_token(self, account: str, container: str) -> dict[str, str]:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        exp = now + timedelta(seconds=self.token_ttl_s)
        st, se = now.strftime("%Y-%m-%dT%H:%M:%SZ"), exp.strftime("%Y-%m-%dT%H:%M:%SZ")
        sig = self._sign(account, container, st, se)
        with self.stats.lock:
            self.stats.tokens_issued += 1
            if self._first_sig is None:
                self._first_sig = sig
        token = f"st={quote(st)}&se={quote(se)}&sp=rl&sv=2021-06-08&sr=c&skoid=emulated&sig={sig}"
        return {"msft:expiry": se, "token": token}

    def _check_token(self, account: str, container: str, query: str) -> str | None:
        """None when the SAS token in ``query`` is valid for the container, else why not."""
        q = {k: v[0] for k, v in parse_qs(query).items()}
        if not {"st", "se", "sig"} <= set(q):
            return "missing"
        if not hmac.compare_digest(q["sig"], self._sign(account, container, q["st"], q["se"])):
            return "forged"
        if datetime.fromisoformat(q["se"].replace("Z", "+00:00")) <= datetime.now(timezone.utc):
            return "expired"
        with self.stats.lock:
            if q["sig"] in self._revoked:
                return "expired"
            if q["sig"] == self._first_sig and self.revoke_first_token_after is not None:
                self._first_reads += 1
                if self._first_reads > self.revoke_first_token_after:
                    self._revoked.add(q["sig"])
                    return "expired"
        return None

    # ---- search ----------------------------------------------------------------------------
    def search(self, params: dict[str, Any]) -> tuple[list[dict], int]:
        """Items matching ``params`` (STAC item-search body) in API order, and the total."""
        colls = params.get("collections") or list(self.archive.items)
        if isinstance(colls, str):
            colls = colls.split(",")
        bbox = params.get("bbox")
        if isinstance(bbox, str):
            bbox = [float(v) for v in bbox.split(",")]
        dt = params.get("datetime")
        lo = hi = None
        if dt:
            a, _, b = str(dt).partition("/")
            lo, hi = _parse_dt(a, False), (_parse_dt(b, True) if b else _parse_dt(a, True))
            if not b:
                lo = _parse_dt(a, False)
        query = params.get("query") or {}
        if isinstance(query, str):
            query = json.loads(query)
        ids = params.get("ids")
        out = []
        for coll in colls:
            for it in self.archive.items.get(coll, []):
                if ids and it["id"] not in ids:
                    continue
                if bbox:
                    b = it["bbox"]
                    if not (b[0] <= bbox[2] and bbox[0] <= b[2] and b[1] <= bbox[3] and bbox[1] <= b[3]):
                        continue
                when = _parse_dt(it["properties"]["datetime"], False)
                if lo is not None and when is not None and when < lo:
                    continue
                if hi is not None and when is not None and when > hi:
                    continue
                if not _matches_query(it["properties"], query):
                    continue
                out.append(it)
        out.sort(key=lambda i: i["properties"]["datetime"], reverse=True)  # newest first, as Planetary Computer
        return out, len(out)

    def _page(self, params: dict[str, Any], method: str) -> dict:
        items, total = self.search(params)
        limit = min(int(params.get("limit") or self.page_size), self.page_size)
        token = params.get("token") or "next:0"
        offset = int(str(token).split(":", 1)[1])
        page = items[offset : offset + limit]
        base = self.stac_url
        links: list[dict[str, Any]] = [{"rel": "root", "href": base + "/", "type": "application/json"}]
        with self.stats.lock:
            self.stats.pages += 1
            if offset == 0:
                self.stats.searches += 1
                if method == "POST":
                    self.stats.post_searches += 1
                else:
                    self.stats.get_searches += 1
        if offset + limit < total:
            nxt = f"next:{offset + limit}"
            if method == "POST":
                body = {k: v for k, v in params.items() if k != "token"}
                body["token"] = nxt
                links.append(
                    {
                        "rel": "next",
                        "href": base + "/search",
                        "method": "POST",
                        "body": body,
                        "merge": False,
                        "type": "application/geo+json",
                    }
                )
            else:
                q = {
                    k: (json.dumps(v) if isinstance(v, dict) else ",".join(map(str, v)) if isinstance(v, list) else v)
                    for k, v in params.items()
                    if k != "token"
                }
                q["token"] = nxt
                href = base + "/search?" + "&".join(f"{k}={quote(str(v))}" for k, v in q.items())
                links.append({"rel": "next", "href": href, "method": "GET", "type": "application/geo+json"})
        features = [
            dict(i, links=[{"rel": "collection", "href": f"{base}/collections/{i['collection']}"}]) for i in page
        ]
        return {
            "type": "FeatureCollection",
            "features": features,
            "links": links,
            "numberMatched": total,
            "numberReturned": len(page),
        }

    def _landing(self) -> dict:
        base = self.stac_url
        return {
            "type": "Catalog",
            "id": "microsoft-pc-emulated",
            "stac_version": "1.0.0",
            "description": "Offline emulation of the Microsoft Planetary Computer STAC API",
            "conformsTo": CONFORMANCE,
            "links": [
                {"rel": "self", "href": base + "/", "type": "application/json"},
                {"rel": "root", "href": base + "/", "type": "application/json"},
                {"rel": "data", "href": base + "/collections", "type": "application/json"},
                {"rel": "conformance", "href": base + "/conformance", "type": "application/json"},
                {"rel": "search", "href": base + "/search", "type": "application/geo+json", "method": "GET"},
                {"rel": "search", "href": base + "/search", "type": "application/geo+json", "method": "POST"},
                *[
                    {"rel": "child", "href": f"{base}/collections/{c}", "type": "application/json"}
                    for c in self.archive.items
                ],
            ],
        }

    def _collection(self, cid: str) -> dict:
        base = self.stac_url
        return {
            "type": "Collection",
            "id": cid,
            "stac_version": "1.0.0",
            "description": cid,
            "license": "proprietary",
            "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}},
            "links": [
                {"rel": "root", "href": base + "/"},
                {"rel": "self", "href": f"{base}/collections/{cid}"},
                {"rel": "items", "href": f"{base}/collections/{cid}/items"},
            ],
        }

    # ---- HTTP ------------------------------------------------------------------------------
    def _handler_class(self, faults: Callable[[str], Fault] | None) -> type:
        emu = self
        base = _make_handler(self._range.root, faults, self._range.stats, self._range._gone)

        class Handler(base):  # type: ignore[misc, valid-type]
            path: str  # the request target (an absolute URL when proxying)

            def _json(self, code: int, doc: Any, content_type: str = "application/json") -> None:
                body = json.dumps(doc).encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _azure_error(self, code: int, reason: str) -> None:
                body = (
                    '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code>'
                    f"<Message>Server failed to authenticate the request ({reason} signature).</Message></Error>"
                ).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _blob(self, head: bool) -> None:
                u = urlsplit(self.path)
                host = u.hostname or ""
                with emu.stats.lock:
                    emu.stats.hosts.add(host)
                if not host.endswith(BLOB_DOMAIN):
                    self._json(502, {"error": f"the emulation proxies only *{BLOB_DOMAIN}, not {host}"})
                    return
                account = host.split(".")[0]
                container = u.path.lstrip("/").split("/", 1)[0]
                why = emu._check_token(account, container, u.query)
                if why is not None:
                    emu.stats.deny(why)
                    self._azure_error(403, why)
                    return
                with emu.stats.lock:
                    emu.stats.blob_reads += 1
                self.path = f"/{account}{u.path}"
                self._serve(head=head)

            def _api(self, method: str) -> None:
                u = urlsplit(self.path)
                path = u.path.rstrip("/")
                if path.startswith(SAS_PREFIX + "/"):
                    parts = path[len(SAS_PREFIX) + 1 :].split("/")
                    if emu.refuse_tokens:
                        with emu.stats.lock:
                            emu.stats.tokens_refused += 1
                        self._json(403, {"message": "Forbidden: a subscription key is required"})
                        return
                    if len(parts) != 2:
                        self._json(404, {"message": "use /token/{account}/{container}"})
                        return
                    self._json(200, emu.issue_token(*parts))
                    return
                if path == API_PREFIX:
                    self._json(200, emu._landing())
                    return
                if path == API_PREFIX + "/conformance":
                    self._json(200, {"conformsTo": CONFORMANCE})
                    return
                if path == API_PREFIX + "/collections":
                    self._json(200, {"collections": [emu._collection(c) for c in emu.archive.items], "links": []})
                    return
                if path.startswith(API_PREFIX + "/collections/"):
                    cid = path.split("/")[-1]
                    if cid in emu.archive.items:
                        self._json(200, emu._collection(cid))
                    else:
                        self._json(404, {"code": "NotFoundError", "description": f"No collection {cid}"})
                    return
                if path == API_PREFIX + "/search":
                    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)) if method == "POST" else b""
                    if self._fault():  # throttling / outages (the body is read: the connection stays usable)
                        return
                    if method == "POST":
                        params = json.loads(raw or b"{}")
                    else:
                        params = {k: v[0] for k, v in parse_qs(u.query).items()}
                        if "collections" in params:
                            params["collections"] = params["collections"].split(",")
                    try:
                        doc = emu._page(params, method)
                    except (ValueError, KeyError) as exc:
                        self._json(400, {"code": "BadRequest", "description": str(exc)})
                        return
                    self._json(200, doc, "application/geo+json")
                    return
                self._json(404, {"code": "NotFoundError", "description": f"no route {path}"})

            def do_GET(self) -> None:  # noqa: N802
                if self.path.startswith("http://"):
                    self._blob(head=False)
                else:
                    self._api("GET")

            def do_HEAD(self) -> None:  # noqa: N802
                if self.path.startswith("http://"):
                    self._blob(head=True)
                else:
                    self._json(405, {})

            def do_POST(self) -> None:  # noqa: N802
                self._api("POST")

        return Handler


def _reset_sdk() -> None:
    """Forget the ``planetary_computer`` SDK's cached settings (read once from the environment) and tokens."""
    try:
        from planetary_computer import sas, settings
    except ImportError:  # pragma: no cover - the SDK is a dependency
        return
    settings.Settings.get.cache_clear()
    sas.TOKEN_CACHE.clear()


@contextmanager
def emulated_planetary_computer(archive: Archive, **kw: Any) -> Iterator[PlanetaryComputerEmulator]:
    """``with emulated_planetary_computer(archive) as pc:`` -- :class:`PlanetaryComputerEmulator` as a function."""
    emu = PlanetaryComputerEmulator(archive, **kw)
    with emu:
        yield emu


def wait_closed(port: int, timeout_s: float = 2.0) -> bool:
    """True once nothing listens on 127.0.0.1:``port`` (for tests that check they leave nothing behind)."""
    import socket

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        except OSError:
            return True
        time.sleep(0.05)
    return False
