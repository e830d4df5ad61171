"""Constants shared by every stage: channel order, chip geometry, density classes, dates.

The values follow Boehm et al., "Deep learning based landslide density estimation on SAR data for
rapid response" (§2, Table 1) and ``docs/design.md`` (§3-4).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Literal

#: Pixel size of the chip grid in metres (Sentinel-1 RTC resolution).
PIXEL_SIZE_M: float = 10.0
#: Default chip edge in pixels.
CHIP_SIZE: int = 128
#: CRS of the Puerto Rico chip grid (UTM 19N; the island straddles 19N/20N).
DEFAULT_EPSG: int = 32619

DEM_CHANNELS: tuple[str, ...] = ("elevation", "slope", "curvature", "aspect")
#: Aspect given to flat cells (slope exactly 0), whose facing direction is undefined
#: (ArcGIS convention; valid aspects are in [0, 360) degrees clockwise from north).
FLAT_ASPECT_DEG: float = -1.0

#: Sentinel-1 acquisitions of paper Table 1 (relative orbit 135, ascending): 3 pre, 3 post.
S1_DATES: tuple[datetime, ...] = (
    datetime(2017, 8, 23, 22, 36, 37, tzinfo=timezone.utc),
    datetime(2017, 9, 4, 22, 36, 37, tzinfo=timezone.utc),
    datetime(2017, 9, 16, 22, 36, 38, tzinfo=timezone.utc),
    datetime(2017, 9, 22, 22, 35, 44, tzinfo=timezone.utc),
    datetime(2017, 10, 10, 22, 36, 38, tzinfo=timezone.utc),
    datetime(2017, 10, 22, 22, 36, 38, tzinfo=timezone.utc),
)
S1_PLATFORMS: tuple[str, ...] = (
    "sentinel-1a",
    "sentinel-1a",
    "sentinel-1a",
    "sentinel-1b",
    "sentinel-1a",
    "sentinel-1a",
)
#: Hurricane María landfall in Puerto Rico.
EVENT_DATE: datetime = datetime(2017, 9, 20, tzinfo=timezone.utc)
RELATIVE_ORBIT: int = 135
ORBIT_STATE: Literal["ascending", "descending"] = "ascending"
N_PRE_DATES: int = 3
N_POST_DATES: int = 3

POLARISATIONS: tuple[str, ...] = ("vv", "vh")


def sar_channel_names(n_dates: int = N_PRE_DATES + N_POST_DATES) -> tuple[str, ...]:
    """Names of the SAR channels in chip order: ``vv_t0, vh_t0, vv_t1, ...``."""
    return tuple(f"{pol}_t{i}" for i in range(n_dates) for pol in POLARISATIONS)


LABEL_CHANNEL: str = "label"
#: The 17 chip channels of docs/design.md §4, in order.
CHANNELS: tuple[str, ...] = DEM_CHANNELS + sar_channel_names() + (LABEL_CHANNEL,)

#: Density-class thresholds in landslide heads per km²: class 0 if none, 1 if (0, 25], 2 above.
DEFAULT_DENSITY_THRESHOLDS: tuple[float, float] = (0.0, 25.0)
#: A chip is kept when at least this fraction of its pixels lies on land with valid data.
DEFAULT_MIN_LAND_FRACTION: float = 0.5
