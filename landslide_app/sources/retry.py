"""Bounded retries with exponential backoff for network reads.

GDAL reports HTTP faults as ``RasterioIOError`` messages ("HTTP response code: 503", "timed out",
"Connection reset"); :func:`is_transient` sorts those a retry may cure from the ones it cannot.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from landslide_app.errors import SourceError

log = logging.getLogger(__name__)
T = TypeVar("T")

_TRANSIENT = re.compile(
    r"HTTP response code: (429|5\d\d)|timed? ?out|Timeout|Connection reset|Connection refused|"
    r"Couldn't connect|Could not connect|connection was reset|Recv failure|Send failure|"
    r"transfer closed|Empty reply|partial file|SSL|Temporary failure|Read error|"
    r"failed to read|IReadBlock failed|TIFFReadEncodedTile|TIFFFillTile|"
    r"HTTP Error (429|5\d\d)|Remote end closed|Connection aborted|IncompleteRead|HTTP error code: 0\b",
    re.IGNORECASE,
)
_SAS_SIG = re.compile(r"([?&]sig=)[^&'\"\s)]+")
_EXPIRED = re.compile(r"HTTP response code: 403|AuthenticationFailed|signature", re.IGNORECASE)


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from (libraries often wrap the network error)."""
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in out and len(out) < 10:
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def is_transient(exc: BaseException) -> bool:
    """True when ``exc`` (or an error it wraps) looks like a network fault a retry may cure."""
    for e in _chain(exc):
        if isinstance(e, (TimeoutError, ConnectionError)) or _TRANSIENT.search(str(e)):
            return True
        # pystac-client's APIError carries the status apart from its message (the response body)
        status = getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(status, int) and (status == 429 or 500 <= status < 600):
            return True
    return False


def redact(text: object) -> str:
    """``text`` with SAS signatures (``sig=...`` in signed URLs) replaced by ``sig=REDACTED``."""
    return _SAS_SIG.sub(r"\1REDACTED", str(text))


def is_expired_signature(exc: BaseException) -> bool:
    """True when ``exc`` looks like an expired or refused SAS signature (HTTP 403)."""
    return bool(_EXPIRED.search(str(exc)))


@dataclass
class RetryPolicy:
    """How often and how long to retry. ``sleep`` is injectable for tests."""

    attempts: int = 8
    base_delay_s: float = 0.25
    max_delay_s: float = 8.0
    sleep: Callable[[float], None] = time.sleep
    #: Running count of faults survived (for reports and tests).
    faults_survived: int = field(default=0)

    def delay(self, attempt: int) -> float:
        d = min(self.max_delay_s, self.base_delay_s * (2**attempt))
        return d * (0.5 + random.random() / 2)  # jitter


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    what: str,
    on_expired: Callable[[], None] | None = None,
    on_retry: Callable[[BaseException], None] | None = None,
    transient: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Call ``fn``; retry transient faults (and expired signatures via ``on_expired``).

    ``on_retry(exc)`` runs before each retry (e.g. to drop a client-side cache of the failure);
    ``transient(exc)`` decides which errors are retried (default :func:`is_transient`).

    Raises:
        SourceError: after ``policy.attempts`` failures, naming ``what`` and the last fault.
    """
    last: BaseException | None = None
    for attempt in range(policy.attempts):
        try:
            return fn()
        except SourceError:
            raise
        except Exception as exc:  # noqa: BLE001 - classified below
            if on_expired is not None and is_expired_signature(exc):
                log.info("re-signing after %s while reading %s", redact(exc), what)
                on_expired()
            elif not transient(exc):
                raise
            last = exc
            if attempt + 1 == policy.attempts:
                break  # no sleep before giving up
            policy.faults_survived += 1
            wait = policy.delay(attempt)
            log.debug("transient fault reading %s (%s); retry %d in %.2fs", what, redact(exc), attempt + 1, wait)
            policy.sleep(wait)
            if on_retry is not None:
                on_retry(exc)
    raise SourceError(
        f"gave up reading {what} after {policy.attempts} attempts; last error: {redact(last)}. "
        "The source may be down or unreachable: check the URL / network and rerun the same "
        "command, finished work is kept and will not be redone."
    )
