"""Which Sentinel-1 acquisitions to use for an event: orbit choice and pre/post-event dates.

Every source (Planetary Computer, any STAC API, a local or HTTP STAC catalog) hands its
Sentinel-1 items to :func:`select_acquisitions`, which

1. keeps the items of the asked relative orbit and orbit state (``"auto"``: every candidate),
2. groups each orbit's slices per acquisition day (one pass; the slices are mosaicked later),
3. keeps the days whose slices cover the area (when an area is given),
4. picks the last ``n_pre`` days before the event day and the first ``n_post`` after it
   (``None``: as many as exist, up to :data:`MAX_POST`). Acquisitions on the event day itself
   are neither: the event may have happened before or after the pass.

With ``orbit="auto"`` the orbit whose full-coverage passes give the earliest post-event
acquisition wins (ties: more post-event days, then more pre-event days, then the lower orbit
number); the choice and the reason are logged. Fewer post-event days than asked is the normal
case shortly after an event: the days that exist are returned. No post-event day at all is a
:class:`~landslide_app.errors.NoItemsFoundError` that says when the next pass is expected.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Literal

from landslide_app.config import EVENT_DATE, N_PRE_DATES, ORBIT_STATE, RELATIVE_ORBIT
from landslide_app.errors import ConfigError, NoItemsFoundError

log = logging.getLogger(__name__)

#: At most this many pre- and post-event acquisitions (the 17-channel chip layout has 3 + 3).
MAX_PRE = 3
MAX_POST = 3
#: Sentinel-1 repeat cycle of one satellite (days); with two satellites a orbit repeats every 6.
REPEAT_DAYS = 12
#: A day counts as covering the area when its slices cover at least this fraction of it.
MIN_COVERAGE = 0.99

Role = Literal["pre", "post"]
OrbitState = Literal["ascending", "descending"]


@dataclass(frozen=True)
class Acquisition:
    """One Sentinel-1 pass over the area: the slices of one orbit on one day.

    Attributes:
        datetime: start of the earliest slice (UTC).
        platform: ``"sentinel-1a"``, ``"sentinel-1b"`` ... (lower case; ``"unknown"`` if unset).
        relative_orbit: relative orbit number (None when the items do not say).
        orbit_state: ``"ascending"`` / ``"descending"`` (None when the items do not say).
        role: ``"pre"`` or ``"post"`` event.
        items: the slices as STAC item dicts (mosaicked into one image per day by the reader).
    """

    datetime: datetime
    platform: str
    relative_orbit: int | None
    orbit_state: str | None
    role: Role
    items: tuple[dict, ...] = field(default=(), compare=False, repr=False)

    @property
    def day(self) -> date:
        return self.datetime.date()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (no item bodies, only their ids)."""
        return {
            "datetime": self.datetime.isoformat(),
            "platform": self.platform,
            "relative_orbit": self.relative_orbit,
            "orbit_state": self.orbit_state,
            "role": self.role,
            "items": sorted(str(i.get("id")) for i in self.items),
        }


@dataclass(frozen=True)
class AcquisitionRequest:
    """What the user asks for (CLI ``--event-date --orbit --orbit-state --pre --post``).

    ``orbit``: a relative orbit number or ``"auto"``; ``orbit_state``: ``"ascending"``,
    ``"descending"`` or ``"auto"``; ``n_post``: None = as many as exist, up to 3.
    The defaults reproduce paper Table 1 (Puerto Rico, event 2017-09-20, orbit 135 ascending).
    """

    event_date: date = EVENT_DATE.date()
    orbit: int | Literal["auto"] = RELATIVE_ORBIT
    orbit_state: str = ORBIT_STATE
    n_pre: int = N_PRE_DATES
    n_post: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.n_pre <= MAX_PRE:
            raise ConfigError(f"--pre {self.n_pre}: give 0 to {MAX_PRE} pre-event acquisitions")
        if self.n_post is not None and not 0 <= self.n_post <= MAX_POST:
            raise ConfigError(f"--post {self.n_post}: give 1 to {MAX_POST} post-event acquisitions")
        if self.orbit_state not in ("ascending", "descending", "auto"):
            raise ConfigError(f"--orbit-state {self.orbit_state!r}: use ascending, descending or auto")
        if self.orbit != "auto" and not (isinstance(self.orbit, int) and 1 <= self.orbit <= 175):
            raise ConfigError(f"--orbit {self.orbit!r}: give a Sentinel-1 relative orbit (1-175) or 'auto'")

    @property
    def wants_sar(self) -> bool:
        return self.n_pre > 0 or self.n_post != 0

    def describe(self) -> str:
        orbit = "any orbit" if self.orbit == "auto" else f"relative orbit {self.orbit}"
        state = "either orbit state" if self.orbit_state == "auto" else self.orbit_state
        return f"{orbit}, {state}"


def parse_event_date(text: str | date | datetime) -> date:
    """``YYYY-MM-DD`` (or a date/datetime) -> date; anything else is a :class:`ConfigError`."""
    if isinstance(text, datetime):
        return text.date()
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise ConfigError(f"--event-date {text!r}: write the date as YYYY-MM-DD, e.g. 2017-09-20") from None


def parse_orbit(text: str | int) -> int | Literal["auto"]:
    """``"auto"`` or a relative orbit number."""
    if isinstance(text, int) or str(text).strip().isdigit():
        return int(text)
    if str(text).strip().lower() == "auto":
        return "auto"
    raise ConfigError(f"--orbit {text!r}: give a relative orbit number (e.g. 135) or 'auto'")


def item_datetime(item: dict) -> datetime:
    """The item's (start) datetime, timezone-aware UTC."""
    props = item["properties"]
    raw = props.get("datetime") or props.get("start_datetime")
    dt = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return dt.astimezone(timezone.utc) if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _orbit_key(item: dict) -> tuple[int | None, str | None]:
    p = item.get("properties", {})
    orbit = p.get("sat:relative_orbit")
    state = p.get("sat:orbit_state")
    return (int(orbit) if orbit is not None else None, str(state).lower() if state is not None else None)


def _platform(items: Sequence[dict]) -> str:
    names = sorted({str(i.get("properties", {}).get("platform") or "unknown").lower() for i in items})
    return "+".join(names)


def coverage_fraction(items: Sequence[dict], bbox: Sequence[float]) -> float:
    """Fraction of the lon/lat ``bbox`` covered by the union of the items' footprints."""
    from shapely.geometry import box, shape
    from shapely.ops import unary_union

    area = box(*bbox)
    if not area.area:
        return 0.0
    union = unary_union([shape(i["geometry"]) if i.get("geometry") else box(*i["bbox"]) for i in items])
    return float(union.intersection(area).area / area.area)


@dataclass
class _Candidate:
    orbit: int | None
    state: str | None
    days: dict[date, list[dict]]  # covering days only
    partial: list[tuple[date, float]]  # days that leave part of the area uncovered
    repeat_days: int
    pre: list[date] = field(default_factory=list)
    post: list[date] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"relative orbit {self.orbit} ({self.state or 'orbit state unknown'})"

    def next_pass_after(self, event: date) -> date | None:
        """First day after ``event`` on this orbit's repeat cycle (from its last known day)."""
        if not self.days:
            return None
        last = max(self.days)
        if last > event:
            return last
        k = (event - last).days // self.repeat_days + 1
        return last + timedelta(days=k * self.repeat_days)


def _candidates(items: Sequence[dict], req: AcquisitionRequest, bbox: Sequence[float] | None) -> list[_Candidate]:
    groups: dict[tuple[int | None, str | None], dict[date, list[dict]]] = {}
    for it in items:
        orbit, state = _orbit_key(it)
        if req.orbit != "auto" and orbit not in (None, req.orbit):
            continue
        if req.orbit_state != "auto" and state not in (None, req.orbit_state):
            continue
        groups.setdefault((orbit, state), {}).setdefault(item_datetime(it).date(), []).append(it)
    out = []
    for (orbit, state), by_day in sorted(groups.items(), key=lambda kv: (kv[0][0] or 0, kv[0][1] or "")):
        full, partial = {}, []
        for d, its in by_day.items():
            f = coverage_fraction(its, bbox) if bbox is not None else 1.0
            if f >= MIN_COVERAGE:
                full[d] = its
            else:
                partial.append((d, round(f, 3)))
        days = sorted(by_day)
        gaps = [(b - a).days for a, b in zip(days, days[1:]) if (b - a).days >= 6]
        out.append(_Candidate(orbit, state, full, sorted(partial), min(gaps) if gaps else REPEAT_DAYS))
    return out


def select_acquisitions(
    items: Sequence[dict],
    request: AcquisitionRequest | None = None,
    bbox: Sequence[float] | None = None,
) -> list[Acquisition]:
    """The pre- and post-event acquisitions of ``items`` for ``request`` (see module docstring).

    Args:
        items: Sentinel-1 STAC item dicts (any orbits, states, dates; several slices per day).
        request: event date, orbit, orbit state, pre/post counts (default: paper Table 1).
        bbox: the area (lon/lat W S E N); days whose slices do not cover it are skipped.
            None: every day counts (a local catalog made for the area).

    Returns:
        The acquisitions in time order, pre-event first.

    Raises:
        NoItemsFoundError: no item of the asked orbit, fewer pre-event days than asked, or no
            post-event day yet (when post-event days are asked for).
    """
    req = request or AcquisitionRequest()
    if not req.wants_sar:
        return []
    cands = _candidates(items, req, bbox)
    if not cands:
        seen = sorted({_orbit_key(i) for i in items}, key=lambda k: (k[0] or 0, k[1] or ""))
        raise NoItemsFoundError(
            f"no Sentinel-1 item of {req.describe()} over the area; the search found "
            f"{', '.join(f'orbit {o} {s}' for o, s in seen) or 'no Sentinel-1 item at all'}. "
            "Choose one of those with --orbit N --orbit-state STATE, or --orbit auto."
        )
    for c in cands:
        _split_days(c, req)
    wants_post = req.n_post is None or req.n_post > 0
    usable = [c for c in cands if len(c.pre) == req.n_pre and (c.post or not wants_post)]
    if not usable:
        raise _why_none(cands, req)
    best = min(usable, key=lambda c: (c.post[0] if c.post else date.max, -len(c.post), -len(c.pre), c.orbit or 0))
    _log_choice(best, cands, req, wants_post)
    return _acquisitions(best)


def _split_days(c: _Candidate, req: AcquisitionRequest) -> None:
    """Set the candidate's pre-event days (the last ``n_pre``) and post-event days (the first ones)."""
    event = req.event_date
    c.pre = [d for d in sorted(c.days) if d < event][-req.n_pre :] if req.n_pre else []
    limit = MAX_POST if req.n_post is None else req.n_post
    c.post = [d for d in sorted(c.days) if d > event][:limit] if limit else []
    if event in c.days:
        log.info("%s: the pass on the event day %s is neither pre- nor post-event; skipped", c.name, event)
    if c.partial:
        log.info(
            "%s: days that cover only part of the area (fraction) skipped: %s",
            c.name,
            ", ".join(f"{d} ({f})" for d, f in c.partial),
        )


def _log_choice(best: _Candidate, cands: list[_Candidate], req: AcquisitionRequest, wants_post: bool) -> None:
    """Log why ``best`` was picked among several candidates, and fewer post-event passes than asked."""
    if len(cands) > 1 or req.orbit == "auto":
        others = "; ".join(
            f"{c.name}: first post-event pass {c.post[0] if c.post else 'none'}"
            + ("" if len(c.pre) == req.n_pre else f", only {len(c.pre)} of {req.n_pre} pre-event passes")
            for c in cands
            if c is not best
        )
        log.info(
            "picked %s: its first post-event pass covering the area, %s, is the earliest%s",
            best.name,
            best.post[0] if best.post else "none",
            f" (others: {others})" if others else "",
        )
    asked = MAX_POST if req.n_post is None else req.n_post
    if wants_post and len(best.post) < asked:
        level = logging.WARNING if req.n_post is not None else logging.INFO
        log.log(
            level,
            "%s: %d post-event acquisition(s) after %s (%s), %s asked; using what exists",
            best.name,
            len(best.post),
            req.event_date,
            ", ".join(map(str, best.post)),
            asked,
        )


def _acquisitions(best: _Candidate) -> list[Acquisition]:
    """One acquisition per pre- and post-event day of ``best``, in time order."""
    out = []
    roles: tuple[tuple[Role, list], ...] = (("pre", best.pre), ("post", best.post))
    for role, days in roles:
        for d in days:
            its = sorted(best.days[d], key=lambda i: (item_datetime(i), str(i.get("id"))))
            out.append(
                Acquisition(
                    min(item_datetime(i) for i in its),
                    _platform(its),
                    best.orbit,
                    best.state,
                    role,
                    tuple(its),
                )
            )
    return out


def _why_none(cands: list[_Candidate], req: AcquisitionRequest) -> NoItemsFoundError:
    event = req.event_date
    no_post = [c for c in cands if len(c.pre) == req.n_pre and not c.post]
    if no_post:
        c = min(no_post, key=lambda c: c.next_pass_after(event) or date.max)
        nxt = c.next_pass_after(event)
        when = (
            (
                f"; the first pass of orbit {c.orbit} ({c.state}) is expected on {nxt} "
                f"({c.repeat_days}-day repeat after {max(c.days)})"
            )
            if nxt
            else ""
        )
        return NoItemsFoundError(
            f"no Sentinel-1 acquisition over the area after {event} yet{when}. Rerun then, "
            "or check --event-date / --orbit."
        )
    lines = [f"{c.name}: {len(c.pre)} pre-event day(s) {[str(d) for d in c.pre]}" for c in cands]
    return NoItemsFoundError(
        f"fewer than {req.n_pre} pre-event Sentinel-1 acquisitions covering the area before {event} "
        f"({'; '.join(lines)}). Widen the search, ask fewer with --pre, or choose another --orbit."
    )
