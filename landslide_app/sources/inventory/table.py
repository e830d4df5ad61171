"""Inventory tables: landslide points from the longitude/latitude columns of a CSV/TSV file."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from landslide_app.errors import InventoryError
from landslide_app.sources.inventory.crs import user_crs

logger = logging.getLogger(__name__)

#: Extensions read as delimited text tables (lon/lat columns) rather than through OGR.
TABLE_SUFFIXES: frozenset[str] = frozenset({".csv", ".tsv", ".txt"})
#: Column names recognised (case-insensitively), in order of preference.
LON_COLUMNS: tuple[str, ...] = ("longitude", "lon", "long", "lng", "x")
LAT_COLUMNS: tuple[str, ...] = ("latitude", "lat", "y")


def read_table(path: Path, lon_col: str | None, lat_col: str | None, csv_crs):
    """x, y (float arrays), empty (bool array), source CRS, attributes and ``{}`` (nothing converted)."""
    src_crs = user_crs(4326 if csv_crs is None else csv_crs)
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        df = pd.read_csv(path, sep=sep, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        if df.shape[1] == 1 and sep == ",":
            header = str(df.columns[0])
            for other in (";", "\t", "|"):
                if other in header:
                    df = pd.read_csv(path, sep=other, encoding="utf-8-sig", dtype=str,
                                     keep_default_na=False)  # fmt: skip
                    break
    except pd.errors.EmptyDataError as err:
        raise InventoryError(
            f"inventory {path} is empty (no header, no rows); give a CSV with a header and one row per landslide."
        ) from err
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as err:
        raise InventoryError(
            f"inventory {path} cannot be read as a CSV table ({err}); save it as UTF-8 CSV with a "
            "header row, or as a GeoPackage/shapefile/GeoJSON."
        ) from err
    df.columns = [str(c).strip() for c in df.columns]
    lon = _pick_column(df, lon_col, LON_COLUMNS, "longitude", "--lon-col", path)
    lat = _pick_column(df, lat_col, LAT_COLUMNS, "latitude", "--lat-col", path)
    if lon == lat:
        raise InventoryError(
            f"inventory {path}: the same column {lon!r} was chosen for longitude and latitude; "
            "pass different --lon-col and --lat-col."
        )
    raw_x, raw_y = df[lon].str.strip(), df[lat].str.strip()
    empty = ((raw_x == "") | (raw_y == "")).to_numpy()
    x = _to_float(raw_x)
    y = _to_float(raw_y)
    logger.info("inventory %s: coordinates from columns %r (x/lon) and %r (y/lat), %s",
                path.name, lon, lat, src_crs.to_string())  # fmt: skip
    return x, y, empty, src_crs, df, {}


def _to_float(values: pd.Series) -> np.ndarray:
    """Numbers from text; a decimal comma ("18,25", from ';'-separated files) is accepted."""
    out = pd.to_numeric(values, errors="coerce")
    comma = out.isna() & values.str.fullmatch(r"[-+]?\d+,\d+")
    if comma.any():
        out[comma] = pd.to_numeric(values[comma].str.replace(",", ".", regex=False))
    return out.to_numpy(dtype=float)


def _pick_column(df, explicit, candidates, what, flag, path) -> str:
    columns = list(df.columns)
    by_lower = {c.lower(): c for c in reversed(columns)}  # first occurrence wins
    if explicit is not None:
        if explicit in columns:
            return explicit
        if explicit.lower() in by_lower:
            return by_lower[explicit.lower()]
        raise InventoryError(
            f"inventory {path} has no column {explicit!r} (given as the {what} column); the "
            f"columns are {columns}. Pass one of them with {flag}."
        )
    for name in candidates:
        if name in by_lower:
            return by_lower[name]
    raise InventoryError(
        f"inventory {path} has no recognisable {what} column (looked for "
        f"{', '.join(candidates)}, any case); the columns are {columns}. Pass the coordinate "
        "columns with --lon-col and --lat-col (longitude/latitude in EPSG:4326)."
    )
