"""Coordinate reference systems of an inventory: the user's CRS, geographic ranges, reprojection."""

from __future__ import annotations

import numpy as np

from landslide_app.errors import InventoryError


def user_crs(crs):
    """``crs`` as a pyproj CRS; an unknown one is refused with the ``--crs`` forms to pass."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(crs)
    except CRSError as err:
        raise InventoryError(
            f"unknown inventory CRS {crs!r} ({err}); pass --crs as EPSG:NNNN, e.g. --crs EPSG:4326 for "
            "longitude/latitude or the UTM zone such as --crs EPSG:32619."
        ) from err


def is_geographic(crs) -> bool:
    """Whether ``crs`` (or the horizontal part of a compound CRS) is geographic."""
    from pyproj import CRS

    pcrs = CRS.from_user_input(crs)
    if pcrs.is_compound:
        pcrs = pcrs.sub_crs_list[0]
    return bool(pcrs.is_geographic)


def in_geographic_range(x: np.ndarray, y: np.ndarray, crs) -> np.ndarray:
    """True where (x, y) are plausible lon/lat for a geographic ``crs`` (always True otherwise)."""
    from pyproj import CRS

    pcrs = CRS.from_user_input(crs)
    if pcrs.is_compound:
        pcrs = pcrs.sub_crs_list[0]
    if not pcrs.is_geographic:
        return np.ones(len(x), dtype=bool)
    to_deg = pcrs.axis_info[0].unit_conversion_factor / (np.pi / 180.0)
    with np.errstate(invalid="ignore"):
        return (np.abs(x * to_deg) <= 180.0) & (np.abs(y * to_deg) <= 90.0)


def transform_points(src_crs, dst_crs, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) reprojected from ``src_crs`` to ``dst_crs`` (always x/y order); NaN or inf where it fails."""
    from pyproj import CRS, Transformer

    src, dst = CRS.from_user_input(src_crs), CRS.from_user_input(dst_crs)
    if src == dst:
        return x.astype(float), y.astype(float)
    tr = Transformer.from_crs(src, dst, always_xy=True)
    with np.errstate(all="ignore"):
        tx, ty = tr.transform(x, y, errcheck=False)
    return np.asarray(tx, dtype=float), np.asarray(ty, dtype=float)
