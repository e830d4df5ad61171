"""Where a source's SAR days go in the fixed chip layout, and what a store records about its inputs.

The chip layout is the model's contract and never changes: 4 DEM channels, VV/VH for 3 pre-event
slots (``t0..t2``, the latest pre-event day in ``t2``) and 3 post-event slots (``t3..t5``, the
first post-event day in ``t3``), and the label (17 channels). A source with fewer days (two days
after an event there is often one post-event pass) leaves the other slots NaN; the store records
which days it holds (:func:`store_meta`: dates, roles, platforms, orbit) so that a command needing
more post-event dates can say so (:meth:`~landslide_app.chips.store.ChipStore.check_revisits`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from landslide_app import __version__
from landslide_app.atomic import fingerprint
from landslide_app.chips.meta import StoreAcquisition, StoreMeta
from landslide_app.config import CHANNELS, EVENT_DATE, N_POST_DATES, N_PRE_DATES
from landslide_app.core.grid import ChipGrid

log = logging.getLogger(__name__)

#: What the label channel holds (recorded in ``store.json`` of a labelled store).
LABEL_DESCRIPTION = "per-pixel landslide head count (label > 0: pixel holds a head)"


@dataclass(frozen=True)
class SarLayout:
    """Source days ``first .. first + n_days - 1`` fill SAR slots ``slot0 .. slot0 + n_days - 1``."""

    first: int
    slot0: int
    n_days: int
    n_pre: int  # of those days, how many are pre-event

    @classmethod
    def of(cls, n_source_days: int, n_source_pre: int) -> SarLayout:
        """Keep the last 3 pre-event and the first 3 post-event days of a source, right- and left-aligned
        around the event between slots ``t2`` and ``t3``."""
        n_pre = min(n_source_pre, N_PRE_DATES)
        n_post = min(max(n_source_days - n_source_pre, 0), N_POST_DATES)
        return cls(first=n_source_pre - n_pre, slot0=N_PRE_DATES - n_pre, n_days=n_pre + n_post, n_pre=n_pre)

    def slot(self, day: int) -> int | None:
        """SAR slot of source day ``day`` (None: the layout has no room for it)."""
        k = day - self.first
        return self.slot0 + k if 0 <= k < self.n_days else None


def _datetime_of(item: dict) -> datetime | None:
    props = item.get("properties", {})
    raw = props.get("datetime") or props.get("start_datetime")
    if not raw:
        return None
    dt = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return dt.astimezone(timezone.utc) if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _one(values: set) -> Any:
    values = {v for v in values if v is not None}
    return next(iter(values)) if len(values) == 1 else None


def source_acquisitions(source: Any) -> list[StoreAcquisition]:
    """One record per SAR day of ``source`` in the store's layout (days it has no slot for left out).

    Uses the source's own acquisition records when it has them (``source.acquisitions``, each with
    ``to_dict()`` or a dict: datetime, platform, relative_orbit, orbit_state, role, items), else
    reads them from the items of ``source.sar_days`` (``platform``, ``sat:relative_orbit``,
    ``sat:orbit_state`` properties)."""
    days = list(source.sar_days)
    layout = SarLayout.of(len(days), source.n_pre)
    given = list(getattr(source, "acquisitions", None) or [])
    out = []
    for i, (day, items) in enumerate(days):
        slot = layout.slot(i)
        if slot is None:
            continue
        rec = given[i] if len(given) == len(days) else None
        if rec is not None:
            d = rec.to_dict() if hasattr(rec, "to_dict") else dict(rec)
            out.append(
                StoreAcquisition(
                    date=str(day),
                    datetime=str(d.get("datetime")) if d.get("datetime") else None,
                    role=str(d.get("role") or ("pre" if i < source.n_pre else "post")),
                    slot=slot,
                    platform=d.get("platform"),
                    relative_orbit=d.get("relative_orbit"),
                    orbit_state=d.get("orbit_state"),
                    items=tuple(str(x) for x in d.get("items") or (it.get("id") for it in items)),
                )
            )
            continue
        props = [it.get("properties", {}) for it in items]
        times = sorted(t for t in (_datetime_of(it) for it in items) if t is not None)
        platforms = sorted({str(p["platform"]).lower() for p in props if p.get("platform")})
        orbit = _one({p.get("sat:relative_orbit") for p in props})
        out.append(
            StoreAcquisition(
                date=str(day),
                datetime=times[0].isoformat() if times else None,
                role="pre" if i < source.n_pre else "post",
                slot=slot,
                platform="+".join(platforms) or None,
                relative_orbit=None if orbit is None else int(orbit),
                orbit_state=_one({p.get("sat:orbit_state") for p in props}),
                items=tuple(sorted(str(it.get("id")) for it in items)),
            )
        )
    return out


def _event_date(source: Any) -> str | None:
    ev = getattr(source, "event_date", None)
    if ev is None:
        request = getattr(source, "request", None)
        ev = getattr(request, "event_date", None)
    if ev is None:
        ev = EVENT_DATE if source.has_sar else None
    if isinstance(ev, datetime):
        ev = ev.date()
    return ev.isoformat() if isinstance(ev, date) else (str(ev) if ev is not None else None)


def store_meta(
    source: Any, grid: ChipGrid, settings: Any, label_fingerprint: str | None, inventory: dict[str, Any] | None
) -> StoreMeta:
    """The metadata of a new store built from ``source`` on ``grid`` (``inventory``: its report, None
    for an unlabelled store). ``data_fingerprint`` covers what the chip data depend on (rasters,
    items, grid, land filter, code version); ``fingerprint`` adds the labels (inventory, thresholds)."""
    acqs = source_acquisitions(source) if source.has_sar else []
    if source.has_sar and len(acqs) != len(source.sar_days):
        log.warning(
            "the source has %d SAR days; the chip layout holds the last %d pre-event and the first %d "
            "post-event days: %d left out",
            len(source.sar_days),
            N_PRE_DATES,
            N_POST_DATES,
            len(source.sar_days) - len(acqs),
        )
    n_pre = sum(a.role == "pre" for a in acqs)
    if source.has_sar and len(acqs) - n_pre < N_POST_DATES:
        log.info(
            "%d post-event SAR date(s): SAR slots t%d..t%d stay NaN (models with more revisits need more)",
            len(acqs) - n_pre,
            N_PRE_DATES + len(acqs) - n_pre,
            N_PRE_DATES + N_POST_DATES - 1,
        )
    data_inputs = {
        "source": source.description,
        "items": (
            sorted(i["id"] for _, items in source.sar_days for i in items) + sorted(i["id"] for i in source.dem_items)
        ),
        "grid": grid.to_dict(),
        "min_land": settings.min_land_fraction,
        "has_sar": source.has_sar,
        "slots": [a.slot for a in acqs],
        "code_version": __version__,
    }
    data_fp = fingerprint(data_inputs)
    labelled = label_fingerprint is not None
    return StoreMeta(
        grid=grid,
        channels=CHANNELS,
        fingerprint=fingerprint({"data": data_fp, "labels": label_fingerprint}),
        data_fingerprint=data_fp,
        label_fingerprint=label_fingerprint,
        source=source.description,
        has_sar=source.has_sar,
        dates=tuple(a.date for a in acqs),
        n_pre_dates=n_pre,
        event_date=_event_date(source),
        relative_orbit=_one({a.relative_orbit for a in acqs}),
        orbit_state=_one({a.orbit_state for a in acqs}),
        acquisitions=tuple(acqs),
        labelled=labelled,
        density_thresholds=tuple(settings.density_thresholds) if labelled else None,
        min_land_fraction=settings.min_land_fraction,
        chip_area_km2=grid.chip_area_km2,
        label=LABEL_DESCRIPTION if labelled else None,
        inventory=inventory,
        created=datetime.now().isoformat(timespec="seconds"),
    )


def with_labels(
    meta: StoreMeta,
    label_fingerprint: str | None,
    thresholds: tuple[float, float] | None,
    inventory: dict[str, Any] | None,
) -> StoreMeta:
    """``meta`` of a store relabelled (``label_fingerprint`` None: unlabelled)."""
    labelled = label_fingerprint is not None
    return meta.with_(
        labelled=labelled,
        label_fingerprint=label_fingerprint,
        fingerprint=fingerprint({"data": meta.data_fingerprint, "labels": label_fingerprint}),
        density_thresholds=tuple(thresholds) if labelled and thresholds is not None else None,
        label=LABEL_DESCRIPTION if labelled else None,
        inventory=inventory if labelled else None,
    )
