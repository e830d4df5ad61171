"""The emulated Planetary Computer archive (see :mod:`landslide_app.testing.pc_emulator`):
:func:`build_archive` turns a generated demo scene into ``sentinel-1-rtc`` items (two overlapping
slices per pass, west in EPSG:32619, east reprojected into EPSG:32620; orbits 135 ascending and 98
descending) and ``nasadem`` items (int16 COGs in EPSG:4326 at 1 arc-second, split on whole
degrees), with blob-storage hrefs, plus the local catalogs and the moved inventory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.testing.pc_catalogs import move_inventory, write_local_catalog, write_truth_catalog
from landslide_app.testing.pc_layout import (
    ARCHIVE_X0,
    ARCHIVE_Y0,
    ARCSEC,
    DEM_ACCOUNT,
    DEM_CONTAINER,
    EAST_START,
    S1_ACCOUNT,
    S1_CONTAINER,
    SAR_NODATA,
    WEST_FRACTION,
    bbox_of,
    blob_href,
    footprint,
    write_cog,
)


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
        geom = footprint(32619, ARCHIVE_X0, ARCHIVE_Y0 - 10 * h, ARCHIVE_X0 + 10 * c1, ARCHIVE_Y0)
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
    return dst, 32620, dst_t, footprint(32619, xmin, ymin, xmax, ymax)


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
        "bbox": bbox_of(geom),
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
        write_cog(path, np.round(dst).astype(np.int16), "EPSG:4326", tile_t, None)
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
        items.append(_dem_item(name, geom, dst.shape, tile_t))
    return items


def _dem_item(name: str, geom: dict, shape: tuple[int, ...], tile_t: Any) -> dict:
    """The STAC item of one NASADEM-like tile."""
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": name,
        "collection": "nasadem",
        "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
        "geometry": geom,
        "bbox": bbox_of(geom),
        "properties": {
            "datetime": "2000-02-20T00:00:00Z",
            "proj:epsg": 4326,
            "proj:shape": list(shape),
            "proj:transform": list(tile_t)[:6],
        },
        "assets": {
            "elevation": {
                "href": blob_href(DEM_ACCOUNT, DEM_CONTAINER, f"v001/{name}.tif"),
                "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                "roles": ["data"],
                "raster:bands": [{"data_type": "int16", "spatial_resolution": 30, "unit": "metre"}],
            }
        },
        "links": [],
    }


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
    write_cog(truth_path, truth_dem, "EPSG:32619", Affine(10.0, 0.0, ARCHIVE_X0, 0.0, -10.0, ARCHIVE_Y0), None)
    bands: list[dict[str, np.ndarray]] = []
    for acq in scene_stac.acquisitions():
        bands.append({})
        for pol in ("vv", "vh"):
            with rasterio.open(scene_dir / getattr(acq, pol)) as ds:
                bands[-1][pol] = ds.read(1)
    sar_items = _sar_items(bands, blob_root)
    write_truth_catalog(out, truth_dem, bands)
    dem_items = _dem_items(truth_dem, blob_root)
    items = {"sentinel-1-rtc": sar_items, "nasadem": dem_items}
    (out / "items.json").write_text(json.dumps(items))
    h, w = truth_dem.shape
    inner = bbox_of(
        footprint(32619, ARCHIVE_X0 + 1000, ARCHIVE_Y0 - 10 * h + 1000, ARCHIVE_X0 + 10 * w - 1000, ARCHIVE_Y0 - 1000)
    )
    bbox = (
        round(inner[0] + 0.002, 4),
        round(inner[1] + 0.002, 4),
        round(inner[2] - 0.002, 4),
        round(inner[3] - 0.002, 4),
    )
    return Archive(out, items, write_local_catalog(out, items), move_inventory(scene_dir, out), truth_path, bbox)


def _sar_items(bands: list[dict[str, np.ndarray]], blob_root: Path) -> list[dict]:
    """The ``sentinel-1-rtc`` items of every emulated pass and slice, their COGs written under ``blob_root``."""
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
                write_cog(blob_root / S1_ACCOUNT / S1_CONTAINER / rel, arr, f"EPSG:{epsg}", transform, SAR_NODATA)
                paths[pol] = blob_href(S1_ACCOUNT, S1_CONTAINER, rel)
            assert last is not None
            sar_items.append(_s1_item(p, which, k, paths, last[0], last[1], last[2], last[3]))
    return sar_items
