"""STAC APIs (Microsoft Planetary Computer, or any other): Sentinel-1 RTC and DEM items for an area
and an event.

Searches the API with pystac-client (``collections``, ``bbox``, ``datetime`` and, for a fixed
orbit, a ``query`` on ``sat:relative_orbit`` / ``sat:orbit_state``), hands the Sentinel-1 items to
:func:`~landslide_app.sources.selection.select_acquisitions` (orbit choice, slices per day, pre-
and post-event passes) and, for Planetary Computer, signs the asset hrefs with
``planetary_computer.sign``. The loader re-signs them when blob storage answers 403 (an expired
SAS token): :func:`resign_items` strips the old token first (the SDK leaves an href that already
carries one untouched) and drops the SDK's cached token (the server refused it). A refused
signature, no items, or a DEM that leaves part of the area uncovered become clear typed errors.

The Planetary Computer STAC URL can be pointed elsewhere (a mirror, or the loopback emulation of
:mod:`landslide_app.testing.pc_emulator`) with ``LANDSLIDE_APP_PC_STAC_URL``; the SAS token
endpoint with the SDK's own ``PC_SDK_SAS_URL``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from landslide_app.core.vocabulary import DEM_ASSETS
from landslide_app.errors import ConfigError, NoItemsFoundError, PartialCoverageError, SigningError, SourceError
from landslide_app.sources.retry import RetryPolicy, call_with_retry
from landslide_app.sources.selection import Acquisition, AcquisitionRequest, coverage_fraction, select_acquisitions
from landslide_app.sources.stac import SAR_COLLECTION, SceneSource, normalise_item

log = logging.getLogger(__name__)

PC_STAC_URL = "https://planetarycomputer.microsoft.com/api/stac/v1"
PC_URL_ENV = "LANDSLIDE_APP_PC_STAC_URL"
BLOB_DOMAIN = ".blob.core.windows.net"
Signing = Literal["planetary-computer", "none"]

__all__ = ["coverage_fraction", "search_planetary_computer", "search_stac_api", "sign_items", "resign_items"]


def pc_stac_url() -> str:
    """The Planetary Computer STAC API URL (``LANDSLIDE_APP_PC_STAC_URL`` overrides it)."""
    return os.environ.get(PC_URL_ENV) or PC_STAC_URL


def strip_sas(href: str) -> str:
    """``href`` without its query string when it points to Azure blob storage (a SAS token)."""
    u = urlsplit(href)
    if u.netloc.endswith(BLOB_DOMAIN) and u.query:
        return urlunsplit((u.scheme, u.netloc, u.path, "", u.fragment))
    return href


def sign_items(items: list[dict], signer: Callable[[dict], Any] | None = None) -> None:
    """Sign item dicts in place (blob hrefs get a fresh SAS token; an old one is dropped first);
    a refused signature becomes :class:`SigningError`."""
    import planetary_computer
    import requests

    signer = signer or planetary_computer.sign
    for i, item in enumerate(items):
        for asset in item.get("assets", {}).values():
            if "href" in asset:
                asset["href"] = strip_sas(str(asset["href"]))
        try:
            signed = signer(item)
        except requests.HTTPError as exc:
            status = getattr(exc.response, "status_code", None)
            if status in (401, 403):
                raise SigningError(
                    f"Planetary Computer refused to sign the assets (HTTP {status}). Set a subscription "
                    "key: `export PC_SDK_SUBSCRIPTION_KEY=...` (or `planetarycomputer configure`), then rerun."
                ) from exc
            raise SigningError(
                f"cannot get a Planetary Computer SAS token ({exc}); check the network and rerun the "
                "same command (finished chips are kept)"
            ) from exc
        except requests.RequestException as exc:
            raise SigningError(
                f"cannot reach the Planetary Computer token service ({exc}); check the network and rerun "
                "the same command (finished chips are kept)"
            ) from exc
        signed = signed if isinstance(signed, dict) else signed.to_dict()
        item["assets"] = signed["assets"]  # in place: the caller's dict (shared by its views) changes
        items[i] = normalise_item(item)


def resign_items(items: list[dict]) -> None:
    """Re-sign after blob storage refused a token (403): drop the SDK's cached tokens, sign anew."""
    from planetary_computer import sas

    sas.TOKEN_CACHE.clear()
    sign_items(items)


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


def search_stac_api(
    url: str,
    bbox: Sequence[float],
    request: AcquisitionRequest | None = None,
    sign: Signing = "none",
    dem_collection: str = "nasadem",
    window_days: int = 60,
    retry: RetryPolicy | None = None,
    description: str | None = None,
) -> SceneSource:
    """Find the Sentinel-1 RTC passes and DEM tiles for ``bbox`` (lon/lat) on the STAC API at ``url``.

    Args:
        url: STAC API root (its landing page must advertise item search).
        bbox: area, lon/lat W S E N.
        request: event date, orbit, orbit state, pre/post counts (default: paper Table 1).
        sign: ``"planetary-computer"``: sign the asset hrefs with ``planetary_computer.sign``
            (and re-sign on expiry); ``"none"``: use them as they are.
        dem_collection: DEM collection (:data:`DEM_ASSETS`).
        window_days: days searched before and after the event.
        retry: retries of the API requests (429, 5xx, resets).
    """
    if dem_collection not in DEM_ASSETS:
        raise ConfigError(f"unknown DEM collection {dem_collection!r}; use one of {sorted(DEM_ASSETS)}")
    if sign not in ("planetary-computer", "none"):
        raise ConfigError(f"--sign {sign!r}: use planetary-computer or none")
    req = request or AcquisitionRequest()
    retry = retry or RetryPolicy()
    bbox = tuple(float(v) for v in bbox)
    search = _item_search(url, bbox, retry)
    acqs = _find_acquisitions(search, req, bbox, window_days) if req.wants_sar else []
    dem_kw = {"query": {"gsd": {"eq": 10}}} if dem_collection == "3dep-seamless" else {}
    dem = search(dem_collection, **dem_kw)
    if not dem:
        raise NoItemsFoundError(f"no {dem_collection} DEM items over {bbox}; try another --dem-collection")
    check_coverage([], dem, bbox)
    resign = None
    if sign == "planetary-computer":
        for a in acqs:
            sign_items(list(a.items))
        sign_items(dem)
        resign = resign_items
    log.info(
        "%s: %d Sentinel-1 acquisitions %s, %d DEM tiles",
        url,
        len(acqs),
        [f"{a.datetime:%Y-%m-%d %H:%M} {a.platform} {a.role}" for a in acqs],
        len(dem),
    )
    return SceneSource.from_acquisitions(
        description or f"STAC API {url}",
        acqs,
        req.event_date if acqs else None,
        dem,
        DEM_ASSETS[dem_collection],
        resign=resign,
    )


def _item_search(url: str, bbox: tuple[float, ...], retry: RetryPolicy) -> Callable[..., list[dict]]:
    """Open the STAC API at ``url`` (refused without item search) and return ``search(collection,
    **kw)``: the normalised items of ``collection`` over ``bbox``, with retries."""
    import pystac_client

    client = call_with_retry(
        lambda: pystac_client.Client.open(url, stac_io=_retrying_api_io(retry)), retry, f"the STAC API {url}"
    )
    if not client.conforms_to(pystac_client.ConformanceClasses.ITEM_SEARCH):
        raise SourceError(f"{url} is not a STAC API with item search; for a static catalog pass its catalog.json")

    def search(collection: str, **kw: Any) -> list[dict]:
        def run() -> list[dict]:
            try:
                found = client.search(collections=[collection], bbox=bbox, **kw)
                return [normalise_item(i) for i in found.items_as_dicts()]
            except pystac_client.exceptions.APIError as exc:  # its message is the response body, often empty
                status = getattr(exc, "status_code", None)
                if not status:
                    raise
                err = type(exc)(f"HTTP {status}: {str(exc)[:300] or 'no message'}")
                err.status_code = status
                raise err from exc

        return call_with_retry(run, retry, f"the {collection} search on {url}")

    return search


def _find_acquisitions(
    search: Callable[..., list[dict]], req: AcquisitionRequest, bbox: tuple[float, ...], window_days: int
) -> list[Acquisition]:
    """The Sentinel-1 passes of ``req`` within ``window_days`` of the event (refused when there is none)."""
    event = datetime(req.event_date.year, req.event_date.month, req.event_date.day)
    span = f"{(event - timedelta(days=window_days)).date()}/{(event + timedelta(days=window_days)).date()}"
    query: dict[str, Any] = {}
    if req.orbit != "auto":
        query["sat:relative_orbit"] = {"eq": req.orbit}
    if req.orbit_state != "auto":
        query["sat:orbit_state"] = {"eq": req.orbit_state}
    sar = search(SAR_COLLECTION, datetime=span, **({"query": query} if query else {}))
    if not sar:
        raise NoItemsFoundError(
            f"no {SAR_COLLECTION} items of {req.describe()} over {bbox} in {span}; check the area, "
            "the event date and --orbit / --orbit-state (or use --orbit auto --orbit-state auto)"
        )
    return select_acquisitions(sar, req, bbox)


def _retrying_api_io(retry: RetryPolicy) -> Any:
    """pystac-client's HTTP layer, retrying each request (every page of a search, POST included) on
    429 and 5xx answers and on connection faults, with backoff (``Retry-After`` honoured).

    pystac-client's own default retries only connection faults: a 429 on page 5 of a search would
    otherwise fail the whole search, and retrying it from the first page meets the throttling again.
    """
    from pystac_client.stac_api_io import StacApiIO
    from urllib3 import Retry

    policy = Retry(
        total=retry.attempts,
        backoff_factor=retry.base_delay_s,
        backoff_max=retry.max_delay_s,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=None,
        raise_on_status=False,
        respect_retry_after_header=True,
    )
    return StacApiIO(max_retries=policy, timeout=(10, 60))


def search_planetary_computer(
    bbox: Sequence[float],
    request: AcquisitionRequest | None = None,
    dem_collection: str = "nasadem",
    window_days: int = 60,
    url: str | None = None,
    retry: RetryPolicy | None = None,
) -> SceneSource:
    """:func:`search_stac_api` on Planetary Computer, signing the hrefs.

    The default request reproduces paper Table 1 (Puerto Rico, relative orbit 135, ascending).
    """
    url = url or pc_stac_url()
    return search_stac_api(
        url,
        bbox,
        request,
        "planetary-computer",
        dem_collection,
        window_days,
        retry,
        description=f"Planetary Computer {url}",
    )
