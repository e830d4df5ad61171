"""A chip store checks itself (issue 15, theme 2), labels are optional and the store records its
acquisitions (issue 11): typed metadata, open-time validation, per-chip checksums with
``landslide-app check``, exact repair by a rerun, labelling later without the rasters, fewer
post-event dates, and old stores."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from cli_argv import ablate_dem_argv

from landslide_app.chips.build import build_chips
from landslide_app.chips.meta import FORMAT, StoreMeta
from landslide_app.chips.store import ChipStore
from landslide_app.cli import main
from landslide_app.config import CHANNELS, LABEL_CHANNEL
from landslide_app.errors import ChipStoreError
from landslide_app.sources.stac import open_local_catalog

LABEL = CHANNELS.index(LABEL_CHANNEL)


def _build(scene: Path, out: Path, inventory: bool = True, **kw):
    inv = scene / "inventory.gpkg" if inventory else None
    return build_chips(open_local_catalog(scene / "catalog.json"), inv, out, progress=False, **kw)


def _chunk(store: ChipStore, chip_id: int) -> Path:
    row, col = store.grid.chip_rc(chip_id)
    return store.path / "chips.zarr" / "c" / str(row) / str(col) / "0" / "0" / "0"


def _edit_json(path: Path, fn) -> None:
    d = json.loads(path.read_text())
    fn(d)
    path.write_text(json.dumps(d))


@pytest.fixture
def store_copy(tiny_store, tmp_path) -> Path:
    out = tmp_path / "copy"
    shutil.copytree(tiny_store, out)
    return out


# ---- typed metadata ---------------------------------------------------------------------------
def test_store_meta_round_trips_and_records_acquisitions(tiny_store):
    st = ChipStore.open(tiny_store)
    m = st.meta
    assert isinstance(m, StoreMeta) and m.format == FORMAT and m.complete and m.labelled
    assert StoreMeta.from_json(json.loads(json.dumps(m.to_json()))) == m
    assert m.channels == CHANNELS and m.chip_size == 128 and m.crs == "EPSG:32619"
    assert m.density_thresholds == (0.0, 25.0) and m.n_chips == 44 == len(st.ids)
    # paper Table 1 (the demo catalog): 3 pre + 3 post passes of orbit 135 ascending around 2017-09-20
    assert m.event_date.startswith("2017-09-20") and m.relative_orbit == 135 and m.orbit_state == "ascending"
    assert m.n_pre_dates == 3 and m.n_post == 3 and st.n_post == 3
    acq = m.acquisitions
    assert [a.role for a in acq] == ["pre"] * 3 + ["post"] * 3 and [a.slot for a in acq] == list(range(6))
    assert (
        [a.date for a in acq]
        == list(m.dates)
        == ["2017-08-23", "2017-09-04", "2017-09-16", "2017-09-22", "2017-10-10", "2017-10-22"]
    )
    assert acq[3].platform == "sentinel-1b" and acq[0].platform == "sentinel-1a"
    assert acq[3].datetime.startswith("2017-09-22T22:35:44")
    st.check_revisits(3)


def test_info_json_shows_labels_event_orbit_and_acquisitions(tiny_store, capsys):
    assert main(["info", str(tiny_store), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["labelled"] is True and sum(info["class_counts"].values()) == info["n_chips"] == 44
    assert info["n_post"] == 3 and info["relative_orbit"] == 135 and info["orbit_state"] == "ascending"
    assert info["event_date"].startswith("2017-09-20") and len(info["acquisitions"]) == 6
    assert {"datetime", "platform", "role", "slot", "relative_orbit", "orbit_state"} <= set(info["acquisitions"][0])


# ---- open validates metadata against the array and the index ----------------------------------
@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda d: d["channels"].__setitem__(4, "vh_t0"), r"channel names repeat"),
        (lambda d: d.update(channels=d["channels"][:-1]), r"zarr array has shape .* describes"),
        (lambda d: d.update(chip_size=64), r"chip_size 64 but its grid has 128-pixel"),
        (lambda d: (d["grid"].update(chip_size=64), d.update(chip_size=64)), r"zarr array has shape .*64 px"),
        (lambda d: d.update(density_thresholds=[0.0, 5.0]), r"density classes in index.gpkg disagree .*\[0.0, 5.0\]"),
        (lambda d: d.update(n_chips=45), r"index.gpkg lists 44 chips but store.json records 45"),
        (lambda d: d["dates"].reverse(), r"not in time order"),
        (lambda d: d.update(n_pre_dates=2), r"marked pre-event but n_pre_dates is 2"),
        (lambda d: d.update(event_date="2017-10-15"), r"do not lie either side of the event date 2017-10-15"),
        (lambda d: d["grid"].update(x0=d["grid"]["x0"] + 1280.0), r"origin or pixel size edited"),
        (
            lambda d: d["grid"].update(epsg=32620),
            r"index.gpkg is in EPSG:32619 but the grid of store.json in EPSG:32620",
        ),
    ],
    ids=[
        "channel-renamed",
        "channel-dropped",
        "chip-size",
        "grid-chip-size",
        "thresholds",
        "chip-count",
        "dates-order",
        "pre-count",
        "event-date",
        "grid-origin",
        "grid-crs",
    ],
)
def test_open_refuses_metadata_that_disagrees_with_the_data(store_copy, edit, match):
    ChipStore.open(store_copy)  # intact: opens
    _edit_json(store_copy / "store.json", edit)
    with pytest.raises(ChipStoreError, match=match):
        ChipStore.open(store_copy)


def test_truncated_index_is_refused_and_a_rerun_rewrites_it(scene_dir, tmp_path):
    out = tmp_path / "s"
    ref = _build(scene_dir, out).store
    ids = ref.ids.tolist()
    idx = gpd.read_file(out / "index.gpkg", layer="chips")
    idx.iloc[:30].to_file(out / "index.gpkg", driver="GPKG", layer="chips")  # a truncated index
    with pytest.raises(ChipStoreError, match=r"index.gpkg lists 30 chips but store.json records 44.*Rerun the same"):
        ChipStore.open(out)
    rep = _build(scene_dir, out)
    assert rep.n_built == 0 and ChipStore.open(out).ids.tolist() == ids


# ---- per-chip checksums: check, cheap open check, exact repair --------------------------------
def test_check_finds_damaged_swapped_and_truncated_chunks_and_a_rerun_rebuilds_exactly_them(
    scene_dir, tmp_path, capsys
):
    out = tmp_path / "s"
    st = _build(scene_dir, out).store
    st = ChipStore.open(out)
    ids = st.ids.tolist()
    before = st.read_many(ids)
    damaged, a, b, truncated = ids[3], ids[10], ids[11], ids[20]
    assert _chunk(st, a).stat().st_size != _chunk(st, b).stat().st_size
    f = _chunk(st, damaged)  # flip bytes in the middle: same size
    raw = bytearray(f.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 8] = bytes(255 - x for x in raw[len(raw) // 2 : len(raw) // 2 + 8])
    f.write_bytes(bytes(raw))
    fa, fb = _chunk(st, a), _chunk(st, b)  # two chunk files exchanged
    tmp = fa.with_name("swap")
    fa.rename(tmp)
    fb.rename(fa)
    tmp.rename(fb)
    ft = _chunk(st, truncated)
    ft.write_bytes(ft.read_bytes()[:1000])

    # every open checks the chunk sizes (cheap): the swapped and truncated chunks are found
    with pytest.raises(
        ChipStoreError,
        match=rf"chip {a} is unreadable.*chip {truncated} is unreadable.*truncated; "
        rf"rebuild it.*rebuilds exactly chips {a}, {b}, {truncated}",
    ):
        ChipStore.open(out)
    # `check` compares every chunk's CRC-32: all four, by chip id
    assert main(["check", str(out), "--json"]) == 2
    rep = json.loads(capsys.readouterr().out)
    assert rep["ok"] is False and rep["damaged_chips"] == sorted([damaged, a, b, truncated])
    assert "corrupted" in rep["reasons"][str(damaged)] and "unreadable" in rep["reasons"][str(truncated)]
    assert main(["check", str(out)]) == 2
    listed = ", ".join(map(str, sorted([damaged, a, b, truncated])))
    assert f"rebuilds exactly chips {listed}" in capsys.readouterr().err

    # a rerun of the same build rewrites exactly those four chunks
    stamps = {c: (_chunk(st, c).stat().st_ino, _chunk(st, c).stat().st_mtime_ns) for c in ids}
    report = _build(scene_dir, out)
    assert report.n_built == 4
    fixed = ChipStore.open(out)
    changed = [c for c in ids if (_chunk(fixed, c).stat().st_ino, _chunk(fixed, c).stat().st_mtime_ns) != stamps[c]]
    assert sorted(changed) == sorted([damaged, a, b, truncated])
    np.testing.assert_array_equal(fixed.read_many(ids), before)
    assert fixed.ids.tolist() == ids and len(fixed.done_records()) == fixed.grid.n_chips
    assert main(["check", str(out)]) == 0
    assert "44 chips OK" in capsys.readouterr().out


def test_missing_chunk_is_found_on_open(store_copy):
    st = ChipStore.open(store_copy)
    cid = int(st.ids[5])
    _chunk(st, cid).unlink()
    with pytest.raises(ChipStoreError, match=rf"chip {cid} has no data on disk.*truncated; rebuild it"):
        ChipStore.open(store_copy)


# ---- checked reads -----------------------------------------------------------------------------
def _flip(path: Path, n: int = 64) -> None:
    """Invert ``n`` bytes in the middle of a file, keeping its size."""
    raw = bytearray(path.read_bytes())
    mid = len(raw) // 2
    raw[mid : mid + n] = bytes(255 - x for x in raw[mid : mid + n])
    path.write_bytes(bytes(raw))


def test_checked_reads_return_what_zarr_returns_bit_for_bit(tiny_store):
    st = ChipStore.open(tiny_store)
    ids = st.ids.tolist()
    ref = np.stack([np.asarray(st.array[r, c]) for r, c in map(st.grid.chip_rc, ids)])
    got = st.read_many(ids)
    assert type(st._chunk_reader).__name__ == "DirectChunkReader" and len(st._chunk_digests()) == len(ids)
    assert got.dtype == np.float32 and got.flags.writeable and got.shape == (44, 17, 128, 128)
    np.testing.assert_array_equal(got.view(np.uint32), ref.view(np.uint32))  # NaNs included, bit for bit
    np.testing.assert_array_equal(st.read(ids[7]).view(np.uint32), ref[7].view(np.uint32))
    sub = st.read_many(ids[:3], [0, LABEL])
    np.testing.assert_array_equal(sub.view(np.uint32), ref[:3][:, [0, LABEL]].view(np.uint32))
    assert st.read_many([]).shape == (0, 17, 128, 128)


def test_a_chunk_damaged_in_place_is_refused_by_every_reader_and_a_rerun_repairs_it(
    scene_dir, tiny_store, dem_run, tmp_path, capsys
):
    """64 bytes flipped in the middle of a chunk, same size: the open-time size check cannot see it and Blosc
    decodes it silently; every read for use compares the CRC-32 and refuses, naming the chip and the fix."""
    from landslide_app.chips.cache import StoreCache
    from landslide_app.experiments.ablation import AblationSettings, run_ablation
    from landslide_app.experiments.production import predict_run

    out = tmp_path / "s"
    shutil.copytree(tiny_store, out)
    st = ChipStore.open(out)
    ids = st.ids.tolist()
    cid, cid2, good = ids[5], ids[30], ids[9]
    size = _chunk(st, cid).stat().st_size
    _flip(_chunk(st, cid))
    assert _chunk(st, cid).stat().st_size == size
    row, col = st.grid.chip_rc(cid)
    assert np.isfinite(np.asarray(st.array[row, col])[0]).any()  # zarr alone decodes the damaged chunk silently
    st = ChipStore.open(out)  # sizes agree: the open succeeds
    fix = rf"landslide-app check {out}`.*rerun the same `landslide-app chips` command: it rebuilds exactly"
    with pytest.raises(
        ChipStoreError,
        match=rf"chip {cid} of {out} does not hold the data written.*chip {cid} is "
        rf"corrupted.*{fix}",
    ):
        st.read(cid)
    _flip(_chunk(st, cid2))
    with pytest.raises(ChipStoreError, match=rf"chips {cid}, {cid2} of {out} do not hold"):
        st.read_many([good, cid2, cid])
    np.testing.assert_array_equal(st.read(good), ChipStore.open(tiny_store).read(good))
    with pytest.raises(ChipStoreError, match=rf"chips {cid}, {cid2} of"):
        StoreCache(st).read_many([good])  # the ablation's in-memory copy reads every chip once, checked

    # train (through the CLI), predict and ablate refuse with that message
    assert main(["train", "--chips", str(out), "--inputs", "dem", "--epochs", "1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert re.search(rf"chips? {cid}(, {cid2})? of {out} do(es)? not hold", err), err
    assert f"landslide-app check {out}" in err and "rerun the same" in err
    assert "Traceback" not in err and not (tmp_path / "run" / "model.pt").exists()
    with pytest.raises(ChipStoreError, match=rf"chips? {cid}(, {cid2})? of .*{fix}"):  # the first batch met
        predict_run(dem_run, out, tmp_path / "pred", progress=False)
    with pytest.raises(ChipStoreError, match=rf"chips {cid}, {cid2} of .*{fix}"):
        run_ablation(
            out,
            tmp_path / "abl",
            AblationSettings(inputs=("dem",), revisits=(1,), epochs=1, baselines=False),
            progress=False,
        )

    # a rerun of the same build rebuilds exactly the two chips; reads are then those of the intact store
    assert _build(scene_dir, out).n_built == 2
    np.testing.assert_array_equal(
        ChipStore.open(out).read_many(ids).view(np.uint32), ChipStore.open(tiny_store).read_many(ids).view(np.uint32)
    )


# ---- labels are optional ----------------------------------------------------------------------
def test_unlabelled_store_is_labelled_later_without_reading_the_rasters(scene_dir, tiny_store, tmp_path, capsys):
    scene = tmp_path / "scene"
    shutil.copytree(scene_dir, scene)
    out = tmp_path / "u"
    assert main(["-q", "chips", "--source", str(scene / "catalog.json"), "--out", str(out)]) == 0
    assert "unlabelled" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["labelled"] is False and "class_counts" not in info and "n_heads" not in info
    assert info["n_chips"] == 44 and info["n_post"] == 3 and len(info["acquisitions"]) == 6
    st = ChipStore.open(out)
    assert np.isnan(st.read_many(st.ids[:5])[:, LABEL]).all() and "density_class" not in st.index.columns
    with pytest.raises(ChipStoreError, match=r"no landslide labels; the density class of each chip needs an inventory"):
        _ = st.classes

    # train and ablate refuse it with one message
    for argv in (
        [
            "train",
            "--chips",
            str(out),
            "--inputs",
            "dem",
            "--revisits",
            "1",
            "--epochs",
            "1",
            "--out",
            str(tmp_path / "run"),
        ],
        ablate_dem_argv(out, tmp_path / "abl"),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert (
            f"{out} has no landslide labels; `{argv[0]}` needs an inventory: rerun `landslide-app chips ... "
            "--inventory FILE`"
            in err
            and "Traceback" not in err
        )

    # the rasters are gone: labelling must not read them
    (scene / "sar").rename(tmp_path / "sar-away")
    (scene / "dem").rename(tmp_path / "dem-away")
    assert (
        main(
            [
                "-q",
                "chips",
                "--source",
                str(scene / "catalog.json"),
                "--out",
                str(out),
                "--inventory",
                str(scene / "inventory.gpkg"),
            ]
        )
        == 0
    )
    capsys.readouterr()
    lab, ref = ChipStore.open(out), ChipStore.open(tiny_store)
    assert lab.meta.labelled and lab.meta.density_thresholds == (0.0, 25.0)
    assert lab.info()["class_counts"] == ref.info()["class_counts"]
    assert lab.ids.tolist() == ref.ids.tolist()
    np.testing.assert_array_equal(lab.read_many(lab.ids), ref.read_many(ref.ids))  # labels and data as a direct build
    cols = ["chip_id", "head_count", "density_class", "density_per_km2", "land_fraction", "chunk_bytes", "chunk_crc32"]
    assert lab.index[cols].equals(ref.index[cols])
    assert lab.meta.fingerprint != st.meta.fingerprint and lab.meta.data_fingerprint == st.meta.data_fingerprint
    assert main(["check", str(out)]) == 0

    # labelled now: another inventory (or none) is refused, not silently relabelled
    with pytest.raises(ChipStoreError, match=r"is labelled from .*inventory.gpkg.*--overwrite"):
        build_chips(open_local_catalog(scene / "catalog.json"), None, out, progress=False)


# ---- fewer post-event dates --------------------------------------------------------------------
def test_one_post_event_date_keeps_the_layout_and_says_which_models_fit(scene_dir, tiny_store, tmp_path, capsys):
    full = open_local_catalog(scene_dir / "catalog.json")
    src = dataclasses.replace(full, sar_days=full.sar_days[:4], acquisitions=list(full.acquisitions)[:4])
    st = build_chips(src, scene_dir / "inventory.gpkg", tmp_path / "p1", progress=False).store
    ref = ChipStore.open(tiny_store)
    assert st.meta.n_post == 1 and st.meta.dates[-1] == "2017-09-22" and len(st.meta.acquisitions) == 4
    assert st.ids.tolist() == ref.ids.tolist()  # missing SAR slots do not make chips "no data"
    arr = st.read_many(st.ids)
    assert arr.shape[1] == 17
    t3, t4 = CHANNELS.index("vv_t3"), CHANNELS.index("vv_t4")
    assert np.isfinite(arr[:, t3]).mean() > 0.9 and np.isnan(arr[:, t4:LABEL]).all()
    np.testing.assert_array_equal(arr[:, :t4], ref.read_many(ref.ids)[:, :t4])
    assert (st.index["nan_fraction"] < 0.1).all()  # the empty slots are not counted as missing data
    st.check_revisits(1)
    with pytest.raises(
        ChipStoreError,
        match=r"this store has 1 post-event date \(2017-09-22\); use a model "
        r"trained with --revisits 1",
    ):
        st.check_revisits(2)
    from landslide_app.experiments.production import train_run
    from landslide_app.model.inputs import ModelConfig

    msg = r"1 post-event date \(2017-09-22\); use a model trained with --revisits 1"
    with pytest.raises(ChipStoreError, match=msg):
        train_run(st.path, ModelConfig("fused", 2), tmp_path / "run", epochs=1, progress=False)
    # ablate: every SAR configuration (and the change-ratio baseline) must fit the store's dates, refused before
    # anything is written
    from landslide_app.experiments.ablation import AblationSettings, check_store

    ablate = r"1 post-event date \(2017-09-22\); use `ablate --revisits` with values up to 1"
    assert (
        main(
            [
                "ablate",
                "--chips",
                str(st.path),
                "--inputs",
                "sar",
                "--revisits",
                "1",
                "2",
                "--out",
                str(tmp_path / "abl"),
            ]
        )
        == 2
    )
    assert re.search(ablate, capsys.readouterr().err) and not (tmp_path / "abl").exists()
    with pytest.raises(ChipStoreError, match=ablate):  # DEM inputs, but the change ratio with 3 revisits
        check_store(st, AblationSettings(inputs=("dem",)))
    check_store(st, AblationSettings(inputs=("dem", "fused"), revisits=(1,)))
    check_store(st, AblationSettings(inputs=("dem",), baselines=False))


# ---- old stores --------------------------------------------------------------------------------
def test_a_store_of_the_previous_format_opens_and_a_rerun_says_to_rebuild(scene_dir, tiny_store, store_copy, capsys):
    def to_v1(d):
        for k in (
            "data_fingerprint",
            "label_fingerprint",
            "acquisitions",
            "labelled",
            "checksums",
            "n_post",
            "relative_orbit",
            "orbit_state",
            "label_fingerprint",
        ):
            d.pop(k, None)
        d["format"] = "landslide-app-chips/1"

    _edit_json(store_copy / "store.json", to_v1)
    idx = gpd.read_file(store_copy / "index.gpkg", layer="chips").drop(columns=["chunk_bytes", "chunk_crc32"])
    idx.to_file(store_copy / "index.gpkg", driver="GPKG", layer="chips")
    st = ChipStore.open(store_copy)
    assert st.meta.labelled and st.meta.checksums is None and st.info()["class_counts"]["2"] > 0
    assert st._chunk_digests() == {}  # nothing to compare with: read through zarr, the same values
    np.testing.assert_array_equal(
        st.read_many(st.ids).view(np.uint32), ChipStore.open(tiny_store).read_many(st.ids).view(np.uint32)
    )
    assert main(["check", str(store_copy)]) == 0
    assert "metadata only (no checksums recorded)" in capsys.readouterr().out
    with pytest.raises(ChipStoreError, match=r"by an older version \(format landslide-app-chips/1\).*--overwrite"):
        _build(scene_dir, store_copy)


def test_relabelling_interrupted_midway_then_rerun_equals_a_labelled_build(
    scene_dir, tiny_store, tmp_path, monkeypatch
):
    out = tmp_path / "u"
    _build(scene_dir, out, inventory=False)
    calls = {"n": 0}
    real = ChipStore.write_chip_data

    def dies_after_20(self, chip_id, data):  # a crash in the middle of a marker's chips
        calls["n"] += 1
        if calls["n"] > 20:
            raise KeyboardInterrupt
        return real(self, chip_id, data)

    monkeypatch.setattr(ChipStore, "write_chip_data", dies_after_20)
    with pytest.raises(KeyboardInterrupt):
        _build(scene_dir, out)
    monkeypatch.setattr(ChipStore, "write_chip_data", real)
    with pytest.raises(ChipStoreError, match="incomplete"):
        ChipStore.open(out)
    _build(scene_dir, out)
    lab, ref = ChipStore.open(out), ChipStore.open(tiny_store)
    assert lab.meta.labelled and lab.ids.tolist() == ref.ids.tolist()
    np.testing.assert_array_equal(lab.read_many(lab.ids), ref.read_many(ref.ids))
    cols = ["chip_id", "head_count", "density_class", "chunk_bytes", "chunk_crc32"]
    assert lab.index[cols].equals(ref.index[cols])
