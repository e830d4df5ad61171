"""A loopback HTTP file server with byte-range support and optional fault injection.

Serves a directory on ``127.0.0.1`` like a static object store (``Range: bytes=a-b``, multi-range
as ``multipart/byteranges``), so GDAL's ``/vsicurl/`` reads the demo COGs over real HTTP range
requests. ``faults`` decides, per request, whether to answer with an error status, reset the
connection or answer slowly, to test retries; :class:`FaultSchedule` is a seeded random one.
:meth:`RangeServer.close` makes the server go away for good (connections reset, then refused),
and a new ``RangeServer(root, port=old.port)`` brings it back at the same URL.
"""

from __future__ import annotations

import os
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

#: A fault decision: None (serve), ("status", 503), ("reset", 0), ("slow", seconds).
Fault = tuple[str, float] | None
_RANGE = re.compile(r"(\d*)-(\d*)")


@dataclass
class ServerStats:
    requests: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    bytes_sent: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, kind: str | None, nbytes: int = 0) -> None:
        with self.lock:
            self.requests += 1
            self.bytes_sent += nbytes
            if kind:
                self.faults[kind] = self.faults.get(kind, 0) + 1


class FaultSchedule:
    """A seeded random fault decision per request, usable as ``RangeServer(faults=...)``.

    Each request fails with probability ``rate``, the kind drawn from ``kinds`` (weights): HTTP
    429 / 503 or a connection reset; independently, a request is answered after a delay of
    ``slow_s`` seconds with probability ``slow_rate``. ``only`` restricts faults to paths with
    one of these suffixes (default: every path).
    """

    def __init__(
        self,
        seed: int = 0,
        rate: float = 0.3,
        slow_rate: float = 0.0,
        slow_s: float = 0.05,
        kinds: dict[str, float] | None = None,
        only: tuple[str, ...] | None = None,
    ) -> None:
        self.rate, self.slow_rate, self.slow_s, self.only = rate, slow_rate, slow_s, only
        self.kinds = kinds or {"429": 1.0, "503": 1.0, "reset": 1.0}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def __call__(self, path: str) -> Fault:
        if self.only is not None and not path.split("?", 1)[0].endswith(self.only):
            return None
        with self._lock:
            r, slow = self._rng.random(), self._rng.random()
            kind = self._rng.choices(list(self.kinds), weights=list(self.kinds.values()))[0]
        if r < self.rate:
            return ("reset", 0) if kind == "reset" else ("status", int(kind))
        if slow < self.slow_rate:
            return ("slow", self.slow_s)
        return None


@dataclass(frozen=True)
class HandlerConfig:
    """What a request handler serves (``root``), how it fails (``faults``), what it counts and
    whether the server has gone away."""

    root: Path
    faults: Callable[[str], Fault] | None
    stats: ServerStats
    gone: threading.Event


def parse_spans(spec: str, size: int) -> list[tuple[int, int]]:
    """The satisfiable ``(start, end)`` byte spans (inclusive) of a ``Range: bytes=`` value."""
    spans = []
    for part in spec.split(","):
        m = _RANGE.fullmatch(part.strip())
        if not m:
            continue
        a, b = m.groups()
        if a == "":
            start, end = max(0, size - int(b)), size - 1
        else:
            start, end = int(a), min(size - 1, int(b) if b else size - 1)
        if start <= end:
            spans.append((start, end))
    return spans


def range_body(path: Path, spans: list[tuple[int, int]], size: int) -> tuple[bytes, list[tuple[str, str]]]:
    """The body of a 206 answer for ``spans`` of the file ``path`` and its headers before
    ``Content-Length``: one span as is, several as ``multipart/byteranges``."""
    with open(path, "rb") as fh:

        def chunk(s: int, e: int) -> bytes:
            fh.seek(s)
            return fh.read(e - s + 1)

        if len(spans) == 1:
            s, e = spans[0]
            return chunk(s, e), [
                ("Content-Range", f"bytes {s}-{e}/{size}"),
                ("Content-Type", "application/octet-stream"),
            ]
        boundary = "landslide-app-boundary"
        parts = []
        for s, e in spans:
            parts.append(
                f"--{boundary}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Range: bytes {s}-{e}/{size}\r\n\r\n".encode()
                + chunk(s, e)
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return body, [("Content-Type", f"multipart/byteranges; boundary={boundary}")]


class RangeHandler(BaseHTTPRequestHandler):
    """Serves the files under ``cfg.root`` with byte ranges, after ``cfg.faults`` (see module
    docstring); :func:`handler_class` sets ``cfg``."""

    protocol_version = "HTTP/1.1"
    cfg: HandlerConfig

    def log_message(self, *args) -> None:  # quiet
        pass

    def _file(self) -> Path | None:
        root = self.cfg.root
        rel = self.path.split("?", 1)[0].lstrip("/")
        p = (root / rel).resolve()
        if root not in p.parents and p != root or not p.is_file():
            return None
        return p

    def _reset(self) -> None:
        # RST instead of FIN: SO_LINGER with zero timeout
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _fault(self) -> bool:
        stats = self.cfg.stats
        if self.cfg.gone.is_set():  # closed: reset kept-alive connections too
            self._reset()
            return True
        decision = self.cfg.faults(self.path) if self.cfg.faults else None
        if decision is None:
            return False
        kind, value = decision
        if kind == "status":
            stats.count(f"http_{int(value)}")
            self.send_response(int(value))
            self.send_header("Content-Length", "0")
            if int(value) == 429:
                self.send_header("Retry-After", "0")
            self.end_headers()
            return True
        if kind == "reset":
            stats.count("reset")
            self._reset()
            return True
        if kind == "slow":
            stats.count("slow")
            time.sleep(float(value))
            return False
        raise ValueError(f"unknown fault {decision!r}")

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(head=True)

    def do_GET(self) -> None:  # noqa: N802
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        if self._fault():
            return
        p = self._file()
        if p is None:
            self.cfg.stats.count(None)
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = p.stat().st_size
        rng = self.headers.get("Range")
        if not rng or not rng.startswith("bytes="):
            self._serve_whole(p, size, head)
            return
        spans = parse_spans(rng[6:], size)
        if not spans:
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{size}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            self.cfg.stats.count(None)
            return
        body, headers = range_body(p, spans, size)
        self.send_response(206)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if not head:
            self.wfile.write(body)
        self.cfg.stats.count(None, len(body))

    def _serve_whole(self, p: Path, size: int, head: bool) -> None:
        with open(p, "rb") as fh:
            body = b"" if head else fh.read()
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(body)
        self.cfg.stats.count(None, len(body))


def handler_class(cfg: HandlerConfig, base: type[RangeHandler] = RangeHandler, **attrs: Any) -> type[RangeHandler]:
    """A subclass of ``base`` (:class:`RangeHandler` or one of its own subclasses) serving ``cfg``,
    with ``attrs`` as further class attributes."""
    return type("Handler", (base,), {"cfg": cfg, **attrs})


class RangeServer:
    """Context manager: ``with RangeServer(dir) as srv: srv.url`` -> ``http://127.0.0.1:PORT``."""

    def __init__(self, root: str | os.PathLike, faults: Callable[[str], Fault] | None = None, port: int = 0) -> None:
        self.root = Path(root).resolve()
        self.stats = ServerStats()
        self._gone = threading.Event()
        self._server = ThreadingHTTPServer(
            ("127.0.0.1", port), handler_class(HandlerConfig(self.root, faults, self.stats, self._gone))
        )
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._closed = False

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"  # the server binds the loopback address only

    def __enter__(self) -> RangeServer:
        self._thread.start()
        return self

    def close(self) -> None:
        """Go away: reset open connections and refuse new ones (idempotent; safe from a handler)."""
        if self._closed:
            return
        self._closed = True
        self._gone.set()
        self._server.shutdown()
        self._server.server_close()

    def __exit__(self, *exc) -> None:
        self.close()
