"""Dashboard exports: the density map (GeoTIFF + GeoPackage) and the inspector figure (PNG).

Files go to ``DATA/exports/`` only. Their names are made here from a configuration key and a
chip id, never from text typed in the page, and every path is checked to resolve inside the
exports directory (:func:`export_path`), so nothing can be written elsewhere.
"""

from __future__ import annotations

import re
from pathlib import Path

from landslide_app.atomic import write_bytes_atomic
from landslide_app.errors import InputError

EXPORTS_DIR = "exports"
_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")


def exports_dir(data_dir: str | Path) -> Path:
    """``DATA/exports`` (created)."""
    d = Path(data_dir).resolve() / EXPORTS_DIR
    d.mkdir(parents=True, exist_ok=True)
    return d


def export_path(directory: str | Path, name: str) -> Path:
    """``directory / name`` after checking that ``name`` is a plain file name that stays inside.

    Raises:
        InputError: ``name`` holds a separator, ``..``, is absolute, or resolves (through a
            link) outside ``directory``.
    """
    root = Path(directory).resolve()
    if not isinstance(name, str) or not _SAFE.match(name) or ".." in name:
        raise InputError(f"refusing to write {name!r}: export names are plain file names made by the app")
    path = (root / name).resolve()
    if path.parent != root or not path.is_relative_to(root):
        raise InputError(f"refusing to write {name!r}: it would land outside {root}")
    return path


def density_names(key: str) -> tuple[str, str]:
    return f"density-{key}.tif", f"chips-{key}.gpkg"


def inspector_name(chip_id: int, key: str) -> str:
    return f"inspector-chip{int(chip_id)}-{key}.png"


def export_density(state, spec) -> list[Path]:
    """Write the predicted density map of a computed configuration: GeoTIFF (one pixel per
    chip: class + 3 probabilities) and GeoPackage (chip polygons), with provenance."""
    from landslide_app.experiments.export import write_chips_gpkg, write_density_geotiff

    view = state.view(spec, plots=False)
    if not view.computed or view.predictions is None:
        raise InputError(f"{spec.key} has not been computed yet: press Run first, then export")
    d = exports_dir(state.paths.root)
    tif_name, gpkg_name = density_names(spec.key)
    p = view.predictions
    prov = state.provenance(spec)
    tif = write_density_geotiff(export_path(d, tif_name), state.grid, p["chip_id"], p["pred_class"], p["proba"], prov)
    gpkg = write_chips_gpkg(export_path(d, gpkg_name), state.index, p["chip_id"], p["pred_class"], p["proba"], prov)
    return [tif, gpkg]


def export_png(state, png: bytes, chip_id: int, key: str) -> Path:
    """Write the inspector figure of a chip."""
    path = export_path(exports_dir(state.paths.root), inspector_name(chip_id, key))
    write_bytes_atomic(path, png)
    return path
