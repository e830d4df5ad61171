"""North-up raster grids in a projected CRS: the pieces every grid shares, and the chip grid.

* :func:`check_grid_epsg`, :func:`crs_name`, :func:`north_up_transform`, :func:`grid_bounds`: the CRS
  and transform logic shared by :class:`ChipGrid` and :class:`landslide_app.scene.grid.SceneGrid`.
* :class:`ChipGrid`: a grid cut into square chips. Chip ``(row, col)`` covers pixels
  ``[row*S, (row+1)*S) x [col*S, (col+1)*S)`` of the grid; its integer id is ``row * n_cols + col``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

from pyproj import CRS, Transformer
from rasterio.transform import Affine

from landslide_app.config import CHIP_SIZE, PIXEL_SIZE_M
from landslide_app.errors import ConfigError


@functools.lru_cache(maxsize=64)
def check_grid_epsg(epsg: int) -> int:
    """``epsg`` if it is a known projected CRS in metres (a chip grid needs one), else ConfigError."""
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_epsg(int(epsg))
    except (CRSError, ValueError, TypeError, OverflowError):
        raise ConfigError(
            f"EPSG:{epsg} is not a known CRS; give the EPSG code of a projected CRS in metres, "
            "e.g. the UTM zone of the area (--epsg 326ZZ north of the equator, 327ZZ south)"
        ) from None
    unit = crs.axis_info[0].unit_name if crs.axis_info else ""
    if not crs.is_projected or unit not in ("metre", "meter"):
        raise ConfigError(
            f"EPSG:{epsg} ({crs.name}) is not a projected CRS in metres; chips are cut on a grid "
            "of 10 m pixels, so give e.g. the UTM zone of the area (--epsg 326ZZ north, 327ZZ south)"
        )
    return int(epsg)


def crs_name(epsg: int) -> str:
    """``"EPSG:<code>"``, the CRS string rasterio, pyproj and GeoPandas accept."""
    return f"EPSG:{int(epsg)}"


def north_up_transform(x0: float, y0: float, pixel_m: float) -> Affine:
    """Affine pixel-to-CRS transform of a north-up grid whose top-left corner is ``(x0, y0)``."""
    return Affine(pixel_m, 0.0, x0, 0.0, -pixel_m, y0)


def grid_bounds(x0: float, y0: float, width: int, height: int, pixel_m: float) -> tuple[float, float, float, float]:
    """``(left, bottom, right, top)`` of a north-up grid of ``width x height`` pixels."""
    return (x0, y0 - height * pixel_m, x0 + width * pixel_m, y0)


@dataclass(frozen=True)
class ChipGrid:
    """A grid of ``n_rows x n_cols`` chips of ``chip_size`` pixels of ``resolution`` metres."""

    epsg: int
    x0: float  # left edge (m)
    y0: float  # top edge (m)
    n_rows: int
    n_cols: int
    chip_size: int = CHIP_SIZE
    resolution: float = PIXEL_SIZE_M

    def __post_init__(self) -> None:
        if self.n_rows < 1 or self.n_cols < 1:
            raise ConfigError(
                f"the area holds no whole chip ({self.n_rows} x {self.n_cols}); "
                "give a larger --bbox or a smaller --chip-size"
            )
        if self.chip_size < 8:
            raise ConfigError(f"--chip-size {self.chip_size} is too small; use at least 8 pixels")
        if self.resolution <= 0:
            raise ConfigError(f"resolution must be positive, got {self.resolution}")
        check_grid_epsg(self.epsg)

    # ---- derived geometry -------------------------------------------------------------
    @property
    def chip_extent_m(self) -> float:
        return self.chip_size * self.resolution

    @property
    def chip_area_km2(self) -> float:
        return (self.chip_extent_m / 1000.0) ** 2

    @property
    def width(self) -> int:
        return self.n_cols * self.chip_size

    @property
    def height(self) -> int:
        return self.n_rows * self.chip_size

    @property
    def n_chips(self) -> int:
        return self.n_rows * self.n_cols

    @property
    def crs(self) -> str:
        return crs_name(self.epsg)

    @property
    def transform(self) -> Affine:
        return north_up_transform(self.x0, self.y0, self.resolution)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in the grid CRS."""
        return grid_bounds(self.x0, self.y0, self.width, self.height, self.resolution)

    def chip_rc(self, chip_id: int) -> tuple[int, int]:
        return divmod(int(chip_id), self.n_cols)

    def chip_id(self, row: int, col: int) -> int:
        return int(row) * self.n_cols + int(col)

    def chip_bounds(self, chip_id: int) -> tuple[float, float, float, float]:
        row, col = self.chip_rc(chip_id)
        ext = self.chip_extent_m
        left = self.x0 + col * ext
        top = self.y0 - row * ext
        return (left, top - ext, left + ext, top)

    def chip_transform(self, chip_id: int) -> Affine:
        left, _, _, top = self.chip_bounds(chip_id)
        return north_up_transform(left, top, self.resolution)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ChipGrid:
        try:
            return cls(**{k: d[k] for k in ("epsg", "x0", "y0", "n_rows", "n_cols", "chip_size", "resolution")})
        except (KeyError, TypeError) as exc:
            raise ConfigError(
                f"the chip grid description {d!r} is incomplete or malformed (missing or bad {exc})"
            ) from None

    # ---- construction -----------------------------------------------------------------
    @classmethod
    def from_bounds(
        cls,
        bounds: tuple[float, float, float, float],
        epsg: int,
        chip_size: int = CHIP_SIZE,
        resolution: float = PIXEL_SIZE_M,
    ) -> ChipGrid:
        """Whole chips inside ``bounds`` (left, bottom, right, top, in ``epsg``), snapped to the pixel grid."""
        check_grid_epsg(epsg)
        left, bottom, right, top = bounds
        if not (right > left and top > bottom):
            raise ConfigError(f"bounds {bounds} are empty: expected left < right and bottom < top")
        ext = chip_size * resolution
        x0 = math.ceil(left / resolution) * resolution
        y0 = math.floor(top / resolution) * resolution
        n_cols = int((right - x0 + 1e-6) // ext)
        n_rows = int((y0 - bottom + 1e-6) // ext)
        return cls(
            epsg=int(epsg),
            x0=float(x0),
            y0=float(y0),
            n_rows=n_rows,
            n_cols=n_cols,
            chip_size=int(chip_size),
            resolution=float(resolution),
        )

    @classmethod
    def from_lonlat_bbox(
        cls,
        bbox: tuple[float, float, float, float],
        epsg: int,
        chip_size: int = CHIP_SIZE,
        resolution: float = PIXEL_SIZE_M,
    ) -> ChipGrid:
        """Grid over a lon/lat box ``(W, S, E, N)`` in the projected CRS ``epsg``."""
        west, south, east, north = bbox
        if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
            raise ConfigError(f"--bbox {bbox} is not a lon/lat box: give W S E N in degrees with W < E and S < N")
        check_grid_epsg(epsg)
        tr = Transformer.from_crs(CRS.from_epsg(4326), CRS.from_epsg(epsg), always_xy=True)
        bounds = tr.transform_bounds(west, south, east, north)
        return cls.from_bounds(bounds, epsg, chip_size, resolution)
