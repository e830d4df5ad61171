"""The result of reading a landslide inventory: the kept head points and the drop report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import geopandas as gpd

#: Reasons a row is dropped (the keys of :attr:`InventoryResult.dropped`).
EMPTY = "empty geometry"
INVALID = "invalid coordinates"
DUPLICATE = "duplicate row"
OUTSIDE = "outside area"


@dataclass
class InventoryResult:
    """Landslide head points read from an inventory file.

    Attributes:
        points: Point geometries in the requested CRS; column ``id`` is the 0-based row/feature
            number in the source file (so a point can be traced back to it); the file's other
            attribute columns follow (a source column named ``id`` becomes ``source_id``).
        n_read: Rows (CSV) or features (vector file) read.
        dropped: Reason -> number of rows dropped for it (only reasons that occurred).
        converted: Geometry type -> number of non-point geometries replaced by a point on them.
        source: The file read.
        crs: The CRS of ``points`` as a string (e.g. ``"EPSG:32619"``).
        coincident: Points kept that share their coordinates with an earlier point but differ
            in an attribute.
        wrapped: Longitudes given in 0-360° and wrapped to -180-180°.
        layer: The layer read from a multi-layer file (``None`` for single-layer files and CSVs).
    """

    points: gpd.GeoDataFrame
    n_read: int
    dropped: dict[str, int] = field(default_factory=dict)
    converted: dict[str, int] = field(default_factory=dict)
    source: Path | None = None
    crs: str = ""
    coincident: int = 0
    wrapped: int = 0
    layer: str | None = None

    @property
    def n_kept(self) -> int:
        """Number of points kept."""
        return len(self.points)

    def summary(self) -> str:
        """One line for logs, the CLI and the dashboard."""
        name = self.source.name if self.source is not None else "inventory"
        text = f"{name}: read {self.n_read:,}, kept {self.n_kept:,} landslide points"
        n_dropped = sum(self.dropped.values())
        if n_dropped:
            parts = ", ".join(f"{n:,} {why}" for why, n in self.dropped.items())
            text += f"; dropped {n_dropped:,} ({parts})"
        if self.converted:
            parts = ", ".join(f"{n:,} {kind}" for kind, n in self.converted.items())
            text += f"; converted to points: {parts}"
        if self.coincident:
            text += f"; {self.coincident:,} kept at the coordinates of another point"
        if self.wrapped:
            text += f"; {self.wrapped:,} longitudes wrapped from 0-360°"
        if self.layer is not None:
            text += f"; layer {self.layer!r}"
        if self.crs:
            text += f" [{self.crs}]"
        return text
