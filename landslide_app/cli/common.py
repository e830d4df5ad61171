"""What the sub-command modules of the CLI share: the output line, the parser class, integer option
types, and the event/acquisition and normalisation options of every command that reads a source."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from landslide_app.core.vocabulary import DEFAULT_DEM_COLLECTION
from landslide_app.errors import ConfigError

if TYPE_CHECKING:
    from landslide_app.sources.stac import SceneSource

#: ``add_subparsers()``'s object: each command module adds its parsers to it.
SubParsers = argparse._SubParsersAction  # noqa: SLF001 - argparse names no public type for it


def emit(text: str) -> None:
    """The CLI's output layer (stdout): results, not logs."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


class CliParser(argparse.ArgumentParser):
    """An argument parser whose mistakes are :class:`ConfigError` (one message, exit code 2)."""

    def error(self, message: str):
        raise ConfigError(f"{message}\n{self.format_usage().strip()}\n(see `{self.prog} --help`)")


def non_negative_int(text: str) -> int:
    """An argparse ``type``: an integer >= 0."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{v} must be 0 or positive")
    return v


def positive_int(text: str) -> int:
    """An argparse ``type``: an integer > 0."""
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"{v} must be positive")
    return v


# ---- event and acquisition options (issue 11) ----------------------------------------------------
def _orbit_state(text: str) -> str:
    if text not in ("ascending", "descending", "auto"):
        raise argparse.ArgumentTypeError(f"{text!r}: use ascending, descending or auto")
    return text


def _count(lo: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not lo <= v <= 3:
            raise argparse.ArgumentTypeError(f"{v}: give {lo} to 3")
        return v

    return parse


def _event(text: str):
    from landslide_app.sources.selection import parse_event_date

    try:
        return parse_event_date(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _orbit(text: str):
    from landslide_app.sources.selection import parse_orbit

    try:
        return parse_orbit(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_source_options(s: argparse.ArgumentParser, event_required: bool = False) -> None:
    """Event and acquisition choice, for every command that reads a source (issue 11).

    ``event_required``: no default event (``respond``: a new disaster has no sensible default; ``chips``
    defaults to Hurricane María, paper Table 1)."""
    event_help = "event day: acquisitions before it are pre-event, after it post-event"
    if event_required:
        s.add_argument("--event-date", type=_event, required=True, metavar="YYYY-MM-DD", help=event_help)
    else:
        s.add_argument(
            "--event-date",
            type=_event,
            default=_event("2017-09-20"),
            metavar="YYYY-MM-DD",
            help=f"{event_help} (default 2017-09-20)",
        )
    s.add_argument(
        "--orbit",
        type=_orbit,
        default=135,
        metavar="N|auto",
        help="Sentinel-1 relative orbit, or auto: the orbit covering the area with the earliest "
        "post-event pass (default 135, paper Table 1)",
    )
    s.add_argument(
        "--orbit-state",
        type=_orbit_state,
        default="auto",
        metavar="ascending|descending|auto",
        help="orbit direction (default auto: any; a relative orbit number fixes it, 135 is ascending)",
    )
    s.add_argument("--pre", type=_count(1), default=3, metavar="K", help="pre-event acquisitions, 1-3 (default 3)")
    s.add_argument(
        "--post",
        type=_count(1),
        default=None,
        metavar="K",
        help="post-event acquisitions, 1-3 (default: as many as exist, up to 3)",
    )
    s.add_argument(
        "--sign",
        choices=["planetary-computer", "none"],
        default=None,
        help="sign asset hrefs of a STAC API (default: planetary-computer for Planetary Computer, else none)",
    )


def source_from_args(a: argparse.Namespace) -> SceneSource:
    """The scene source of ``--source`` with the acquisition options (:func:`add_source_options`)."""
    from landslide_app.sources.resolve import open_source
    from landslide_app.sources.selection import AcquisitionRequest
    from landslide_app.sources.stac import dem_only_source

    if a.source is None:
        if not (a.dem_only and a.dem):
            raise ConfigError("give --source CATALOG|STAC-API-URL|planetary-computer, or --dem-only --dem DEM.tif")
        return dem_only_source(a.dem)
    dem_only = getattr(a, "dem_only", False)
    request = AcquisitionRequest(
        a.event_date, a.orbit, a.orbit_state, 0 if dem_only else a.pre, 0 if dem_only else a.post
    )
    src = open_source(
        a.source,
        tuple(a.bbox) if a.bbox is not None else None,
        request,
        sign=a.sign,
        dem_collection=getattr(a, "dem_collection", DEFAULT_DEM_COLLECTION),
    )
    if getattr(a, "dem", None):
        src = src.with_dem_file(a.dem)
    return src.without_sar() if dem_only else src


def add_normalise_option(s: argparse.ArgumentParser) -> None:
    """``--normalise``: which statistics standardise the inputs (``predict``, ``respond``)."""
    from landslide_app.core.vocabulary import DEFAULT_NORMALISE, NORMALISE_MODES

    s.add_argument(
        "--normalise",
        choices=NORMALISE_MODES,
        default=DEFAULT_NORMALISE,
        help="input standardisation: the training chips' statistics, or this store's own "
        f"(scene) (default {DEFAULT_NORMALISE}, the better one on the transfer benchmark); for a sar-stats run, "
        "scene centres the change statistics on this store's median and uses the run's forest fitted so",
    )
