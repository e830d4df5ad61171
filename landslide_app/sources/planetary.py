"""Microsoft Planetary Computer: Sentinel-1 RTC and DEM items for an area and an event.

Searches the STAC API with pystac-client, keeps one relative orbit / orbit state, groups slices
per acquisition day, picks the last ``n_pre`` days before and the first ``n_post`` after the event,
and signs the asset hrefs with ``planetary_computer.sign_inplace`` (re-signed on expiry by the
loader). A 403 on signing, no items, or partial coverage become clear typed errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from landslide_app.config import EVENT_DATE, N_POST_DATES, N_PRE_DATES, ORBIT_STATE, RELATIVE_ORBIT
from landslide_app.errors import NoItemsFoundError, PartialCoverageError, SigningError, SourceError
from landslide_app.sources.retry import RetryPolicy, call_with_retry
from landslide_app.sources.stac import SAR_COLLECTION, SceneSource, normalise_item, select_acquisitions

log = logging.getLogger(__name__)

PC_STAC_URL = "https://planetarycomputer.microsoft.com/api/stac/v1"
#: DEM collections and their elevation asset.
DEM_ASSETS = {"nasadem": "elevation", "cop-dem-glo-30": "data", "3dep-seamless": "data"}


def sign_items(items: list[dict], signer: Callable[[dict], dict] | None = None) -> None:
    """Sign item dicts in place; a refused signature becomes :class:`SigningError`."""
    import planetary_computer
    import requests

    signer = signer or planetary_computer.sign
    for i, item in enumerate(items):
        try:
            signed = signer(item)
        except requests.HTTPError as exc:
            status = getattr(exc.response, "status_code", None)
            if status in (401, 403):
                raise SigningError(
                    f"Planetary Computer refused to sign the assets (HTTP {status}). Set a subscription "
                    "key: `export PC_SDK_SUBSCRIPTION_KEY=...` (or `planetarycomputer configure`), then rerun."
                ) from exc
            raise
        items[i] = normalise_item(signed if isinstance(signed, dict) else signed.to_dict())


def coverage_fraction(items: list[dict], bbox: tuple[float, float, float, float]) -> float:
    """Fraction of the lon/lat ``bbox`` covered by the union of the items' footprints."""
    from shapely.geometry import box, shape
    from shapely.ops import unary_union

    area = box(*bbox)
    union = unary_union([shape(i["geometry"]) for i in items])
    return float(union.intersection(area).area / area.area) if area.area else 0.0


def check_coverage(days: list, dem_items: list[dict], bbox, min_fraction: float = 0.99) -> None:
    """Raise :class:`PartialCoverageError` when any day (or the DEM) leaves part of ``bbox`` uncovered."""
    short = [(str(d), round(coverage_fraction(items, bbox), 3)) for d, items in days]
    short = [(d, f) for d, f in short if f < min_fraction]
    dem_f = coverage_fraction(dem_items, bbox) if dem_items else 0.0
    if short or dem_f < min_fraction:
        raise PartialCoverageError(
            f"the data do not cover the requested area {bbox}: SAR days covered only partly "
            f"{short or 'none'}, DEM coverage {dem_f:.1%}. Shrink --bbox to the covered part "
            "or choose another orbit / DEM collection."
        )


def search_planetary_computer(
    bbox: tuple[float, float, float, float],
    event_date: datetime = EVENT_DATE,
    n_pre: int = N_PRE_DATES,
    n_post: int = N_POST_DATES,
    relative_orbit: int | None = RELATIVE_ORBIT,
    orbit_state: str | None = ORBIT_STATE,
    dem_collection: str = "nasadem",
    window_days: int = 60,
    url: str = PC_STAC_URL,
    retry: RetryPolicy | None = None,
) -> SceneSource:
    """Find the Sentinel-1 RTC days and DEM tiles for ``bbox`` (lon/lat) around ``event_date``.

    Defaults reproduce paper Table 1 (Puerto Rico, relative orbit 135, ascending).
    """
    import pystac_client

    if dem_collection not in DEM_ASSETS:
        raise SourceError(f"unknown DEM collection {dem_collection!r}; use one of {sorted(DEM_ASSETS)}")
    retry = retry or RetryPolicy()
    if event_date.tzinfo is None:
        event_date = event_date.replace(tzinfo=timezone.utc)
    client = call_with_retry(lambda: pystac_client.Client.open(url), retry, f"STAC API {url}")

    def search(collection: str, **kw) -> list[dict]:
        return call_with_retry(
            lambda: [normalise_item(i) for i in client.search(collections=[collection], bbox=bbox, **kw).items_as_dicts()],
            retry, f"{collection} search",
        )

    days = []
    if n_pre or n_post:
        span = f"{(event_date - timedelta(days=window_days)).date()}/{(event_date + timedelta(days=window_days)).date()}"
        sar = search(SAR_COLLECTION, datetime=span)
        if not sar:
            raise NoItemsFoundError(f"no {SAR_COLLECTION} items over {bbox} in {span}; check the area and dates")
        days = select_acquisitions(sar, event_date, n_pre, n_post, relative_orbit, orbit_state)
    dem_kw = {"query": {"gsd": {"eq": 10}}} if dem_collection == "3dep-seamless" else {}
    dem = search(dem_collection, **dem_kw)
    if not dem:
        raise NoItemsFoundError(f"no {dem_collection} DEM items over {bbox}; try another --dem-collection")
    check_coverage(days, dem, bbox)
    for _, items in days:
        sign_items(items)
    sign_items(dem)
    log.info("Planetary Computer: %d SAR days %s, %d DEM tiles", len(days), [str(d) for d, _ in days], len(dem))
    return SceneSource(f"Planetary Computer {url}", days, n_pre if days else 0, dem, DEM_ASSETS[dem_collection],
                       resign=sign_items)
