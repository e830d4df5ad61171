"""Chip building end to end on the tiny generated scene: local files, HTTP, DEM-only, resume, CLI."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import rasterio
from cli_argv import chips_argv

from landslide_app.chips.build import build_chips
from landslide_app.chips.store import ChipStore
from landslide_app.cli import main
from landslide_app.config import CHANNELS
from landslide_app.sources.inventory import read_inventory
from landslide_app.sources.stac import dem_only_source, open_local_catalog
from landslide_app.testing.range_server import RangeServer


@pytest.fixture(scope="module")
def built(scene_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("chips") / "store"
    rep = build_chips(open_local_catalog(scene_dir / "catalog.json"), scene_dir / "inventory.gpkg", out, progress=False)
    return rep


def test_store_layout_channels_labels_and_classes(built, scene_dir):
    st = ChipStore.open(built.store.path)
    info = st.info()
    assert info["channels"] == list(CHANNELS) and len(CHANNELS) == 17
    assert info["chip_size"] == 128 and info["crs"] == "EPSG:32619"
    assert set(info["class_counts"]) == {"0", "1", "2"} and all(v > 0 for v in info["class_counts"].values())
    arr = st.read_many(st.ids)
    assert arr.shape == (len(st.ids), 17, 128, 128)
    label_sums = np.nansum(arr[:, -1], axis=(1, 2))
    np.testing.assert_array_equal(label_sums, st.index["head_count"].to_numpy())
    assert info["n_heads"] == int(label_sums.sum())
    # heads inside kept chips never exceed the inventory; kept chips are mostly land
    inv = read_inventory(scene_dir / "inventory.gpkg", "EPSG:32619")
    assert info["n_heads"] <= len(inv.points)
    assert (st.index["land_fraction"] >= 0.5).all()
    # slope in degrees within [0, 90), aspect within [0, 360], SAR positive linear power
    slope, aspect = arr[:, 1], arr[:, 3]
    assert np.nanmax(slope) < 90 and np.nanmin(slope) >= 0
    assert np.nanmin(aspect) >= -1 and np.nanmax(aspect) <= 360
    assert np.nanmin(arr[:, 4:16]) > 0


def test_chip_values_match_the_source_rasters(built, scene_dir):
    st = ChipStore.open(built.store.path)
    cid = int(st.ids[len(st.ids) // 2])
    chip = st.read(cid)
    left, bottom, right, top = st.grid.chip_bounds(cid)
    with rasterio.open(scene_dir / "dem" / "elevation.tif") as ds:
        win = rasterio.windows.from_bounds(left, bottom, right, top, ds.transform)
        dem = ds.read(1, window=win)
    np.testing.assert_allclose(chip[0], dem, rtol=1e-5)
    vh_files = sorted((scene_dir / "sar").glob("*_vh.tif"), key=lambda p: p.name.split("_")[1])  # by date
    with rasterio.open(vh_files[-1]) as ds:
        vh = ds.read(1, window=rasterio.windows.from_bounds(left, bottom, right, top, ds.transform))
    np.testing.assert_allclose(chip[CHANNELS.index("vh_t5")], vh, rtol=1e-5)


def test_http_range_requests_give_identical_chips(built, scene_dir, tmp_path):
    with RangeServer(scene_dir) as srv:
        src = open_local_catalog(f"{srv.url}/catalog.json")
        rep = build_chips(src, scene_dir / "inventory.gpkg", tmp_path / "http", progress=False)
        assert srv.stats.requests > 10 and srv.stats.bytes_sent > 0
    a, b = ChipStore.open(built.store.path), ChipStore.open(rep.store.path)
    assert a.ids.tolist() == b.ids.tolist()
    np.testing.assert_array_equal(a.read_many(a.ids), b.read_many(b.ids))


def test_interrupted_build_resumes_to_the_same_store(built, scene_dir, tmp_path):
    src = open_local_catalog(scene_dir / "catalog.json")
    part = build_chips(src, scene_dir / "inventory.gpkg", tmp_path / "r", progress=False, max_chips=5)
    assert part.n_built == 5
    with pytest.raises(Exception, match="incomplete"):
        ChipStore.open(tmp_path / "r")
    rest = build_chips(src, scene_dir / "inventory.gpkg", tmp_path / "r", progress=False)
    assert rest.n_skipped >= 5
    a, b = ChipStore.open(built.store.path), ChipStore.open(tmp_path / "r")
    assert a.ids.tolist() == b.ids.tolist()
    np.testing.assert_array_equal(a.read_many(a.ids), b.read_many(b.ids))


def test_one_done_marker_per_chip_row_covers_every_chip(built):
    st = built.store
    markers = sorted((st.path / "done").glob("*.json"))
    rows = {st.grid.chip_rc(c)[0] for c in range(st.grid.n_chips)}
    assert len(markers) == len(rows)  # one fsync'd marker per row, not per chip
    recs = st.done_records()
    assert sorted(recs) == list(range(st.grid.n_chips))
    for m in markers:  # a marker holds exactly the chips of one row, named by its first chip
        chips = json.loads(m.read_text())["chips"]
        assert len({r["row"] for r in chips}) == 1 and m.stem == str(min(r["chip_id"] for r in chips))


@pytest.mark.parametrize("n_days", [0, 3, 4, 6])
def test_row_stats_equal_per_chip_counts(n_days):
    """The per-row NaN / valid fractions equal those counted chip by chip on the assembled chip's
    channels that have data (terrain and the days present: missing SAR slots are not counted)."""
    from landslide_app.chips.rows import _row_stats
    from landslide_app.core.grid import ChipGrid

    g = ChipGrid(epsg=32619, x0=0.0, y0=640.0, n_rows=1, n_cols=3, chip_size=16)
    rng = np.random.default_rng(n_days)
    terrain = rng.random((4, 18, 50)).astype(np.float32)
    terrain[rng.random(terrain.shape) < 0.2] = np.nan
    sar = rng.random((n_days, 2, 16, 48)).astype(np.float32)
    sar[rng.random(sar.shape) < 0.3] = np.nan
    nan_fraction, sar_valid = _row_stats(terrain, sar, g)
    for col in range(3):
        data = np.full((4 + 2 * n_days, 16, 16), np.nan, np.float32)
        data[:4] = terrain[:, 1:17, col * 16 + 1 : (col + 1) * 16 + 1]
        chip_sar = sar[..., col * 16 : (col + 1) * 16]
        data[4:] = chip_sar.reshape(-1, 16, 16)
        assert nan_fraction[col] == pytest.approx(np.isnan(data).mean(), abs=1e-12)
        assert sar_valid[:, col].tolist() == pytest.approx([np.isfinite(d).mean() for d in chip_sar])


def test_dem_only_store_from_any_dem_geotiff(scene_dir, tmp_path):
    rep = build_chips(
        dem_only_source(scene_dir / "dem" / "elevation.tif"),
        scene_dir / "inventory.gpkg",
        tmp_path / "demonly",
        progress=False,
    )
    st = ChipStore.open(rep.store.path)
    arr = st.read_many(st.ids[:4])
    assert st.meta.has_sar is False and st.meta.n_post == 0 and st.meta.dates == ()
    assert np.isnan(arr[:, 4:16]).all() and np.isfinite(arr[:, 0]).mean() > 0.99
    assert st.info()["n_heads"] > 0


def test_cli_chips_and_info_json(scene_dir, tmp_path, capsys):
    out = tmp_path / "cli"
    rc = main(["-q", *chips_argv(scene_dir, out), "--chip-size", "64"])
    assert rc == 0
    capsys.readouterr()
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["chip_size"] == 64 and info["crs"] == "EPSG:32619"
    assert {"n_chips", "channels", "class_counts", "n_heads"} <= set(info)
    assert sum(info["class_counts"].values()) == info["n_chips"]


def test_cli_errors_are_messages_not_tracebacks(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "landslide_app.cli", "info", str(tmp_path / "missing")], capture_output=True, text=True
    )
    assert r.returncode == 2 and "no chip store" in r.stderr and "Traceback" not in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "landslide_app.cli", "chips", "--inventory", "x", "--out", "y", "--bogus"],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2 and "unrecognized arguments" in r.stderr and "Traceback" not in r.stderr


def test_dem_only_from_a_geographic_dem(scene_dir, tmp_path):
    """A DEM in EPSG:4326 is put on a UTM 10 m chip grid (zone chosen from its location)."""
    from rasterio.warp import Resampling, calculate_default_transform, reproject

    src_path = scene_dir / "dem" / "elevation.tif"
    geo = tmp_path / "dem_4326.tif"
    with rasterio.open(src_path) as src:
        transform, w, h = calculate_default_transform(src.crs, "EPSG:4326", src.width, src.height, *src.bounds)
        prof = src.profile | {"crs": "EPSG:4326", "transform": transform, "width": w, "height": h, "driver": "GTiff"}
        prof.pop("blockxsize", None), prof.pop("blockysize", None), prof.pop("tiled", None)
        with rasterio.open(geo, "w", **prof) as dst:
            reproject(rasterio.band(src, 1), rasterio.band(dst, 1), resampling=Resampling.bilinear)
        src_max = float(src.read(1).max())
    rep = build_chips(dem_only_source(geo), scene_dir / "inventory.gpkg", tmp_path / "geo", progress=False)
    st = ChipStore.open(rep.store.path)
    assert st.grid.crs == "EPSG:32619" and st.grid.resolution == 10.0
    assert len(st.ids) >= 30  # most of the 44 land chips of the tiny scene (grid shifted by the warp)
    arr = st.read_many(st.ids[:5])
    assert np.nanmax(arr[:, 0]) <= src_max + 1 and np.nanmax(arr[:, 1]) < 90
    assert (
        st.info()["n_heads"]
        > 0.8
        * ChipStore.open(
            build_chips(
                dem_only_source(src_path), scene_dir / "inventory.gpkg", tmp_path / "utm", progress=False
            ).store.path
        ).info()["n_heads"]
    )
