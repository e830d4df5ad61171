"""One background job at a time (a training run), so the page stays responsive.

The job function runs in a daemon thread; ``on_done``/``on_error`` are called in that thread
(ipywidgets accept updates from any thread of the kernel). An exception never escapes the
thread: it goes to ``on_error``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)


class BackgroundJob:
    """Runs at most one function at a time in a background thread."""

    def __init__(self, name: str = "job") -> None:
        self.name = name
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.error: BaseException | None = None
        self.result: Any = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(
        self,
        fn: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> bool:
        """Start ``fn`` unless a job is running; returns whether it started."""
        with self._lock:
            if self.running:
                return False
            self.error, self.result = None, None

            def target() -> None:
                try:
                    self.result = fn()
                except BaseException as exc:  # noqa: BLE001 - reported in the page, never raised
                    self.error = exc
                    log.warning("%s failed: %s", self.name, exc, exc_info=not _is_user_error(exc))
                    if on_error:
                        _safe(on_error, exc)
                    return
                if on_done:
                    _safe(on_done, self.result)

            self._thread = threading.Thread(target=target, name=f"landslide-{self.name}", daemon=True)
            self._thread.start()
            return True

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running job; returns False when it is still running after ``timeout``."""
        t = self._thread
        if t is not None:
            t.join(timeout)
            return not t.is_alive()
        return True


def _is_user_error(exc: BaseException) -> bool:
    from landslide_app.errors import LandslideAppError

    return isinstance(exc, LandslideAppError)


def _safe(fn: Callable[[Any], None], arg: Any) -> None:
    try:
        fn(arg)
    except Exception:  # noqa: BLE001
        log.exception("job callback failed")
