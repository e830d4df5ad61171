"""The scene's local STAC catalog (pystac, self-contained, relative hrefs).

Layout under the scene root::

    catalog.json
    stac/sentinel-1-rtc/collection.json
    stac/sentinel-1-rtc/items/<item>.json      (6 items, assets vv, vh)
    stac/dem/collection.json
    stac/dem/items/dem-elevation.json          (asset elevation)

Items carry ``proj:epsg`` (written explicitly, as stackstac reads it) next to ``proj:code``,
``proj:transform``, ``proj:shape``, ``proj:bbox``, ``sat:relative_orbit``, ``sat:orbit_state``,
``platform`` and the acquisition datetimes of paper Table 1, like Planetary Computer's items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pystac

from landslide_app import config
from landslide_app.core.vocabulary import LOCAL_DEM_COLLECTION, SAR_COLLECTION
from landslide_app.scene.cog import SAR_NODATA
from landslide_app.scene.grid import SceneGrid

DEM_ITEM_ID: str = "dem-elevation"
#: Nominal acquisition date of the simulated DEM (like SRTM/NASADEM).
DEM_DATETIME: datetime = datetime(2000, 2, 11, tzinfo=timezone.utc)

PROJ_EXT = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
SAT_EXT = "https://stac-extensions.github.io/sat/v1.0.0/schema.json"
SAR_EXT = "https://stac-extensions.github.io/sar/v1.0.0/schema.json"
RASTER_EXT = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"


@dataclass(frozen=True)
class SarAcquisition:
    """One simulated Sentinel-1 acquisition and its files (paths relative to the scene root)."""

    item_id: str
    datetime: datetime
    platform: str
    vv: str
    vh: str


def platform_code(platform: str) -> str:
    """``"sentinel-1a"`` -> ``"S1A"``."""
    return "S1" + platform.strip()[-1].upper()


def acquisitions() -> list[SarAcquisition]:
    """The six acquisitions of paper Table 1 with their file names under ``sar/``."""
    out = []
    for when, platform in zip(config.S1_DATES, config.S1_PLATFORMS):
        stem = f"{platform_code(platform)}_{when:%Y%m%dT%H%M%S}"
        out.append(SarAcquisition(stem, when, platform, f"sar/{stem}_vv.tif", f"sar/{stem}_vh.tif"))
    return out


def _proj_properties(grid: SceneGrid) -> dict[str, Any]:
    return {
        "proj:epsg": grid.epsg,
        "proj:code": grid.crs,
        "proj:transform": list(grid.transform_tuple),
        "proj:shape": [grid.height, grid.width],
        "proj:bbox": list(grid.bounds),
    }


def _geometry(grid: SceneGrid) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [grid.lonlat_footprint()]}


def _asset(href: str, title: str, nodata: float | None) -> pystac.Asset:
    band: dict[str, Any] = {"data_type": "float32", "spatial_resolution": 10.0}
    if nodata is not None:
        band["nodata"] = nodata
    return pystac.Asset(
        href=href, title=title, media_type=pystac.MediaType.COG, roles=["data"], extra_fields={"raster:bands": [band]}
    )


def build_catalog(root: Path, grid: SceneGrid, dem_href: str, description: str) -> pystac.Catalog:
    """Build the catalog for a scene written under ``root`` (hrefs relative to it)."""
    root = Path(root).resolve()
    bbox = list(grid.lonlat_bbox())
    catalog = pystac.Catalog(id="landslide-demo-scene", description=description, title="Landslide demo scene")
    s1 = _sar_collection(root, grid, bbox)
    dem = _dem_collection(root, grid, bbox, dem_href)
    catalog.add_child(s1)
    catalog.add_child(dem)
    catalog.set_self_href(str(root / "catalog.json"))
    s1.set_self_href(str(root / "stac" / SAR_COLLECTION / "collection.json"))
    dem.set_self_href(str(root / "stac" / LOCAL_DEM_COLLECTION / "collection.json"))
    catalog.make_all_asset_hrefs_relative()
    return catalog


def _sar_collection(root: Path, grid: SceneGrid, bbox: list[float]) -> pystac.Collection:
    """The Sentinel-1 RTC collection: one item per acquisition of paper Table 1, assets vv and vh."""
    acqs = acquisitions()
    s1 = pystac.Collection(
        id=SAR_COLLECTION,
        description="Simulated Sentinel-1 radiometrically terrain-corrected gamma0 (VV, VH; linear power).",
        extent=pystac.Extent(
            pystac.SpatialExtent([bbox]), pystac.TemporalExtent([[acqs[0].datetime, acqs[-1].datetime]])
        ),
        license="CC-BY-4.0",
        title="Sentinel-1 RTC (simulated)",
        summaries=pystac.Summaries(
            {"platform": sorted({a.platform for a in acqs}), "sat:relative_orbit": [config.RELATIVE_ORBIT]}
        ),
    )
    for acq in acqs:
        props = {
            "platform": acq.platform,
            "constellation": "sentinel-1",
            "instruments": ["c-sar"],
            "sat:relative_orbit": config.RELATIVE_ORBIT,
            "sat:orbit_state": config.ORBIT_STATE,
            "sar:instrument_mode": "IW",
            "sar:frequency_band": "C",
            "sar:polarizations": ["VV", "VH"],
            "sar:product_type": "GRD",
            "sar:observation_direction": "right",
            **_proj_properties(grid),
        }
        item = pystac.Item(
            id=acq.item_id,
            geometry=_geometry(grid),
            bbox=bbox,
            datetime=acq.datetime,
            properties=props,
            stac_extensions=[PROJ_EXT, SAT_EXT, SAR_EXT, RASTER_EXT],
        )
        item.add_asset("vv", _asset(str(root / acq.vv), "VV: gamma0 (linear power)", SAR_NODATA))
        item.add_asset("vh", _asset(str(root / acq.vh), "VH: gamma0 (linear power)", SAR_NODATA))
        s1.add_item(item)
        item.set_self_href(str(root / "stac" / SAR_COLLECTION / "items" / f"{acq.item_id}.json"))
    return s1


def _dem_collection(root: Path, grid: SceneGrid, bbox: list[float], dem_href: str) -> pystac.Collection:
    """The DEM collection: one item, asset elevation."""
    dem = pystac.Collection(
        id=LOCAL_DEM_COLLECTION,
        description="Simulated digital elevation model (metres above sea level; sea is 0).",
        extent=pystac.Extent(pystac.SpatialExtent([bbox]), pystac.TemporalExtent([[DEM_DATETIME, DEM_DATETIME]])),
        license="CC-BY-4.0",
        title="DEM (simulated)",
    )
    dem_item = pystac.Item(
        id=DEM_ITEM_ID,
        geometry=_geometry(grid),
        bbox=bbox,
        datetime=DEM_DATETIME,
        properties=_proj_properties(grid),
        stac_extensions=[PROJ_EXT, RASTER_EXT],
    )
    dem_item.add_asset("elevation", _asset(str(root / dem_href), "Elevation (m)", None))
    dem.add_item(dem_item)
    dem_item.set_self_href(str(root / "stac" / LOCAL_DEM_COLLECTION / "items" / f"{DEM_ITEM_ID}.json"))
    return dem


def write_catalog(root: Path, grid: SceneGrid, dem_href: str, description: str) -> Path:
    """Build and save the self-contained catalog under ``root``; return the catalog path."""
    catalog = build_catalog(root, grid, dem_href, description)
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return Path(root) / "catalog.json"


def scene_items(root: str | Path, collection: str = SAR_COLLECTION) -> list[dict[str, Any]]:
    """Items of a collection of a scene catalog as dicts with absolute asset hrefs.

    The dicts are ready for ``stackstac.stack(items, assets=["vv", "vh"], epsg=32619,
    resolution=10)``: they point to the local files and carry ``proj:epsg``. (pystac >= 1.12
    drops ``proj:epsg`` when it reads an item, moving it to ``proj:code``; it is restored here
    from ``proj:code``, as for Planetary Computer items.)
    """
    catalog = pystac.Catalog.from_file(str(Path(root) / "catalog.json"))
    child = catalog.get_child(collection)
    if child is None:
        raise KeyError(f"catalog under {root} has no collection {collection!r}")
    out = []
    for item in sorted(child.get_items(), key=lambda it: it.datetime or DEM_DATETIME):
        item = item.clone()
        item.make_asset_hrefs_absolute()
        d = item.to_dict(transform_hrefs=False)
        restore_proj_epsg(d)
        out.append(d)
    return out


def restore_proj_epsg(item: dict[str, Any]) -> dict[str, Any]:
    """Set ``properties["proj:epsg"]`` from ``proj:code`` ("EPSG:<n>") when missing (in place)."""
    props = item.setdefault("properties", {})
    code = props.get("proj:code")
    if props.get("proj:epsg") is None and isinstance(code, str) and code.upper().startswith("EPSG:"):
        props["proj:epsg"] = int(code.split(":", 1)[1])
    return item
