"""The emulated Planetary Computer's HTTP side (see :mod:`landslide_app.testing.pc_emulator`): one
loopback handler that answers the STAC API and the SAS token endpoint, and proxies the blob hosts
(absolute-URL requests through ``HTTP_PROXY``), checking each read's token before serving the COG
with byte ranges (:class:`~landslide_app.testing.range_server.RangeHandler`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from landslide_app.testing.pc_layout import BLOB_DOMAIN
from landslide_app.testing.pc_stac import API_PREFIX, CONFORMANCE, SAS_PREFIX
from landslide_app.testing.range_server import Fault, HandlerConfig, RangeHandler, handler_class


class PlanetaryComputerHandler(RangeHandler):
    """Routes one request of the emulation; ``emu`` (the emulator) is set by :func:`pc_handler_class`."""

    emu: Any
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
        emu = self.emu
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
            self._token(path[len(SAS_PREFIX) + 1 :].split("/"))
        elif path == API_PREFIX + "/search":
            self._search(method, u)
        elif not self._document(path):
            self._json(404, {"code": "NotFoundError", "description": f"no route {path}"})

    def _token(self, parts: list[str]) -> None:
        emu = self.emu
        if emu.refuse_tokens:
            with emu.stats.lock:
                emu.stats.tokens_refused += 1
            self._json(403, {"message": "Forbidden: a subscription key is required"})
            return
        if len(parts) != 2:
            self._json(404, {"message": "use /token/{account}/{container}"})
            return
        self._json(200, emu.issue_token(*parts))

    def _document(self, path: str) -> bool:
        """Answer the landing page, the conformance classes or a collection; False for another path."""
        emu = self.emu
        if path == API_PREFIX:
            self._json(200, emu._landing())
        elif path == API_PREFIX + "/conformance":
            self._json(200, {"conformsTo": CONFORMANCE})
        elif path == API_PREFIX + "/collections":
            self._json(200, {"collections": [emu._collection(c) for c in emu.archive.items], "links": []})
        elif path.startswith(API_PREFIX + "/collections/"):
            cid = path.split("/")[-1]
            if cid in emu.archive.items:
                self._json(200, emu._collection(cid))
            else:
                self._json(404, {"code": "NotFoundError", "description": f"No collection {cid}"})
        else:
            return False
        return True

    def _search(self, method: str, u: SplitResult) -> None:
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
            doc = self.emu._page(params, method)
        except (ValueError, KeyError) as exc:
            self._json(400, {"code": "BadRequest", "description": str(exc)})
            return
        self._json(200, doc, "application/geo+json")

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


def pc_handler_class(emu: Any, faults: Callable[[str], Fault] | None) -> type[RangeHandler]:
    """The handler class of the emulator ``emu``: its blobs, faults, counters and closed flag."""
    r = emu._range
    return handler_class(HandlerConfig(r.root, faults, r.stats, r._gone), PlanetaryComputerHandler, emu=emu)
