"""Chip grid geometry, head rasterisation and the chip store's atomic/resumable behaviour."""

from __future__ import annotations

import json

import numpy as np
import pytest

from landslide_app.chips.labels import HeadRaster
from landslide_app.chips.meta import StoreMeta
from landslide_app.chips.store import ChipStore
from landslide_app.core.density import density_class
from landslide_app.core.grid import ChipGrid
from landslide_app.errors import ChipStoreError, ConfigError


def test_grid_geometry_and_ids():
    g = ChipGrid(epsg=32619, x0=700000.0, y0=2050000.0, n_rows=3, n_cols=4)
    assert g.chip_area_km2 == pytest.approx(1.6384)
    assert g.width == 512 and g.height == 384
    assert g.chip_rc(g.chip_id(2, 3)) == (2, 3)
    assert g.chip_bounds(g.chip_id(1, 2)) == (700000 + 2 * 1280, 2050000 - 2 * 1280, 700000 + 3 * 1280, 2050000 - 1280)
    assert g.bounds == (700000.0, 2050000.0 - 3 * 1280, 700000.0 + 4 * 1280, 2050000.0)


def test_grid_from_bounds_snaps_and_counts_whole_chips():
    g = ChipGrid.from_bounds((700003.0, 2040000.0, 700003.0 + 1280 * 2.5, 2046401.0), 32619)
    assert g.x0 == 700010.0 and g.y0 == 2046400.0
    assert (g.n_cols, g.n_rows) == (2, 5)
    with pytest.raises(ConfigError, match="no whole chip"):
        ChipGrid.from_bounds((0, 0, 100, 100), 32619)
    with pytest.raises(ConfigError, match="lon/lat"):
        ChipGrid.from_lonlat_bbox((-66.5, 18.5, -66.0, 18.0), 32619)  # S > N


def test_head_raster_counts_and_outside():
    g = ChipGrid(epsg=32619, x0=0.0, y0=2560.0, n_rows=2, n_cols=2)
    # two heads in the same pixel (row 0, col 0 of chip 0), one in chip 3, one outside
    x = np.array([5.0, 7.0, 1280 + 15.0, -5.0])
    y = np.array([2555.0, 2551.0, 1280 - 25.0, 100.0])
    hr = HeadRaster(g, x, y)
    assert hr.n_inside == 3 and hr.n_outside == 1
    c0 = hr.chip_counts(0)
    assert c0[0, 0] == 2 and c0.sum() == 2
    c3 = hr.chip_counts(3)
    assert c3[2, 1] == 1 and c3.sum() == 1
    assert hr.chip_counts(1).sum() == 0


def test_density_classes_by_hand():
    area = 1.6384
    assert density_class([0, 1, 40, 41, 200], area).tolist() == [0, 1, 1, 2, 2]  # 40/1.6384=24.4, 41 -> 25.02
    assert density_class([1, 3, 4], area, thresholds=(1.0, 2.0)).tolist() == [0, 1, 2]  # 0.61, 1.83, 2.44 /km²
    with pytest.raises(ConfigError, match="impossible"):
        density_class([1], area, thresholds=(25.0, 1.0))


def _store(tmp_path, fp="a"):
    g = ChipGrid(epsg=32619, x0=0.0, y0=64.0 * 10, n_rows=2, n_cols=3, chip_size=32)
    return ChipStore.create(
        tmp_path / "s", StoreMeta(grid=g, channels=("a", "b", "label"), fingerprint=fp, data_fingerprint=fp)
    )


def test_store_write_resume_finalize_and_read(tmp_path):
    st = _store(tmp_path)
    data = np.random.default_rng(0).random((3, 32, 32)).astype(np.float32)
    st.write_chip(
        4, data, {"kept": True, "row": 1, "col": 1, "head_count": 3, "density_class": 1, "land_fraction": 1.0}
    )
    st.write_chip(0, None, {"kept": False, "row": 0, "col": 0, "land_fraction": 0.1})
    with pytest.raises(ChipStoreError, match="incomplete"):
        ChipStore.open(tmp_path / "s")
    # reopening with the same fingerprint resumes: the done records survive
    again = _store(tmp_path)
    assert sorted(again.done_records()) == [0, 4]
    again.finalize()
    done = ChipStore.open(tmp_path / "s")
    assert done.ids.tolist() == [4]
    np.testing.assert_array_equal(done.read(4), data)
    assert np.isnan(done.read(1)).all()  # never written: fill value NaN, not zeros
    info = done.info()
    assert info["n_chips"] == 1 and info["class_counts"] == {"0": 0, "1": 1, "2": 0} and info["n_heads"] == 3
    assert info["crs"] == "EPSG:32619" and info["chip_size"] == 32


def test_direct_chunk_writes_are_zarrs_own_bytes(tmp_path):
    """Chips are encoded and written without zarr's write path; the chunk files must be exactly
    the bytes zarr itself writes for the same data, and zarr must read them back."""
    import zarr

    from landslide_app.chips.store import CHUNK_CODEC

    st = _store(tmp_path)
    data = np.random.default_rng(1).normal(size=(3, 32, 32)).astype(np.float32)
    data[0, :4] = np.nan
    st.write_chip_data(4, data)
    assert st._chunk_writer  # the direct path was taken
    ref = zarr.create_array(
        store=str(tmp_path / "ref.zarr"),
        shape=(2, 3, 3, 32, 32),
        chunks=(1, 1, 3, 32, 32),
        dtype="float32",
        fill_value=np.nan,
        compressors=[CHUNK_CODEC()],
    )
    ref[1, 1] = data
    key = "c/1/1/0/0/0"
    assert (tmp_path / "s" / "chips.zarr" / key).read_bytes() == (tmp_path / "ref.zarr" / key).read_bytes()
    np.testing.assert_array_equal(st.read(4), data)
    assert not list((tmp_path / "s").rglob("*.partial"))
    st.write_chip_data(5, np.full((3, 32, 32), np.nan, np.float32))  # all fill value: no chunk file, as zarr
    assert not (tmp_path / "s" / "chips.zarr" / "c/1/2/0/0/0").exists()


def test_arrays_with_other_codecs_are_written_by_zarr(tmp_path):
    import zarr
    from zarr.codecs import ZstdCodec

    st = _store(tmp_path)
    zarr.create_array(
        store=str(tmp_path / "s" / "chips.zarr"),
        shape=(2, 3, 3, 32, 32),
        chunks=(1, 1, 3, 32, 32),
        dtype="float32",
        fill_value=np.nan,
        compressors=[ZstdCodec()],
        overwrite=True,
    )
    data = np.random.default_rng(2).random((3, 32, 32)).astype(np.float32)
    st.write_chip_data(1, data)
    assert st._chunk_writer is False  # not the layout the direct writer handles
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "s" / "chips.zarr"), mode="r")[0, 1], data)


def test_store_refuses_other_inputs_and_bad_meta(tmp_path):
    _store(tmp_path, fp="a")
    with pytest.raises(ChipStoreError, match="other inputs"):
        _store(tmp_path, fp="b")
    (tmp_path / "s" / "store.json").write_text("{ truncated")
    with pytest.raises(ChipStoreError, match="unreadable"):
        ChipStore.open(tmp_path / "s")
    with pytest.raises(ChipStoreError, match="no chip store"):
        ChipStore.open(tmp_path / "nope")


def test_store_ignores_damaged_marker(tmp_path):
    st = _store(tmp_path)
    (tmp_path / "s" / "done" / "2.json").write_text("{")
    assert st.done_records() == {}
    json.loads((tmp_path / "s" / "store.json").read_text())  # meta intact
