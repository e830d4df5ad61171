"""One entry point from a ``--source`` value to a :class:`~landslide_app.sources.stac.SceneSource`.

``--source`` is ``planetary-computer``, the URL of any STAC API (searched with pystac-client), or a
STAC catalog (a local ``catalog.json`` / folder, or an http(s) URL ending in ``.json``). Every kind
selects its acquisitions with the same :class:`~landslide_app.sources.selection.AcquisitionRequest`.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from landslide_app.errors import ConfigError
from landslide_app.sources.retry import RetryPolicy
from landslide_app.sources.selection import AcquisitionRequest
from landslide_app.sources.stac import SceneSource, open_local_catalog

PLANETARY_COMPUTER = "planetary-computer"
PC_HOST = "planetarycomputer.microsoft.com"


def is_stac_api_url(source: str) -> bool:
    """An http(s) URL that is not a ``.json`` file: the root of a STAC API."""
    return source.startswith(("http://", "https://")) and not urlsplit(source).path.endswith(".json")


def default_signing(source: str) -> str:
    """``planetary-computer`` for Planetary Computer (by name or host), else ``none``."""
    if source == PLANETARY_COMPUTER or urlsplit(source).hostname == PC_HOST:
        return "planetary-computer"
    return "none"


def open_source(
    source: str,
    bbox: Sequence[float] | None = None,
    request: AcquisitionRequest | None = None,
    sign: str | None = None,
    dem_collection: str = "nasadem",
    retry: RetryPolicy | None = None,
) -> SceneSource:
    """The scene source named by ``source`` (see module docstring).

    Args:
        bbox: area in lon/lat (required for STAC APIs; optional for catalogs).
        request: event date, orbit, orbit state, pre/post counts (default: paper Table 1).
        sign: ``planetary-computer`` or ``none`` (default: :func:`default_signing`); only APIs.
        dem_collection: DEM collection searched on an API.
    """
    if source == PLANETARY_COMPUTER or is_stac_api_url(source):
        from landslide_app.sources.planetary import search_planetary_computer, search_stac_api

        if bbox is None:
            raise ConfigError(f"--source {source} needs --bbox W S E N (lon/lat degrees)")
        signing = sign or default_signing(source)
        if source == PLANETARY_COMPUTER:
            if signing != "planetary-computer":
                raise ConfigError(
                    "--source planetary-computer needs --sign planetary-computer (its assets are private)"
                )
            return search_planetary_computer(bbox, request, dem_collection=dem_collection, retry=retry)
        return search_stac_api(source, bbox, request, signing, dem_collection, retry=retry)  # type: ignore[arg-type]
    if sign not in (None, "none"):
        raise ConfigError(f"--sign {sign} applies to STAC APIs; {source} is a catalog (its hrefs are used as they are)")
    return open_local_catalog(source, request, retry=retry, bbox=bbox)
