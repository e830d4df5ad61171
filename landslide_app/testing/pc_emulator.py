"""An offline Microsoft Planetary Computer on loopback, for running the real data path whole.

Two parts (the first in :mod:`~landslide_app.testing.pc_archive`, the second here, answering through
:mod:`~landslide_app.testing.pc_handler` with the documents of :mod:`~landslide_app.testing.pc_stac`):

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
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote

from landslide_app.testing.pc_archive import Archive
from landslide_app.testing.pc_handler import pc_handler_class
from landslide_app.testing.pc_stac import API_PREFIX, SAS_PREFIX, collection_doc, landing, search_items, search_page
from landslide_app.testing.range_server import Fault, RangeServer


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
        self._range._server.RequestHandlerClass = pc_handler_class(self, faults)
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
        return search_items(self.archive.items, params)

    def _page(self, params: dict[str, Any], method: str) -> dict:
        doc, offset = search_page(self.archive.items, params, method, self.page_size, self.stac_url)
        with self.stats.lock:
            self.stats.pages += 1
            if offset == 0:
                self.stats.searches += 1
                if method == "POST":
                    self.stats.post_searches += 1
                else:
                    self.stats.get_searches += 1
        return doc

    def _landing(self) -> dict:
        return landing(self.stac_url, self.archive.items)

    def _collection(self, cid: str) -> dict:
        return collection_doc(self.stac_url, cid)


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
