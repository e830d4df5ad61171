"""STAC sources: a local catalog (the demo scene, or your own) and acquisition selection.

A :class:`SceneSource` is what the chip builder needs from any source: the selected Sentinel-1
acquisitions (:class:`~landslide_app.sources.selection.Acquisition`: up to 3 pre-event and up to
3 post-event passes, each the slices of one day) and DEM items, as plain STAC item dicts that
:func:`stackstac.stack` reads. The Planetary Computer search
(:mod:`landslide_app.sources.planetary`) returns the same object, so real data and the demo go
through one code path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

import numpy as np

from landslide_app.core.vocabulary import LOCAL_DEM_COLLECTION, SAR_COLLECTION
from landslide_app.errors import ConfigError, InputError, NoItemsFoundError, RasterError, SourceError
from landslide_app.sources.retry import RetryPolicy, call_with_retry
from landslide_app.sources.selection import Acquisition, AcquisitionRequest, select_acquisitions

log = logging.getLogger(__name__)

LOCAL_DEM_ASSET = "elevation"


@dataclass
class SceneSource:
    """SAR acquisitions (grouped per day, time order) and DEM items of one area.

    Attributes:
        description: human-readable origin (catalog path / API URL).
        sar_days: ``[(day, [item_dict, ...]), ...]`` in time order; empty for DEM-only.
        n_pre: how many of ``sar_days`` are before the event.
        dem_items: DEM item dicts (mosaicked where several).
        dem_asset: the DEM asset key in those items.
        resign: re-signs the item hrefs in place (Planetary Computer SAS tokens expire).
        acquisitions: the selected passes (datetime, platform, orbit, orbit state, role), one
            per entry of ``sar_days`` (empty for DEM-only sources).
        event_date: the event the acquisitions were chosen around (None for DEM-only).
    """

    description: str
    sar_days: list[tuple[date, list[dict]]]
    n_pre: int
    dem_items: list[dict]
    dem_asset: str
    resign: Callable[[list[dict]], None] | None = field(default=None, repr=False)
    acquisitions: list[Acquisition] = field(default_factory=list)
    event_date: date | None = None

    @classmethod
    def from_acquisitions(
        cls,
        description: str,
        acquisitions: list[Acquisition],
        event_date: date | None,
        dem_items: list[dict],
        dem_asset: str,
        resign: Callable[[list[dict]], None] | None = None,
    ) -> SceneSource:
        """A source whose ``sar_days`` are the slices of ``acquisitions`` (shared item dicts:
        re-signing them in place re-signs both views)."""
        days = [(a.day, list(a.items)) for a in acquisitions]
        # one list object per day, shared with the acquisitions' view through the item dicts
        n_pre = sum(a.role == "pre" for a in acquisitions)
        return cls(description, days, n_pre, dem_items, dem_asset, resign, list(acquisitions), event_date)

    @property
    def relative_orbit(self) -> int | None:
        return self.acquisitions[0].relative_orbit if self.acquisitions else None

    @property
    def orbit_state(self) -> str | None:
        return self.acquisitions[0].orbit_state if self.acquisitions else None

    @property
    def has_sar(self) -> bool:
        return bool(self.sar_days)

    @property
    def dates(self) -> list[date]:
        return [d for d, _ in self.sar_days]

    def without_sar(self) -> SceneSource:
        return replace(self, sar_days=[], n_pre=0, acquisitions=[], event_date=None)

    def with_dem_file(self, path: str | Path) -> SceneSource:
        item = item_from_geotiff(path, asset=LOCAL_DEM_ASSET)
        return replace(self, dem_items=[item], dem_asset=LOCAL_DEM_ASSET)

    def native_epsg(self) -> int | None:
        """EPSG of the first SAR item (else DEM item), when projected."""
        for item in [i for _, items in self.sar_days for i in items] + self.dem_items:
            epsg = item_epsg(item)
            if epsg and epsg != 4326:
                return epsg
        return None

    def projected_bounds(self, epsg: int) -> tuple[float, float, float, float]:
        """Bounds of the data in ``epsg``: the SAR footprint intersected with the DEM's."""
        from pyproj import Transformer

        tr = Transformer.from_crs(4326, epsg, always_xy=True)

        def union(items: list[dict]) -> tuple[float, float, float, float]:
            boxes = []
            for it in items:
                pb, pe = it["properties"].get("proj:bbox"), item_epsg(it)
                if pb and pe == epsg:
                    boxes.append(tuple(pb))
                else:
                    boxes.append(tr.transform_bounds(*it["bbox"]))
            b = np.array(boxes)
            return (b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())

        dem = union(self.dem_items)
        if not self.has_sar:
            return dem
        sar = union([i for _, items in self.sar_days for i in items])
        both = (max(dem[0], sar[0]), max(dem[1], sar[1]), min(dem[2], sar[2]), min(dem[3], sar[3]))
        if not (both[0] < both[2] and both[1] < both[3]):

            def fmt(b):
                return "(" + ", ".join(f"{float(v):.0f}" for v in b) + ")"

            raise ConfigError(
                f"the DEM {fmt(dem)} and the SAR scenes {fmt(sar)} (EPSG:{epsg}) do not overlap; give "
                "a DEM that covers the SAR scenes (--dem FILE), or build DEM-only chips (--dem-only)"
            )
        return both


def item_epsg(item: dict) -> int | None:
    """The item's EPSG code from ``proj:epsg`` or ``proj:code`` (pystac >= 1.12 writes the latter)."""
    props = item.get("properties", {})
    if props.get("proj:epsg"):
        return int(props["proj:epsg"])
    code = props.get("proj:code")
    if isinstance(code, str) and code.upper().startswith("EPSG:"):
        return int(code.split(":")[1])
    return None


def normalise_item(item: dict) -> dict:
    """Make an item dict readable by stackstac: it reads only ``proj:epsg``."""
    epsg = item_epsg(item)
    if epsg is not None:
        item["properties"]["proj:epsg"] = epsg
    return item


def open_local_catalog(
    path: str | Path,
    request: AcquisitionRequest | None = None,
    retry: RetryPolicy | None = None,
    bbox: Sequence[float] | None = None,
) -> SceneSource:
    """Open a STAC catalog (a local path or an http(s) URL to ``catalog.json``; remote reads are
    retried with ``retry``) and select the acquisitions of ``request`` (default: paper Table 1).

    Expects a ``sentinel-1-rtc`` collection (assets ``vv``, ``vh``) and a ``dem`` collection
    (asset ``elevation``), as written by ``landslide-app scene``. With ``bbox`` (lon/lat), only
    items that intersect it are used, and a day counts when its slices cover the part of ``bbox``
    that the DEM covers.
    """
    href = _catalog_href(path)
    sar, dem = _catalog_items(href, retry)
    if not dem:
        raise NoItemsFoundError(
            f"the catalog {href} has no DEM item (a collection '{LOCAL_DEM_COLLECTION}' with asset "
            f"'{LOCAL_DEM_ASSET}'); add one or pass --dem FILE"
        )
    req = request or AcquisitionRequest()
    if bbox is not None and bbox[0] < bbox[2] and bbox[1] < bbox[3] and _intersecting(dem, bbox):
        sar, dem = _intersecting(sar, bbox), _intersecting(dem, bbox)
    else:  # a malformed box or one off the data: the chip grid check says so (ConfigError)
        bbox = None
    # a day must cover the part of --bbox that the catalog's DEM covers (a catalog made for an area
    # need not cover a larger box: its days are not dropped for that)
    area = _clip(bbox, dem) if bbox is not None else None
    acqs = select_acquisitions(sar, req, area) if sar and req.wants_sar else []
    log.info(
        "catalog %s: %d SAR acquisitions %s, %d DEM items",
        href,
        len(acqs),
        [f"{a.day} {a.role}" for a in acqs],
        len(dem),
    )
    return SceneSource.from_acquisitions(
        f"catalog {href}", acqs, req.event_date if acqs else None, dem, LOCAL_DEM_ASSET
    )


def _catalog_href(path: str | Path) -> str:
    """An http(s) URL as given; a local catalog.json (or the folder holding it) as an absolute path."""
    href = str(path)
    if not href.startswith(("http://", "https://")):
        p = Path(href)
        if p.is_dir():
            p = p / "catalog.json"
        if not p.exists():
            raise InputError(f"no STAC catalog at {p}: pass the catalog.json written by `landslide-app scene`")
        href = str(p.resolve())
    return href


def _catalog_items(href: str, retry: RetryPolicy | None) -> tuple[list[dict], list[dict]]:
    """The catalog's SAR items and DEM items, as normalised dicts with absolute asset hrefs."""
    import pystac

    stac_io = _retrying_stac_io(retry or RetryPolicy()) if href.startswith(("http://", "https://")) else None
    try:
        catalog = pystac.Catalog.from_file(href, stac_io=stac_io)
        sar, dem = [], []
        for item in catalog.get_items(recursive=True):
            item.make_asset_hrefs_absolute()
            d = normalise_item(item.to_dict(transform_hrefs=False))
            if item.collection_id == SAR_COLLECTION or {"vv", "vh"} <= set(item.assets):
                sar.append(d)
            elif LOCAL_DEM_ASSET in item.assets:
                dem.append(d)
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001
        cause = exc.__cause__ if isinstance(exc.__cause__, SourceError) else None
        if cause is not None:  # pystac wraps our "gave up" error
            raise cause from exc
        raise SourceError(
            f"cannot read the STAC catalog {href}: {exc}. Check that it and the collection/item "
            "JSON files it links to are complete, valid STAC JSON (regenerate them with "
            "`landslide-app scene`, or fix the file named above)."
        ) from exc
    return sar, dem


def _clip(bbox: Sequence[float], items: list[dict]) -> tuple[float, float, float, float] | None:
    """``bbox`` intersected with the bounding box of ``items`` (None when they do not overlap)."""
    b = np.array([i["bbox"][:4] for i in items if i.get("bbox")], dtype=float)
    if not len(b):
        return None
    w, s = max(bbox[0], b[:, 0].min()), max(bbox[1], b[:, 1].min())
    e, n = min(bbox[2], b[:, 2].max()), min(bbox[3], b[:, 3].max())
    return (float(w), float(s), float(e), float(n)) if w < e and s < n else None


def _intersecting(items: list[dict], bbox: Sequence[float]) -> list[dict]:
    w, s, e, n = bbox
    return [
        i
        for i in items
        if i.get("bbox") and i["bbox"][0] < e and w < i["bbox"][2] and i["bbox"][1] < n and s < i["bbox"][3]
    ]


def _retrying_stac_io(retry: RetryPolicy):
    """A pystac StacIO that retries each remote JSON read (bounded, with backoff)."""
    from pystac.stac_io import DefaultStacIO

    class RetryingStacIO(DefaultStacIO):
        def read_text_from_href(self, href: str) -> str:
            parent = super().read_text_from_href
            return call_with_retry(lambda: parent(href), retry, href)

    return RetryingStacIO()


def dem_only_source(dem_path: str | Path) -> SceneSource:
    """A DEM-only source from one GeoTIFF (bring your own region; no SAR)."""
    return SceneSource(f"DEM {dem_path}", [], 0, [item_from_geotiff(dem_path, LOCAL_DEM_ASSET)], LOCAL_DEM_ASSET)


def item_from_geotiff(path: str | Path, asset: str) -> dict:
    """A minimal STAC item dict describing one single-band GeoTIFF, for stackstac."""
    import rasterio
    from rasterio.warp import transform_bounds

    p = Path(path)
    if not p.exists():
        raise RasterError(f"no such raster: {p}")
    try:
        with rasterio.open(p) as ds:
            if ds.crs is None:
                raise RasterError(f"{p} has no CRS: assign one (e.g. `gdal_edit.py -a_srs EPSG:32619 {p.name}`)")
            if ds.count != 1:
                raise RasterError(f"{p} has {ds.count} bands; a DEM must have exactly 1 (elevation)")
            epsg = ds.crs.to_epsg()
            if epsg is None:
                raise RasterError(f"{p}: its CRS has no EPSG code; reproject it to a UTM zone (EPSG:326xx)")
            t = ds.transform
            if t.b != 0 or t.d != 0:
                raise RasterError(f"{p} is rotated; warp it to a north-up grid first")
            bbox = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds)
            # ordered edges: a south-up DEM (positive y pixel size) has bottom > top in ds.bounds,
            # which stackstac would take for an empty area; GDAL then reads it the right way up
            left, bottom, right, top = ds.bounds
            shape = [ds.height, ds.width]
            bounds = [min(left, right), min(bottom, top), max(left, right), max(bottom, top)]
    except RasterError:
        raise
    except Exception as exc:  # noqa: BLE001 - rasterio raises many kinds
        raise RasterError(f"cannot read {p} as a GeoTIFF ({exc}); check the file is complete") from exc
    w, s, e, n = bbox
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": p.stem,
        "stac_extensions": ["https://stac-extensions.github.io/projection/v1.1.0/schema.json"],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "bbox": [w, s, e, n],
        "properties": {
            "datetime": "2000-01-01T00:00:00Z",
            "proj:epsg": epsg,
            "proj:transform": list(t)[:6],
            "proj:shape": shape,
            "proj:bbox": bounds,
        },
        "assets": {asset: {"href": str(p.resolve()), "type": "image/tiff; application=geotiff"}},
        "links": [],
    }
