"""The page's messages: one HTML box per message, and the guard that turns a callback's exception into one.

Every widget callback of the dashboard goes through :func:`guarded`: an exception becomes a message
in the page (never a traceback) and the page stays usable. A :class:`~landslide_app.errors.LandslideAppError`
is shown as it is (it says what to change); anything else is logged with its traceback and shown as
"<what> failed: <type>: <text>".
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable
from typing import Any

from landslide_app.dashboard.style import MESSAGE_COLOURS
from landslide_app.errors import LandslideAppError

log = logging.getLogger(__name__)


def message_html(text: str, kind: str = "error") -> str:
    """The message box of ``text`` (``kind``: error, info, ok, warn); empty text: no box."""
    if not text:
        return ""
    c = MESSAGE_COLOURS[kind]
    return (
        f'<div class="ls-message ls-{kind}" style="padding:6px 10px;border-left:4px solid {c};color:{c};'
        f'background:#fafafa">{html.escape(text)}</div>'
    )


def user_text(exc: BaseException, what: str) -> str:
    """What the page says of ``exc`` raised while doing ``what``."""
    if isinstance(exc, LandslideAppError):
        return str(exc)
    return f"{what} failed: {type(exc).__name__}: {exc}"


def guarded(what: str, fn: Callable[..., Any], show: Callable[[str], Any]) -> Callable[..., Any]:
    """``fn`` wrapped so that an exception becomes ``show(message)`` (and None) instead of a traceback."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001 - the page shows a message, never a traceback
            if not isinstance(exc, LandslideAppError):
                log.exception("%s failed", what)
            show(user_text(exc, what))
            return None

    return wrapped
