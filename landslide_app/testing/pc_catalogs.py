"""The emulated archive described for comparisons: the moved scene as a local STAC catalog (the
truth the products were cut from), the archive's items with local file hrefs as another, and the
scene's landslide inventory moved with the scene (:func:`~landslide_app.testing.pc_archive.build_archive`
writes all three).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from landslide_app.testing.pc_layout import (
    ARCHIVE_X0,
    ARCHIVE_Y0,
    SAR_NODATA,
    SCENE_X0,
    SCENE_Y0,
    bbox_of,
    footprint,
    write_cog,
)


def write_truth_catalog(out: Path, truth_dem: np.ndarray, bands: list[dict[str, np.ndarray]]) -> Path:
    """The moved scene itself (EPSG:32619, 10 m, the six Table 1 dates), as a local STAC catalog
    ``out/truth/catalog.json``: what the emulated products were cut from, for tolerance checks."""
    import pystac
    from affine import Affine

    from landslide_app.scene import catalog as scene_stac

    root = out / "truth"
    t = Affine(10.0, 0.0, ARCHIVE_X0, 0.0, -10.0, ARCHIVE_Y0)
    h, w = truth_dem.shape
    geom = footprint(32619, ARCHIVE_X0, ARCHIVE_Y0 - 10 * h, ARCHIVE_X0 + 10 * w, ARCHIVE_Y0)
    props = {"proj:epsg": 32619, "proj:shape": [h, w], "proj:transform": list(t)[:6]}
    cat = pystac.Catalog("emulated-truth", "the scene the emulated products were cut from")
    ext = pystac.Extent(pystac.SpatialExtent([bbox_of(geom)]), pystac.TemporalExtent([None, None]))
    s1, dem = pystac.Collection("sentinel-1-rtc", "truth SAR", ext), pystac.Collection("dem", "truth DEM", ext)
    for acq, b in zip(scene_stac.acquisitions(), bands):
        item = pystac.Item(
            acq.item_id,
            geom,
            bbox_of(geom),
            acq.datetime,
            {**props, "platform": acq.platform, "sat:relative_orbit": 135, "sat:orbit_state": "ascending"},
        )
        for pol in ("vv", "vh"):
            path = root / "sar" / f"{acq.item_id}_{pol}.tif"
            write_cog(path, b[pol], "EPSG:32619", t, SAR_NODATA)
            item.add_asset(pol, pystac.Asset(str(path), media_type=pystac.MediaType.COG))
        s1.add_item(item)
    item = pystac.Item("dem-elevation", geom, bbox_of(geom), datetime(2000, 2, 11, tzinfo=timezone.utc), dict(props))
    item.add_asset("elevation", pystac.Asset(str(out / "truth_dem.tif"), media_type=pystac.MediaType.COG))
    dem.add_item(item)
    cat.add_children([s1, dem])
    cat.normalize_and_save(str(root), pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def _local_href(href: str, blob_root: Path) -> str:
    u = urlsplit(href)
    return str(blob_root / u.netloc.split(".")[0] / u.path.lstrip("/"))


def write_local_catalog(out: Path, items: dict[str, list[dict]]) -> Path:
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


def move_inventory(scene_dir: Path, out: Path) -> Path:
    """The scene's landslide heads moved with the scene (lon/lat GeoPackage)."""
    import geopandas as gpd

    inv = gpd.read_file(scene_dir / "inventory.gpkg").to_crs(32619)
    inv = inv.set_geometry(inv.geometry.translate(ARCHIVE_X0 - SCENE_X0, ARCHIVE_Y0 - SCENE_Y0)).to_crs(4326)
    path = out / "inventory.gpkg"
    inv.to_file(path, driver="GPKG")
    return path
