"""The catalogue of malformed inputs (docs/bad_inputs.md): each one gives a typed error whose
message says what to change; from the CLI an exit code != 0 and no traceback; nothing is left
behind (no temporary file, no half-written output).

Every case makes its bad input in its own ``tmp_path`` from the tiny scene, its chip store and a
1-epoch DEM run, then runs the CLI in-process (``landslide_app.cli.main``) or, for library-only
inputs (settings mappings, model files), the function a program would call.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.transform import Affine

from landslide_app import cli
from landslide_app.atomic import file_digest, find_temps
from landslide_app.errors import (
    ChipStoreError,
    ConfigError,
    InputError,
    InventoryError,
    LandslideAppError,
    ModelFileError,
    NoItemsFoundError,
    OutputError,
    RasterError,
    SourceError,
    UntrustedFileError,
)
from landslide_app.testing.malicious import write_npz_payload, write_pickle_payload, write_skops_payload

# ---- shared inputs ------------------------------------------------------------------------------


@dataclass
class Ctx:
    scene: Path
    store: Path
    dem_run: Path
    fused_run: Path
    dem_only_store: Path


def link_copy(src: Path, dst: Path) -> Path:
    """Copy a tree with hard links (cheap); change files only with :func:`replace_file`."""
    shutil.copytree(src, dst, copy_function=os.link)
    return dst


def replace_file(path: Path, data: bytes | str) -> None:
    """Write ``path`` as a new file (never through a hard link shared with a fixture)."""
    path.unlink(missing_ok=True)
    (path.write_text if isinstance(data, str) else path.write_bytes)(data)


def fabricate_run(src: Path, dst: Path, inputs: str, revisits: int = 3) -> Path:
    """A run directory of another configuration (untrained weights; loading only needs them valid)."""
    import torch

    from landslide_app.model.inputs import ModelConfig, NormStats
    from landslide_app.model.network import EmbeddingNet
    from landslide_app.model.trained import TrainedModel

    dst.mkdir(parents=True)
    ck = torch.load(src / "model.pt", weights_only=True)
    cfg = ModelConfig(inputs, revisits)  # type: ignore[arg-type]
    TrainedModel(
        cfg, NormStats.from_dict(ck["stats"]), EmbeddingNet.for_config(cfg, int(ck["width"])), best_epoch=1
    ).save(dst / "model.pt")
    shutil.copy(src / "forest.npz", dst / "forest.npz")
    meta = json.loads((src / "run.json").read_text())
    meta.update(
        config=cfg.to_dict(),
        name=cfg.name,
        files={"model.pt": file_digest(dst / "model.pt"), "forest.npz": file_digest(dst / "forest.npz")},
    )
    (dst / "run.json").write_text(json.dumps(meta))
    return dst


@pytest.fixture(scope="module")
def ctx(scene_dir, tiny_store, dem_run, tmp_path_factory) -> Ctx:
    root = tmp_path_factory.mktemp("bad-inputs")
    fused = fabricate_run(dem_run, root / "fused-run", "fused", 3)
    dem_only = link_copy(tiny_store, root / "dem-only-store")
    meta = json.loads((dem_only / "store.json").read_text())
    meta["has_sar"] = False
    replace_file(dem_only / "store.json", json.dumps(meta))
    return Ctx(scene_dir, tiny_store, dem_run, fused, dem_only)


def dem_profile(ctx: Ctx) -> tuple[dict, np.ndarray]:
    with rasterio.open(ctx.scene / "dem" / "elevation.tif") as ds:
        return dict(ds.profile), ds.read(1)


def write_tif(path: Path, data: np.ndarray, profile: dict, **changes) -> Path:
    prof = {**profile, **changes}
    data = data if data.ndim == 3 else data[None]
    prof["count"] = data.shape[0]
    with rasterio.open(path, "w", **prof) as ds:
        ds.write(data)
    return path


def scene_copy(ctx: Ctx, tmp: Path) -> Path:
    return link_copy(ctx.scene, tmp / "scene")


def small_bbox(ctx: Ctx) -> list[str]:
    """A lon/lat box of about 3 x 3 land chips inside the tiny scene (fast builds)."""
    from pyproj import Transformer

    tr = Transformer.from_crs(32619, 4326, always_xy=True)
    w, s, e, n = tr.transform_bounds(683840.0, 2044880.0, 686400.0, 2047440.0)
    return [str(v) for v in (w, s, e, n)]


def chips_argv(ctx: Ctx, tmp: Path, *extra: str, source: str | None = None, inventory: str | None = None) -> list[str]:
    src = ["--source", source or str(ctx.scene / "catalog.json")] if source != "" else []
    return [
        "-q",
        "chips",
        *src,
        "--inventory",
        inventory or str(ctx.scene / "inventory.gpkg"),
        "--out",
        str(tmp / "out"),
        *extra,
    ]


def dem_only_argv(ctx: Ctx, tmp: Path, dem: Path, *extra: str) -> list[str]:
    return chips_argv(ctx, tmp, "--dem-only", "--dem", str(dem), *extra, source="")


def predict_argv(ctx: Ctx, tmp: Path, run: Path, store: Path | None = None) -> list[str]:
    return ["-q", "predict", "--model", str(run), "--chips", str(store or ctx.store), "--out", str(tmp / "out")]


def csv_inventory(tmp: Path, text: str, name: str = "heads.csv") -> str:
    (tmp / name).write_text(text)
    return str(tmp / name)


def inventory_lonlat(ctx: Ctx, n: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Lon/lat of the first ``n`` landslide heads of the scene."""
    import geopandas as gpd

    pts = gpd.read_file(ctx.scene / "inventory.gpkg").to_crs(4326).geometry[:n]
    return pts.x.to_numpy(), pts.y.to_numpy()


def store_copy(ctx: Ctx, tmp: Path) -> Path:
    return link_copy(ctx.store, tmp / "store")


def edit_json(path: Path, fn: Callable[[dict], Any]) -> None:
    d = json.loads(path.read_text())
    fn(d)
    replace_file(path, json.dumps(d))


def run_copy(ctx: Ctx, tmp: Path, which: str = "dem") -> Path:
    return link_copy(ctx.dem_run if which == "dem" else ctx.fused_run, tmp / "run")


def first_chunk(store: Path) -> Path:
    """The chunk file of the first kept chip (zarr v3 layout ``c/ROW/COL/0/0/0``)."""
    from landslide_app.chips.store import ChipStore

    st = ChipStore.open(store)
    row, col = st.grid.chip_rc(int(st.ids[0]))
    f = store / "chips.zarr" / "c" / str(row) / str(col) / "0" / "0" / "0"
    assert f.is_file()
    return f


# ---- the catalogue --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """One malformed input: ``make(ctx, tmp)`` returns CLI arguments or a callable."""

    id: str
    input: str
    error: type[LandslideAppError]
    match: str
    make: Callable[[Ctx, Path], Any]


def _dem_case(id_, input_, error, match, fn):
    def make(ctx, tmp):
        return dem_only_argv(ctx, tmp, fn(ctx, tmp))

    return Case(id_, input_, error, match, make)


def _garbage(ctx, tmp):
    (tmp / "dem.tif").write_bytes(os.urandom(4096))
    return tmp / "dem.tif"


def _empty(ctx, tmp):
    (tmp / "dem.tif").write_bytes(b"")
    return tmp / "dem.tif"


def _truncated(ctx, tmp):
    b = (ctx.scene / "dem" / "elevation.tif").read_bytes()
    (tmp / "dem.tif").write_bytes(b[: len(b) // 2])
    return tmp / "dem.tif"


def _three_bands(ctx, tmp):
    prof, z = dem_profile(ctx)
    return write_tif(tmp / "dem.tif", np.stack([z, z, z]), prof)


def _no_crs(ctx, tmp):
    prof, z = dem_profile(ctx)
    return write_tif(tmp / "dem.tif", z, prof, crs=None)


def _rotated(ctx, tmp):
    prof, z = dem_profile(ctx)
    return write_tif(tmp / "dem.tif", z, prof, transform=Affine(10.0, 2.0, 680000.0, 2.0, -10.0, 2050000.0))


def _all_nodata(ctx, tmp):
    prof, z = dem_profile(ctx)
    return write_tif(tmp / "dem.tif", np.full_like(z, np.nan), prof, nodata=np.nan)


def _below_sea(ctx, tmp):
    prof, z = dem_profile(ctx)
    return write_tif(tmp / "dem.tif", z - 5000.0, prof)


def _far_away_dem(ctx, tmp):
    prof, z = dem_profile(ctx)
    write_tif(tmp / "dem.tif", z, prof, transform=Affine(10.0, 0.0, 200000.0, 0.0, -10.0, 1000000.0))
    return chips_argv(ctx, tmp, "--dem", str(tmp / "dem.tif"))


def _sar_all_nan(ctx, tmp):
    sc = scene_copy(ctx, tmp)
    for f in sorted((sc / "sar").glob("S1B_20170922*.tif")):
        with rasterio.open(f) as ds:
            prof, shape = dict(ds.profile), ds.shape
        f.unlink()
        write_tif(f, np.full(shape, -32768.0, np.float32), prof)
    return chips_argv(ctx, tmp, "--bbox", *small_bbox(ctx), source=str(sc / "catalog.json"))


def _sar_missing(ctx, tmp):
    sc = scene_copy(ctx, tmp)
    next((sc / "sar").glob("S1A_20171010*_vh.tif")).unlink()
    return chips_argv(ctx, tmp, "--bbox", *small_bbox(ctx), source=str(sc / "catalog.json"))


def _sar_truncated(ctx, tmp):
    sc = scene_copy(ctx, tmp)
    f = next((sc / "sar").glob("S1A_20170904*_vv.tif"))
    b = f.read_bytes()
    replace_file(f, b[: len(b) // 3])
    return chips_argv(ctx, tmp, "--bbox", *small_bbox(ctx), source=str(sc / "catalog.json"))


def _sar_two_bands(ctx, tmp):
    sc = scene_copy(ctx, tmp)
    f = next((sc / "sar").glob("S1A_20170823*_vv.tif"))
    with rasterio.open(f) as ds:
        prof, a = dict(ds.profile), ds.read(1)
    f.unlink()
    write_tif(f, np.stack([a, a]), prof)
    return chips_argv(ctx, tmp, "--bbox", *small_bbox(ctx), source=str(sc / "catalog.json"))


def _catalog_not_json(ctx, tmp):
    (tmp / "catalog.json").write_text('{"type": "Catalog", "links": [')
    return chips_argv(ctx, tmp, source=str(tmp / "catalog.json"))


def _catalog_without_dem(ctx, tmp):
    sc = scene_copy(ctx, tmp)
    edit_json(sc / "catalog.json", lambda d: d.update(links=[ln for ln in d["links"] if "dem" not in ln["href"]]))
    return chips_argv(ctx, tmp, source=str(sc / "catalog.json"))


def _catalog_too_few_dates(ctx, tmp):
    sc = scene_copy(ctx, tmp)
    coll = sc / "stac" / "sentinel-1-rtc" / "collection.json"
    # no pass after the event at all (fewer post-event passes than 3 is normal and builds: issue 11)
    edit_json(
        coll,
        lambda d: d.update(
            links=[ln for ln in d["links"] if "201710" not in ln["href"] and "20170922" not in ln["href"]]
        ),
    )
    return chips_argv(ctx, tmp, source=str(sc / "catalog.json"))


def _catalog_item_missing(ctx, tmp):
    sc = scene_copy(ctx, tmp)
    next((sc / "stac" / "sentinel-1-rtc" / "items").glob("S1A_20170904*.json")).unlink()
    return chips_argv(ctx, tmp, source=str(sc / "catalog.json"))


def _inv_empty_gpkg(ctx, tmp):
    import geopandas as gpd

    gpd.GeoDataFrame({"name": []}, geometry=[], crs=4326).to_file(tmp / "heads.gpkg", driver="GPKG")
    return chips_argv(ctx, tmp, inventory=str(tmp / "heads.gpkg"))


def _inv_swapped(ctx, tmp):
    lon, lat = inventory_lonlat(ctx)
    rows = "\n".join(f"{b},{a}" for a, b in zip(lon, lat))
    return chips_argv(ctx, tmp, inventory=csv_inventory(tmp, "lon,lat\n" + rows + "\n"))


def _inv_outside(ctx, tmp):
    rows = "\n".join(f"{-60.0 + i * 0.01},{10.0 + i * 0.01}" for i in range(10))
    return chips_argv(ctx, tmp, inventory=csv_inventory(tmp, "lon,lat\n" + rows + "\n"))


def _inv_no_prj(ctx, tmp):
    import geopandas as gpd
    from shapely.geometry import Point

    lon, lat = inventory_lonlat(ctx, 5)
    gpd.GeoDataFrame({"n": range(5)}, geometry=[Point(x, y) for x, y in zip(lon, lat)], crs=4326).to_file(
        tmp / "heads.shp"
    )
    (tmp / "heads.prj").unlink()
    return chips_argv(ctx, tmp, inventory=str(tmp / "heads.shp"))


def _inv_garbage(ctx, tmp):
    (tmp / "heads.gpkg").write_bytes(os.urandom(2048))
    return chips_argv(ctx, tmp, inventory=str(tmp / "heads.gpkg"))


def _store_edit(fn):
    def make(ctx, tmp):
        st = store_copy(ctx, tmp)
        fn(st)
        return predict_argv(ctx, tmp, ctx.dem_run, st)

    return make


def _chunk_missing(st):
    first_chunk(st).unlink()


def _chunk_truncated(st):
    f = first_chunk(st)
    replace_file(f, f.read_bytes()[:100])


def _chunk_flipped(st):
    """64 bytes in the middle of a chunk inverted, same size: only its CRC-32 tells."""
    f = first_chunk(st)
    raw = bytearray(f.read_bytes())
    mid = len(raw) // 2
    raw[mid : mid + 64] = bytes(255 - x for x in raw[mid : mid + 64])
    replace_file(f, bytes(raw))


def _chunks_swapped(st):
    from landslide_app.chips.store import ChipStore

    store = ChipStore.open(st)
    a, b = (
        st / "chips.zarr" / "c" / "/".join(map(str, store.grid.chip_rc(int(i)))) / "0" / "0" / "0"
        for i in store.ids[:2]
    )
    da, db = a.read_bytes(), b.read_bytes()
    replace_file(a, db)
    replace_file(b, da)


def _index_rows_dropped(st):
    import geopandas as gpd

    idx = gpd.read_file(st / "index.gpkg", layer="chips")
    (st / "index.gpkg").unlink()
    idx.iloc[:30].to_file(st / "index.gpkg", driver="GPKG", layer="chips")


def _train_unlabelled(ctx, tmp):
    from landslide_app.chips.build import build_chips
    from landslide_app.sources.stac import open_local_catalog

    build_chips(open_local_catalog(ctx.scene / "catalog.json"), None, tmp / "store", progress=False)
    return ["-q", "train", "--chips", str(tmp / "store"), "--inputs", "dem", "--epochs", "1", "--out", str(tmp / "run")]


def _settings_from_dict(d):
    def make(ctx, tmp):
        from landslide_app.experiments.ablation import AblationSettings

        return lambda: AblationSettings.from_dict(d)

    return make


def _settings(**kw):
    def make(ctx, tmp):
        from landslide_app.experiments.ablation import AblationSettings

        return lambda: AblationSettings(**kw)

    return make


def _run_edit(fn, which="dem"):
    def make(ctx, tmp):
        run = run_copy(ctx, tmp, which)
        fn(ctx, run)
        return predict_argv(ctx, tmp, run)

    return make


def _other_model(ctx, run):
    (run / "model.pt").unlink()
    shutil.copy(ctx.fused_run / "model.pt", run / "model.pt")


def _claims_other_config(ctx, run):
    edit_json(run / "run.json", lambda d: d.update(config={"inputs": "fused", "revisits": 3}))


def _tampered_weights(ctx, run):
    b = bytearray((run / "model.pt").read_bytes())
    i = len(b) // 2
    b[i : i + 8] = bytes(x ^ 0xFF for x in b[i : i + 8])  # flip bits inside the stored tensors
    replace_file(run / "model.pt", bytes(b))


def _api_load_checkpoint(fn):
    def make(ctx, tmp):
        from landslide_app.model.trained import TrainedModel

        path = fn(ctx, tmp)
        return lambda: TrainedModel.load(path, device="cpu")

    return make


def _truncated_checkpoint(ctx, tmp):
    (tmp / "model.pt").write_bytes((ctx.dem_run / "model.pt").read_bytes()[:5000])
    return tmp / "model.pt"


def _foreign_checkpoint(ctx, tmp):
    import torch

    torch.save({"weights": torch.zeros(3)}, tmp / "model.pt")
    return tmp / "model.pt"


def _api_load_other_config(ctx, tmp):
    from landslide_app.model.inputs import ModelConfig
    from landslide_app.model.trained import TrainedModel

    return lambda: TrainedModel.load(ctx.dem_run / "model.pt", config=ModelConfig("sar", 2), device="cpu")


def _truncated_forest(ctx, tmp):
    from landslide_app.model.forest import DensityForest

    (tmp / "forest.npz").write_bytes((ctx.dem_run / "forest.npz").read_bytes()[:3000])
    return lambda: DensityForest.load(tmp / "forest.npz")


def _truncated_legacy_forest(ctx, tmp):
    from landslide_app.model.forest import DensityForest

    DensityForest.load(ctx.dem_run / "forest.npz").save(tmp / "whole.skops")
    (tmp / "forest.skops").write_bytes((tmp / "whole.skops").read_bytes()[:3000])
    return lambda: DensityForest.load(tmp / "forest.skops")


def _pickle_payload_run(ctx, tmp):
    run = run_copy(ctx, tmp)
    write_pickle_payload(run / "model.pt", tmp / "PAYLOAD-RAN")
    # the attacker also fixes run.json's checksum: the safe loader itself must refuse the file
    edit_json(run / "run.json", lambda d: d["files"].update({"model.pt": file_digest(run / "model.pt")}))
    return predict_argv(ctx, tmp, run)


def _untrusted_forest_run(ctx, tmp):
    """A run of the former layout (``forest.skops``, no ``forest.npz``) whose forest holds an untrusted type."""
    run = run_copy(ctx, tmp)
    (run / "forest.npz").unlink()
    write_skops_payload(run / "forest.skops", tmp / "PAYLOAD-RAN", tmp)
    edit_json(run / "run.json", lambda d: d["files"].update({"forest.skops": file_digest(run / "forest.skops")}))
    return predict_argv(ctx, tmp, run)


def _object_array_forest_run(ctx, tmp):
    run = run_copy(ctx, tmp)
    write_npz_payload(run / "forest.npz", tmp / "PAYLOAD-RAN")
    edit_json(run / "run.json", lambda d: d["files"].update({"forest.npz": file_digest(run / "forest.npz")}))
    return predict_argv(ctx, tmp, run)


def _overwrite_foreign_dir(ctx, tmp):
    (tmp / "out").mkdir()
    (tmp / "out" / "thesis.docx").write_text("precious")
    return chips_argv(ctx, tmp, "--overwrite")


def _file_at(name):
    def make_path(tmp):
        (tmp / name).write_text("not a directory")
        return tmp / name

    return make_path


# ---- issue 15 (reliability, second round): inputs that gave a wrong result, a raw exception or an
# unguarded output ------------------------------------------------------------------------------------
_HELD_SOCKETS: list = []  # ports kept busy while a case runs


@pytest.fixture(autouse=True)
def _close_held_sockets():
    yield
    while _HELD_SOCKETS:
        _HELD_SOCKETS.pop().close()


def _busy_port() -> str:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    _HELD_SOCKETS.append(s)
    return str(s.getsockname()[1])


def _two_point_layers(ctx, tmp, *extra):
    import geopandas as gpd

    heads = gpd.read_file(ctx.scene / "inventory.gpkg")
    heads.iloc[:10].to_file(tmp / "heads.gpkg", layer="old")
    heads.to_file(tmp / "heads.gpkg", layer="new")
    return chips_argv(ctx, tmp, *extra, inventory=str(tmp / "heads.gpkg"))


def _sar_in_db(ctx, tmp):
    sc = scene_copy(ctx, tmp)
    f = next((sc / "sar").glob("S1A_20171010*_vv.tif"))
    with rasterio.open(f) as ds:
        prof, a = dict(ds.profile), ds.read(1)
    f.unlink()
    write_tif(f, np.where(a == -32768, a, 10 * np.log10(np.maximum(a, 1e-6))).astype(np.float32), prof)
    return chips_argv(ctx, tmp, "--bbox", *small_bbox(ctx), source=str(sc / "catalog.json"))


def _catalog_dem_without_crs(ctx, tmp):
    sc = scene_copy(ctx, tmp)
    f = sc / "dem" / "elevation.tif"
    prof, z = dem_profile(ctx)
    f.unlink()
    write_tif(f, z, prof, crs=None)
    return chips_argv(ctx, tmp, "--dem-only", source=str(sc / "catalog.json"))


def _geographic_dem(tmp, west, north):
    from rasterio.transform import from_origin

    z = np.random.default_rng(0).normal(500, 50, (100, 100)).astype(np.float32)
    prof = {
        "driver": "GTiff",
        "height": 100,
        "width": 100,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:4326",
        "transform": from_origin(west, north, 0.001, 0.001),
    }
    return write_tif(tmp / "dem.tif", z, prof)


def _projected_csv(ctx, tmp):
    import geopandas as gpd

    pts = gpd.read_file(ctx.scene / "inventory.gpkg").to_crs(32619).geometry[:20]
    rows = "\n".join(f"{x:.2f},{y:.2f}" for x, y in zip(pts.x, pts.y))
    return chips_argv(ctx, tmp, inventory=csv_inventory(tmp, "x,y\n" + rows + "\n"))


def _damaged_store_ablate(ctx, tmp):
    st = store_copy(ctx, tmp)
    f = first_chunk(st)  # same size, header overwritten: passes the cheap checks at open, fails when read
    replace_file(f, b"\xff" * 16 + f.read_bytes()[16:])
    (tmp / "abl").mkdir()
    return [
        "-q",
        "ablate",
        "--chips",
        str(st),
        "--out",
        str(tmp / "abl"),
        "--inputs",
        "dem",
        "--revisits",
        "1",
        "--no-baselines",
        "--epochs",
        "1",
    ]


def _dem_copy(ctx, tmp):
    f = tmp / "dem.tif"
    f.write_bytes((ctx.scene / "dem" / "elevation.tif").read_bytes())
    return f


def _dem_void_32767(ctx, tmp):
    prof, z = dem_profile(ctx)
    z = z.copy()
    z[100:160, 100:200] = 32767  # voids filled with a nodata value the file does not declare
    return write_tif(tmp / "dem.tif", z, prof, nodata=None)


def _dem_in_feet(ctx, tmp):
    prof, z = dem_profile(ctx)
    f = write_tif(tmp / "dem.tif", z / 0.3048, prof)
    with rasterio.open(f, "r+") as ds:
        ds.units = ["ft"]
    return f


def _scene_too_big(ctx, tmp):
    from landslide_app.scene.sizes import check_scene_memory

    return lambda: check_scene_memory("400x400", available=16 * 2**30)


CASES: list[Case] = [
    # ---- rasters and sources
    _dem_case(
        "dem_not_a_geotiff", "DEM file of random bytes", RasterError, r"cannot read .* as a GeoTIFF.*complete", _garbage
    ),
    _dem_case("dem_empty_file", "DEM file of 0 bytes", RasterError, r"cannot read .* as a GeoTIFF", _empty),
    _dem_case(
        "dem_truncated",
        "DEM GeoTIFF cut in half (header intact, tiles missing)",
        RasterError,
        r"missing, truncated or corrupt.*replace that file",
        _truncated,
    ),
    Case(
        "terrain_dem_truncated",
        "`terrain` of a truncated DEM",
        RasterError,
        r"corrupt or truncated.*export it again",
        lambda c, t: ["-q", "terrain", str(_truncated(c, t)), "--out", str(t / "terrain.tif")],
    ),
    _dem_case(
        "dem_three_bands", "DEM with 3 bands", RasterError, r"has 3 bands; a DEM must have exactly 1", _three_bands
    ),
    Case(
        "terrain_dem_three_bands",
        "`terrain` of a 3-band raster",
        RasterError,
        r"3 bands; say which one.*gdal_translate",
        lambda c, t: ["-q", "terrain", str(_three_bands(c, t)), "--out", str(t / "terrain.tif")],
    ),
    _dem_case("dem_without_crs", "DEM without CRS", RasterError, r"has no CRS: assign one.*gdal_edit", _no_crs),
    _dem_case("dem_rotated", "DEM with a rotated geotransform", RasterError, r"rotated; warp it", _rotated),
    _dem_case(
        "dem_all_nodata",
        "DEM holes everywhere (all nodata)",
        InputError,
        r"no chip holds at least 50% land.*nodata value",
        _all_nodata,
    ),
    _dem_case(
        "dem_all_below_sea_level",
        "DEM with every value <= 0 m (wrong offset / units)",
        InputError,
        r"no chip holds at least 50% land.*lower --min-land",
        _below_sea,
    ),
    Case(
        "dem_missing_file",
        "--dem path that does not exist",
        RasterError,
        r"no such raster",
        lambda c, t: dem_only_argv(c, t, t / "nope.tif"),
    ),
    Case(
        "dem_sar_grids_do_not_overlap",
        "--dem on another grid than the SAR (no overlap)",
        ConfigError,
        r"do not overlap; give a DEM that covers the SAR",
        _far_away_dem,
    ),
    Case(
        "terrain_out_is_input",
        "`terrain --out` = the DEM itself",
        OutputError,
        r"is also the input DEM .*never writes over",
        lambda c, t: [
            "terrain",
            str(c.scene / "dem" / "elevation.tif"),
            "--out",
            str(c.scene / "dem" / "elevation.tif"),
        ],
    ),
    Case(
        "sar_all_nan",
        "one SAR date all nodata",
        RasterError,
        r"SAR of 2017-09-22 has no valid pixel.*--dem-only",
        _sar_all_nan,
    ),
    Case(
        "sar_file_missing",
        "catalog asset pointing to a deleted SAR file",
        RasterError,
        r"S1A_20171010T223638_vh.tif.*missing, truncated or corrupt",
        _sar_missing,
    ),
    Case("sar_file_truncated", "SAR COG cut to a third", RasterError, r"missing, truncated or corrupt", _sar_truncated),
    Case("sar_two_bands", "SAR asset with 2 bands", RasterError, r"exactly 1 band.*replace that file", _sar_two_bands),
    Case(
        "catalog_not_json",
        "catalog.json cut mid-way (invalid JSON)",
        SourceError,
        r"valid STAC JSON",
        _catalog_not_json,
    ),
    Case(
        "catalog_missing",
        "--source path without catalog",
        InputError,
        r"no STAC catalog at .*landslide-app scene",
        lambda c, t: chips_argv(c, t, source=str(t / "nowhere" / "catalog.json")),
    ),
    Case(
        "catalog_without_dem",
        "catalog without a DEM collection",
        NoItemsFoundError,
        r"no DEM item.*pass --dem",
        _catalog_without_dem,
    ),
    Case(
        "catalog_too_few_dates",
        "catalog with no post-event date",
        NoItemsFoundError,
        r"no Sentinel-1 acquisition over the area after 2017-09-20 yet; the first pass of orbit 135 .*expected on "
        r"2017-09-28",
        _catalog_too_few_dates,
    ),
    Case(
        "catalog_item_missing",
        "catalog linking to a deleted item file",
        SourceError,
        r"cannot read the STAC catalog",
        _catalog_item_missing,
    ),
    # ---- inventories
    Case(
        "inventory_missing",
        "inventory path that does not exist",
        InventoryError,
        r"does not exist; check the path",
        lambda c, t: chips_argv(c, t, inventory=str(t / "nope.gpkg")),
    ),
    Case("inventory_empty_gpkg", "GeoPackage with 0 features", InventoryError, r"no rows/features", _inv_empty_gpkg),
    Case(
        "inventory_empty_csv",
        "empty CSV file",
        InventoryError,
        r"is empty.*header",
        lambda c, t: chips_argv(c, t, inventory=csv_inventory(t, "")),
    ),
    Case(
        "inventory_csv_without_coordinates",
        "CSV without coordinate columns",
        InventoryError,
        r"no recognisable longitude column.*--lon-col and --lat-col",
        lambda c, t: chips_argv(c, t, inventory=csv_inventory(t, "name,date\na,2017\n")),
    ),
    Case(
        "inventory_csv_unknown_column",
        "--lon-col naming no column",
        InventoryError,
        r"has no column 'easting'.*Pass one of them",
        lambda c, t: chips_argv(c, t, "--lon-col", "easting", inventory=csv_inventory(t, "lon,lat\n-67.2,18.5\n")),
    ),
    Case(
        "inventory_lonlat_swapped",
        "CSV with longitude and latitude swapped",
        InventoryError,
        r"look swapped.*swap the columns",
        _inv_swapped,
    ),
    Case(
        "inventory_all_outside",
        "all points outside the area",
        InventoryError,
        r"lie outside the area.*covers the area",
        _inv_outside,
    ),
    Case(
        "inventory_not_a_vector",
        "inventory of random bytes (.gpkg)",
        InventoryError,
        r"cannot be read as a vector file.*GeoPackage",
        _inv_garbage,
    ),
    Case(
        "inventory_shapefile_without_prj",
        "shapefile without .prj (no CRS)",
        InventoryError,
        r"no coordinate reference system.*\.prj",
        _inv_no_prj,
    ),
    Case(
        "inventory_text_coordinates",
        "CSV with text in the coordinate columns",
        InventoryError,
        r"no usable landslide point",
        lambda c, t: chips_argv(c, t, inventory=csv_inventory(t, "lon,lat\nabc,def\nnorth,west\n")),
    ),
    # ---- chip stores
    Case(
        "store_missing",
        "--chips path without store",
        ChipStoreError,
        r"no chip store at .*landslide-app chips",
        lambda c, t: predict_argv(c, t, c.dem_run, t / "nope"),
    ),
    Case(
        "store_meta_truncated",
        "store.json cut mid-way",
        ChipStoreError,
        r"unreadable.*rebuild",
        _store_edit(lambda st: replace_file(st / "store.json", (st / "store.json").read_text()[:50])),
    ),
    Case(
        "store_other_format",
        "store.json of another format/version",
        ChipStoreError,
        r"has format .*rebuild it",
        _store_edit(lambda st: edit_json(st / "store.json", lambda d: d.update(format="other/9"))),
    ),
    Case(
        "store_incomplete",
        "interrupted build (store not finalised)",
        ChipStoreError,
        r"incomplete.*rerun the same",
        _store_edit(lambda st: edit_json(st / "store.json", lambda d: d.update(complete=False))),
    ),
    Case(
        "store_without_array",
        "store with chips.zarr deleted",
        ChipStoreError,
        r"lacks chips.zarr; the store is truncated",
        _store_edit(lambda st: shutil.rmtree(st / "chips.zarr")),
    ),
    Case(
        "store_chunk_missing",
        "truncated store: a kept chip's chunk file deleted",
        ChipStoreError,
        r"no data on disk.*truncated; rebuild it",
        _store_edit(_chunk_missing),
    ),
    Case(
        "store_chunk_truncated",
        "a chunk file cut to 100 bytes",
        ChipStoreError,
        r"unreadable.*rebuild the store",
        _store_edit(_chunk_truncated),
    ),
    Case(
        "store_index_corrupt",
        "index.gpkg overwritten with garbage",
        ChipStoreError,
        r"cannot read .*index.gpkg.*rerun",
        _store_edit(lambda st: replace_file(st / "index.gpkg", b"garbage" * 10)),
    ),
    Case(
        "store_grid_incomplete",
        "store.json grid without its CRS",
        ChipStoreError,
        r"damaged.*'epsg'.*rebuild",
        _store_edit(lambda st: edit_json(st / "store.json", lambda d: d["grid"].pop("epsg"))),
    ),
    Case(
        "store_array_meta_corrupt",
        "chips.zarr/zarr.json invalid",
        ChipStoreError,
        r"cannot open .*chips.zarr.*rebuild",
        _store_edit(lambda st: replace_file(st / "chips.zarr" / "zarr.json", "{")),
    ),
    # ---- theme 2: a store checks itself (metadata vs array vs index; per-chip CRC-32)
    Case(
        "store_meta_channel_renamed",
        "store.json with a channel renamed (a name repeated)",
        ChipStoreError,
        r"does not match its store.json: .*channel names repeat.*--overwrite",
        _store_edit(lambda st: edit_json(st / "store.json", lambda d: d["channels"].__setitem__(4, "vh_t0"))),
    ),
    Case(
        "store_meta_chip_size_edited",
        "store.json chip_size edited (128 -> 64)",
        ChipStoreError,
        r"chip_size 64 but its grid has 128-pixel.*--overwrite",
        _store_edit(lambda st: edit_json(st / "store.json", lambda d: d.update(chip_size=64))),
    ),
    Case(
        "store_index_rows_dropped",
        "index.gpkg truncated (14 of 44 chips' rows removed)",
        ChipStoreError,
        r"index.gpkg lists 30 chips but store.json records 44.*Rerun the same `landslide-app chips`",
        _store_edit(_index_rows_dropped),
    ),
    Case(
        "store_chunk_flipped",
        "a chunk with 64 bytes flipped in the middle (same size)",
        ChipStoreError,
        r"chip \d+ of .* does not hold the data written.*corrupted.*landslide-app check .*rerun the same "
        r"`landslide-app chips` command: it rebuilds exactly the damaged chips",
        _store_edit(_chunk_flipped),
    ),
    Case(
        "store_chunks_swapped",
        "two chunk files swapped",
        ChipStoreError,
        r"chip \d+ .*(unreadable|corrupted).*rerun the same `landslide-app chips`",
        _store_edit(_chunks_swapped),
    ),
    Case(
        "train_unlabelled_store",
        "`train` on an unlabelled store (built without --inventory)",
        ChipStoreError,
        r"has no landslide labels; .*needs an inventory.*--inventory FILE",
        _train_unlabelled,
    ),
    # ---- command line and settings
    Case(
        "cli_unknown_option",
        "unknown CLI option",
        ConfigError,
        r"unrecognized arguments: --bogus.*--help",
        lambda c, t: ["info", str(c.store), "--bogus"],
    ),
    Case(
        "cli_unknown_command",
        "unknown sub-command",
        ConfigError,
        r"invalid choice: 'chip'",
        lambda c, t: ["chip", "--out", str(t / "out")],
    ),
    Case(
        "cli_missing_required",
        "required option missing",
        ConfigError,
        r"required: --out",
        lambda c, t: ["predict", "--model", str(c.dem_run), "--chips", str(c.store)],
    ),
    Case(
        "cli_not_an_integer",
        "--epochs two",
        ConfigError,
        r"'two' is not an integer",
        lambda c, t: ["train", "--chips", str(c.store), "--inputs", "dem", "--epochs", "two", "--out", str(t / "out")],
    ),
    Case(
        "cli_epochs_zero",
        "--epochs 0",
        ConfigError,
        r"0 must be between 1 and 1000",
        lambda c, t: ["ablate", "--chips", str(c.store), "--out", str(t / "out"), "--epochs", "0"],
    ),
    Case(
        "cli_lr_zero",
        "--lr 0",
        ConfigError,
        r"'0' is not a learning rate: give a number in \(0, 1\]",
        lambda c, t: ["train", "--chips", str(c.store), "--inputs", "dem", "--lr", "0", "--out", str(t / "out")],
    ),
    Case(
        "cli_ensemble_zero",
        "--ensemble 0",
        ConfigError,
        r"argument --ensemble: 0 must be between 1 and 16",
        lambda c, t: ["train", "--chips", str(c.store), "--inputs", "dem", "--ensemble", "0", "--out", str(t / "out")],
    ),
    Case(
        "cli_revisits_4",
        "--revisits 4 (only 3 post-event dates)",
        ConfigError,
        r"invalid choice: 4",
        lambda c, t: ["ablate", "--chips", str(c.store), "--out", str(t / "out"), "--revisits", "4"],
    ),
    Case(
        "cli_seed_negative",
        "--seed -1",
        ConfigError,
        r"-1 must be 0 or positive",
        lambda c, t: ["train", "--chips", str(c.store), "--inputs", "dem", "--seed", "-1", "--out", str(t / "out")],
    ),
    Case(
        "chip_size_too_small",
        "--chip-size 4",
        ConfigError,
        r"--chip-size 4 must be between 8 and 2048",
        lambda c, t: chips_argv(c, t, "--chip-size", "4"),
    ),
    Case(
        "thresholds_reversed",
        "--thresholds 25 0",
        ConfigError,
        r"impossible: need 0 <= t0 < t1",
        lambda c, t: chips_argv(c, t, "--thresholds", "25", "0"),
    ),
    Case(
        "min_land_above_one",
        "--min-land 2",
        ConfigError,
        r"must lie in \[0, 1\]",
        lambda c, t: chips_argv(c, t, "--min-land", "2"),
    ),
    Case(
        "bbox_reversed",
        "--bbox with W > E",
        ConfigError,
        r"not a lon/lat box: give W S E N",
        lambda c, t: chips_argv(c, t, "--bbox", "-67.1", "18.4", "-67.3", "18.6"),
    ),
    Case(
        "bbox_outside_data",
        "--bbox far from the data",
        ConfigError,
        r"does not overlap the data.*check --bbox",
        lambda c, t: chips_argv(c, t, "--bbox", "-66.1", "18.0", "-66.0", "18.1"),
    ),
    Case(
        "epsg_unknown",
        "--epsg 999999",
        ConfigError,
        r"EPSG:999999 is not a known CRS.*UTM",
        lambda c, t: chips_argv(c, t, "--epsg", "999999"),
    ),
    Case(
        "epsg_geographic",
        "--epsg 4326 (degrees, not metres)",
        ConfigError,
        r"not a projected CRS in metres",
        lambda c, t: chips_argv(c, t, "--epsg", "4326"),
    ),
    Case(
        "device_unknown",
        "--device banana",
        ConfigError,
        r"Unknown device 'banana'; use 'cpu'",
        lambda c, t: [
            "-q",
            "train",
            "--chips",
            str(c.store),
            "--inputs",
            "dem",
            "--device",
            "banana",
            "--out",
            str(t / "out"),
        ],
    ),
    Case(
        "chips_without_source",
        "`chips` with neither --source nor --dem-only --dem",
        ConfigError,
        r"give --source",
        lambda c, t: chips_argv(c, t, source=""),
    ),
    Case(
        "planetary_without_bbox",
        "--source planetary-computer without --bbox",
        ConfigError,
        r"needs --bbox",
        lambda c, t: chips_argv(c, t, source="planetary-computer"),
    ),
    Case(
        "embed_without_input",
        "`embed` with neither --chips nor --dem",
        ConfigError,
        r"exactly one of --chips",
        lambda c, t: ["embed", "--model", str(c.dem_run), "--out", str(t / "e.tif")],
    ),
    Case(
        "settings_unknown_key",
        "ablation settings with a misspelt key",
        ConfigError,
        r"'epoch' \(did you mean 'epochs'\?\)",
        _settings_from_dict({"epoch": 3}),
    ),
    Case(
        "settings_unknown_training_key",
        "unknown training setting",
        ConfigError,
        r"unknown training setting.*'learning_rate'",
        _settings(train_kwargs={"learning_rate": 0.1}),
    ),
    Case(
        "settings_lr_out_of_range",
        "ablation settings train_kwargs lr=5",
        ConfigError,
        r"learning rate 5 must be a number in \(0, 1\]",
        _settings(train_kwargs={"lr": 5}),
    ),
    Case(
        "settings_ensemble_too_many",
        "ablation settings ensemble=17",
        ConfigError,
        r"ensemble 17 must be a whole number of networks in 1\.\.16",
        _settings(ensemble=17),
    ),
    Case(
        "settings_impossible_epochs",
        "ablation settings epochs=0",
        ConfigError,
        r"--epochs 0 must be between 1 and 1000",
        _settings(epochs=0),
    ),
    Case(
        "run_config_unknown_key",
        "run.json config with an unknown key",
        ConfigError,
        r"Unknown model configuration key.*'layers'",
        _run_edit(lambda c, r: edit_json(r / "run.json", lambda d: d["config"].update(layers=4))),
    ),
    Case(
        "run_config_impossible",
        "run.json config revisits=5",
        ConfigError,
        r"revisits=5 is impossible",
        _run_edit(lambda c, r: edit_json(r / "run.json", lambda d: d["config"].update(revisits=5))),
    ),
    # ---- trained models
    Case(
        "run_ensemble_member_missing",
        "run.json of an ensemble of 2 without member 1's files",
        ModelFileError,
        r"is an ensemble run but lacks model_m1.pt or forest_m1.npz of member 1; copy the whole run directory",
        _run_edit(lambda c, r: edit_json(r / "run.json", lambda d: d.update(ensemble=2))),
    ),
    Case(
        "run_ensemble_not_a_number",
        "run.json ensemble 'two'",
        ModelFileError,
        r"records ensemble 'two', not a number of networks; it is damaged",
        _run_edit(lambda c, r: edit_json(r / "run.json", lambda d: d.update(ensemble="two"))),
    ),
    Case(
        "run_missing",
        "--model path without run",
        ModelFileError,
        r"not a trained run.*landslide-app train",
        lambda c, t: predict_argv(c, t, t / "nope"),
    ),
    Case(
        "run_json_damaged",
        "run.json invalid JSON",
        ModelFileError,
        r"run.json is damaged.*retrain",
        _run_edit(lambda c, r: replace_file(r / "run.json", "{")),
    ),
    Case(
        "run_json_without_config",
        "run.json without its configuration",
        ModelFileError,
        r"lacks the model configuration",
        _run_edit(lambda c, r: edit_json(r / "run.json", lambda d: d.pop("config"))),
    ),
    Case(
        "model_from_another_run",
        "model.pt copied from a run of another configuration",
        ModelFileError,
        r"checksum differs.*copied from another run",
        _run_edit(_other_model),
    ),
    Case(
        "model_other_configuration",
        "run.json edited to another configuration",
        ConfigError,
        r"trained for inputs='dem'.*inputs='fused'",
        _run_edit(_claims_other_config),
    ),
    Case(
        "model_for_other_configuration_api",
        "checkpoint loaded for another configuration",
        ConfigError,
        r"trained for inputs='dem', revisits=1, but inputs='sar', revisits=2",
        _api_load_other_config,
    ),
    Case(
        "sar_model_on_dem_only_store",
        "SAR model on a DEM-only store",
        ConfigError,
        r"needs SAR but .* is DEM-only",
        lambda c, t: predict_argv(c, t, c.fused_run, c.dem_only_store),
    ),
    Case(
        "sar_model_for_dem_embedding",
        "`embed --dem` with a fused model",
        ConfigError,
        r"needs a DEM-only model",
        lambda c, t: [
            "embed",
            "--model",
            str(c.fused_run),
            "--dem",
            str(c.scene / "dem" / "elevation.tif"),
            "--out",
            str(t / "e.tif"),
        ],
    ),
    Case(
        "sar_inputs_on_dem_only_store",
        "`ablate --inputs sar` on a DEM-only store",
        ConfigError,
        r"need SAR but .* is DEM-only; use --inputs dem",
        lambda c, t: [
            "-q",
            "ablate",
            "--chips",
            str(c.dem_only_store),
            "--out",
            str(t / "out"),
            "--inputs",
            "sar",
            "--revisits",
            "1",
            "--no-baselines",
        ],
    ),
    Case(
        "model_weights_tampered",
        "model.pt with 8 bytes of weights flipped",
        ModelFileError,
        r"checksum differs.*modified",
        _run_edit(_tampered_weights),
    ),
    Case(
        "checkpoint_truncated",
        "checkpoint cut to 5 kB",
        ModelFileError,
        r"truncated or damaged",
        _api_load_checkpoint(_truncated_checkpoint),
    ),
    Case(
        "checkpoint_foreign",
        "a torch file that is not our checkpoint",
        ModelFileError,
        r"not a landslide_app embedding checkpoint",
        _api_load_checkpoint(_foreign_checkpoint),
    ),
    Case(
        "forest_truncated",
        "forest.npz cut to 3 kB",
        ModelFileError,
        r"not a readable forest file.*truncated",
        _truncated_forest,
    ),
    Case(
        "forest_legacy_truncated",
        "forest.skops (the former format) cut to 3 kB",
        ModelFileError,
        r"not a readable skops file.*truncated",
        _truncated_legacy_forest,
    ),
    Case(
        "checkpoint_pickle_payload",
        "model.pt holding a pickle payload (checksum matched)",
        UntrustedFileError,
        r"refused.*GLOBAL.*nothing from it was run",
        _pickle_payload_run,
    ),
    Case(
        "forest_untrusted_type",
        "forest.skops holding an untrusted type (checksum matched)",
        UntrustedFileError,
        r"refused.*landslide_payload_mod.Payload.*nothing from it",
        _untrusted_forest_run,
    ),
    Case(
        "forest_object_array",
        "forest.npz holding a pickled object array (checksum matched)",
        UntrustedFileError,
        r"refused.*Python objects.*nothing from it was loaded or run",
        _object_array_forest_run,
    ),
    # ---- outputs
    Case(
        "chips_out_is_a_file",
        "`chips --out` naming a file",
        OutputError,
        r"is an existing file, not a directory",
        lambda c, t: [*chips_argv(c, t)[:-2], "--out", str(_file_at("out.txt")(t))],
    ),
    Case(
        "chips_overwrite_foreign_dir",
        "`chips --overwrite` into a folder with other files",
        OutputError,
        r"not part of a chip store \(thesis.docx\); nothing was written or deleted",
        _overwrite_foreign_dir,
    ),
    Case(
        "predict_out_is_a_file",
        "`predict --out` naming a file",
        OutputError,
        r"is an existing file",
        lambda c, t: [*predict_argv(c, t, c.dem_run)[:-2], "--out", str(_file_at("pred.txt")(t))],
    ),
    Case(
        "embed_out_is_a_directory",
        "`embed --out` naming a directory",
        OutputError,
        r"is a directory; give the path of the file to write",
        lambda c, t: ["embed", "--model", str(c.dem_run), "--chips", str(c.store), "--out", str(t)],
    ),
    Case(
        "ablate_out_is_a_file",
        "`ablate --out` naming a file",
        OutputError,
        r"is an existing file",
        lambda c, t: [
            "-q",
            "ablate",
            "--chips",
            str(c.store),
            "--out",
            str(_file_at("abl.txt")(t)),
            "--inputs",
            "dem",
            "--revisits",
            "1",
            "--no-baselines",
        ],
    ),
]

CASES += [
    # ---- issue 15 theme 1: a wrong result with exit 0 is refused (or handled: tests/test_reliability_inputs.py)
    Case(
        "inventory_two_point_layers",
        "GeoPackage with two point layers (which one holds the heads?)",
        InventoryError,
        r"2 layers and several point layers: 'old' \(Point, 10 features\).*--layer NAME",
        lambda c, t: _two_point_layers(c, t),
    ),
    Case(
        "inventory_layer_unknown",
        "--layer naming no layer",
        InventoryError,
        r"has no layer 'heads'; its layers are 'old'",
        lambda c, t: _two_point_layers(c, t, "--layer", "heads"),
    ),
    Case(
        "sar_date_in_db",
        "one SAR date delivered in dB (negative values)",
        RasterError,
        r"SAR of 2017-10-10 \(VV, .*S1A_20171010T223638_vv.tif\) looks like decibels.*gdal_calc.py",
        _sar_in_db,
    ),
    Case(
        "embed_out_is_input",
        "`embed --dem dem.tif --out dem.tif`",
        OutputError,
        r"--out .*dem.tif is also the input --dem .*never writes over its own input",
        lambda c, t: ["embed", "--model", str(c.dem_run), "--dem", str(_dem_copy(c, t)), "--out", str(t / "dem.tif")],
    ),
    Case(
        "predict_out_is_model",
        "`predict --out` = the --model run",
        OutputError,
        r"is also the input --model",
        lambda c, t: [*predict_argv(c, t, c.dem_run)[:-2], "--out", str(c.dem_run)],
    ),
    Case(
        "predict_out_inside_store",
        "`predict --out` inside the chip store",
        OutputError,
        r"lies inside the input --chips .*never writes into its own input",
        lambda c, t: [*predict_argv(c, t, c.dem_run)[:-2], "--out", str(c.store / "pred")],
    ),
    Case(
        "train_out_inside_store",
        "`train --out` inside the chip store",
        OutputError,
        r"lies inside the input --chips",
        lambda c, t: ["train", "--chips", str(c.store), "--inputs", "dem", "--out", str(c.store / "run")],
    ),
    # ---- theme 3: no Python exception as the message
    Case(
        "inventory_excel",
        "Excel inventory (.xlsx)",
        InventoryError,
        r"is a spreadsheet \(.xlsx\).*save the sheet as CSV",
        lambda c, t: chips_argv(c, t, inventory=str(_file_at("heads.xlsx")(t))),
    ),
    Case(
        "inventory_folder",
        "a folder given as inventory",
        InventoryError,
        r"is a folder, not a file.*pass one of them",
        lambda c, t: chips_argv(c, t, inventory=str(c.scene)),
    ),
    Case(
        "catalog_dem_without_crs",
        "DEM without CRS inside a catalog",
        RasterError,
        r"elevation.tif \(item .*asset 'elevation'\) has no CRS although the catalog says EPSG:32619.*gdal_edit",
        _catalog_dem_without_crs,
    ),
    Case(
        "terrain_out_is_a_directory",
        "`terrain --out` naming a directory",
        OutputError,
        r"--out .* is a directory; give the path of the file to write",
        lambda c, t: ["terrain", str(c.scene / "dem" / "elevation.tif"), "--out", str(t)],
    ),
    Case(
        "demo_data_is_a_file",
        "`demo --data` naming a file",
        OutputError,
        r"--data directory .* is an existing file",
        lambda c, t: ["-q", "demo", "--data", str(_file_at("demo.txt")(t)), "--size", "tiny"],
    ),
    # ---- theme 4: one set of rules for outputs and numbers
    Case(
        "train_epochs_too_many",
        "`train --epochs 100000` (ablate caps at 1000 too)",
        ConfigError,
        r"100000 must be between 1 and 1000",
        lambda c, t: ["train", "--chips", str(c.store), "--inputs", "dem", "--epochs", "100000", "--out", str(t / "o")],
    ),
    Case(
        "app_port_out_of_range",
        "`app --port 99999`",
        ConfigError,
        r"99999 must be between 1 and 65535",
        lambda c, t: ["app", "--data", str(t), "--port", "99999"],
    ),
    Case(
        "app_port_busy",
        "`app --port` on a port another program listens on",
        OutputError,
        r"port \d+ on 127.0.0.1 is not available.*--port \d+",
        lambda c, t: ["app", "--data", str(t), "--port", _busy_port(), "--no-browser"],
    ),
    Case(
        "ablate_refused_no_lock",
        "`ablate` refused mid-way (damaged chunk): no .lock or folder left",
        ChipStoreError,
        r"chip \d+ of .*(unreadable|damaged).*rebuild",
        _damaged_store_ablate,
    ),
    # ---- theme 5: unusual grids
    Case(
        "dem_polar_geographic",
        "geographic DEM near the pole (beyond the UTM zones)",
        ConfigError,
        r"beyond the UTM zones.*--epsg 3413.*gdalwarp -t_srs EPSG:3413",
        lambda c, t: dem_only_argv(c, t, _geographic_dem(t, 10.0, 85.5)),
    ),
    Case(
        "dem_across_antimeridian",
        "geographic DEM across the antimeridian (lon 179.95..180.05)",
        RasterError,
        r"across the antimeridian.*gdalwarp -t_srs EPSG:\d+ .*--epsg \d+",
        lambda c, t: dem_only_argv(c, t, _geographic_dem(t, 179.95, -16.5)),
    ),
    Case(
        "inventory_csv_projected",
        "CSV with projected (UTM) coordinates read as lon/lat",
        InventoryError,
        r"look projected.*--crs EPSG:NNNN.*fall inside the area: --crs EPSG:32619",
        _projected_csv,
    ),
    Case(
        "inventory_crs_unknown",
        "--crs that is not a CRS",
        InventoryError,
        r"unknown inventory CRS 'EPSG:99999'.*--crs EPSG",
        lambda c, t: chips_argv(c, t, "--crs", "EPSG:99999", inventory=csv_inventory(t, "lon,lat\n-67.2,18.5\n")),
    ),
    _dem_case(
        "dem_undeclared_nodata",
        "DEM voids of 32767 without a declared nodata value",
        RasterError,
        r"elevations up to 32,767 m.*gdal_edit.py -a_nodata 32767",
        _dem_void_32767,
    ),
    _dem_case(
        "dem_in_feet",
        "DEM with elevations in feet (band unit ft)",
        RasterError,
        r"elevations in ft, but chips read elevations as metres.*A\*0.3048",
        _dem_in_feet,
    ),
    # ---- also: sizes that cannot fit in memory
    Case(
        "scene_too_big_for_memory",
        "`scene --size 400x400` with 16 GiB available",
        ConfigError,
        r"'400x400' \(51,200 x 51,200 px\) needs at least 63.7 GiB.*choose a smaller --size",
        _scene_too_big,
    ),
]


def snapshot(root: Path) -> dict[str, int]:
    """Every file (with its size) and folder under ``root``."""
    return {str(p.relative_to(root)): (p.stat().st_size if p.is_file() else -1) for p in root.rglob("*")}


def test_catalogue_is_large_ids_unique_and_documented():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    doc = (Path(__file__).parents[1] / "docs" / "bad_inputs.md").read_text()
    import landslide_app.errors as errors

    rows = {m.group(2): m.group(1) for m in re.finditer(r"\| `(\w+)` \|[^\n]*\| `test_bad_input\[(\w+)\]` \|", doc)}
    for c in CASES:  # docs/bad_inputs.md lists every case (input, error type, message, test)
        assert c.id in rows and issubclass(getattr(errors, rows[c.id]), c.error), c.id


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, ctx: Ctx, tmp_path: Path, monkeypatch, capsys, record_property):
    work = tmp_path / "case"
    work.mkdir()
    spec = case.make(ctx, work)
    before = snapshot(work)
    shared_before = {d: snapshot(d) for d in (ctx.dem_run, ctx.fused_run)}
    if callable(spec):
        with pytest.raises(case.error) as info:
            spec()
        exc = info.value
        assert re.search(case.match, str(exc), re.S), str(exc)
    else:
        seen: list[BaseException] = []
        original = cli._fail
        monkeypatch.setattr(cli, "_fail", lambda e, debug: (seen.append(e), original(e, debug))[1])
        capsys.readouterr()
        try:
            rc = cli.main(spec)
        except SystemExit as stop:
            rc = stop.code
        err = capsys.readouterr().err
        assert rc not in (0, None), f"exit code {rc}"
        assert "Traceback" not in err and "\nerror: " in "\n" + err, err
        assert len(seen) == 1, seen
        exc = seen[0]
        assert isinstance(exc, case.error), f"{type(exc).__name__}: {exc}"
        assert re.search(case.match, str(exc), re.S), str(exc)
    assert isinstance(exc, LandslideAppError)
    record_property("error", f"{type(exc).__name__}: {exc}")
    # nothing partial left behind: no new file or folder, no temporary file
    assert snapshot(work) == before
    assert not find_temps(work)
    assert {d: snapshot(d) for d in (ctx.dem_run, ctx.fused_run)} == shared_before
    assert not find_temps(ctx.store) and not find_temps(ctx.scene)


def test_debug_shows_the_traceback(ctx, tmp_path):
    """--debug re-raises the typed error (for bug reports) instead of printing one line."""
    with pytest.raises(OutputError):
        cli.main(
            [
                "--debug",
                "-q",
                "predict",
                "--model",
                str(ctx.dem_run),
                "--chips",
                str(ctx.store),
                "--out",
                str(_file_at("x")(tmp_path)),
            ]
        )
