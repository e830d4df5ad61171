"""The real Planetary Computer path, run whole against the loopback emulation (issue 12).

``chips --source planetary-computer`` goes through pystac-client (search, paging), the
``planetary_computer`` SDK (SAS tokens from ``PC_SDK_SAS_URL``), stackstac/GDAL reading COGs from
blob-storage host names through an HTTP proxy, per-item CRSs (EPSG:32619 and 32620 slices,
EPSG:4326 DEM tiles), the orbit choice and the mosaicking of slices per day -- with the real
libraries, unchanged. See :mod:`landslide_app.testing.pc_emulator` for what is emulated.

Tolerances against the scene the products were cut from (measured on seed 7, tiny): elevation
per-pixel median |diff| 0.7 m (asserted <= 2 m), chip-mean |diff| <= 0.07 m (asserted <= 0.5 m),
after the 1 arc-second DEM is resampled back onto the 10 m grid; SAR chip means within 0.07 %
(asserted 0.5 %) where the EPSG:32620 slice was reprojected twice, bit-identical where only the
EPSG:32619 slice (on the grid's lattice) covers a chip.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from landslide_app.cli import main
from landslide_app.config import S1_DATES, S1_PLATFORMS
from landslide_app.testing.pc_archive import Archive, build_archive
from landslide_app.testing.pc_emulator import BurstFaults, PlanetaryComputerEmulator, wait_closed

pytestmark = [pytest.mark.pc_emulated, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def archive(scene_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Archive:
    return build_archive(scene_dir, tmp_path_factory.mktemp("pc-archive"))


@pytest.fixture
def emulator(archive: Archive):
    """Start an emulator with the given options; on exit check that nothing is left listening."""
    started: list[PlanetaryComputerEmulator] = []

    def start(**kw) -> PlanetaryComputerEmulator:
        emu = PlanetaryComputerEmulator(archive, **kw)
        started.append(emu)
        return emu

    yield start
    for emu in started:
        assert wait_closed(int(emu.url.rsplit(":", 1)[1])), f"{emu.url} still listening"


def _chips(archive: Archive, source: str, out: Path, *extra: str) -> int:
    return main(
        [
            "-q",
            "chips",
            "--source",
            source,
            "--bbox",
            *map(str, archive.bbox),
            "--event-date",
            "2017-09-20",
            "--inventory",
            str(archive.inventory),
            "--out",
            str(out),
            *extra,
        ]
    )


def _read(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    from landslide_app.chips.store import ChipStore

    store = ChipStore.open(path)
    ids = np.asarray(store.ids)
    return ids, store.read_many(list(ids)), store.info()


@pytest.fixture(scope="module")
def local_store(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same rasters read from a local STAC catalog (orbit 135, as paper Table 1)."""
    out = tmp_path_factory.mktemp("pc-local") / "chips"
    assert _chips(archive, str(archive.local_catalog), out) == 0
    return out


@pytest.fixture(scope="module")
def pc_run(archive: Archive, tmp_path_factory: pytest.TempPathFactory):
    """``chips --source planetary-computer --orbit auto`` through a fault-free emulator."""
    out = tmp_path_factory.mktemp("pc-clean") / "chips"
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.INFO)
    logger = logging.getLogger("landslide_app.sources")
    logger.addHandler(handler)
    old = logger.level
    logger.setLevel(logging.INFO)
    try:
        with PlanetaryComputerEmulator(archive, page_size=4) as emu:
            rc = _chips(archive, "planetary-computer", out, "--orbit", "auto")
        assert wait_closed(int(emu.url.rsplit(":", 1)[1]))
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)
    assert rc == 0
    return out, emu.stats, [r.getMessage() for r in records]


def test_planetary_computer_path_gives_table1_and_the_local_catalog_chips(pc_run, local_store, archive):
    out, stats, messages = pc_run
    ids, pc, info = _read(out)
    ids_l, local, _ = _read(local_store)
    # the whole path ran: paged POST searches, SAS tokens for both containers, reads of both blob hosts
    assert stats.post_searches >= 2 and stats.pages > stats.searches
    assert stats.tokens_issued >= 2 and not stats.blob_denied
    assert stats.hosts == {"sentinel1euwestrtc.blob.core.windows.net", "nasademeuwest.blob.core.windows.net"}
    # orbit auto: 98's first post-event pass (09-21) covers only part of the area, so 135 wins, and says why
    picked = [m for m in messages if m.startswith("picked relative orbit 135 (ascending)")]
    assert picked and "2017-09-22" in picked[0]
    assert "relative orbit 98 (descending): first post-event pass 2017-10-03" in picked[0]
    assert any("2017-09-21 (0.6" in m for m in messages)
    # paper Table 1: dates, platforms, orbit, roles, event
    acqs = info["acquisitions"]
    assert [a["datetime"][:10] for a in acqs] == [str(d.date()) for d in S1_DATES]
    assert [a["platform"] for a in acqs] == list(S1_PLATFORMS)
    assert [a["role"] for a in acqs] == ["pre"] * 3 + ["post"] * 3
    assert info["relative_orbit"] == 135 and info["orbit_state"] == "ascending" and info["event_date"] == "2017-09-20"
    # every pass mosaics a slice in EPSG:32619 and one in EPSG:32620; the grid straddles 66 W
    by_id = {i["id"]: i for i in archive.items["sentinel-1-rtc"]}
    for a in acqs:
        assert sorted(by_id[i]["properties"]["proj:epsg"] for i in a["items"]) == [32619, 32620]
    assert archive.bbox[0] < -66.0 < archive.bbox[2] and info["crs"] == "EPSG:32619"
    # identical to the same rasters read from a local catalog
    assert np.array_equal(ids, ids_l) and len(ids) >= 20
    assert np.array_equal(pc, local, equal_nan=True)
    assert np.isfinite(pc[:, :16]).mean() > 0.99


def test_chips_are_the_scene_within_resampling_tolerance(pc_run, archive, tmp_path):
    out = tmp_path / "truth"
    assert _chips(archive, str(archive.root / "truth" / "catalog.json"), out) == 0
    ids_t, truth, info = _read(out)
    ids, pc, _ = _read(pc_run[0])
    assert np.array_equal(ids, ids_t)
    elev = pc[:, 0] - truth[:, 0]
    assert np.nanmedian(np.abs(elev)) <= 2.0
    assert np.nanmax(np.abs(np.nanmean(elev, axis=(1, 2)))) <= 0.5
    sar_pc, sar_t = np.nanmean(pc[:, 4:16], axis=(2, 3)), np.nanmean(truth[:, 4:16], axis=(2, 3))
    assert np.nanmax(np.abs(sar_pc / sar_t - 1)) <= 0.005
    # chips covered by the EPSG:32619 slice alone (the two western grid columns) are bit-identical
    n_cols = info["grid"]["n_cols"]
    west = np.isin(ids % n_cols, [0, 1])
    assert west.sum() >= 4 and np.array_equal(pc[west, 4:16], truth[west, 4:16])
    assert not np.array_equal(pc[~west, 4:16], truth[~west, 4:16])  # the others went through EPSG:32620
    assert np.array_equal(pc[:, 16], truth[:, 16])  # labels


def test_faults_and_a_token_expiring_mid_build_give_the_same_chips(pc_run, archive, emulator, tmp_path):
    faults = BurstFaults(every=9, length=2)
    with emulator(page_size=3, faults=faults, revoke_first_token_after=25) as emu:
        assert _chips(archive, "planetary-computer", tmp_path / "chips", "--orbit", "auto") == 0
    s = emu.stats
    assert faults.served >= 20  # 429 and 503 on search pages and on COG reads, all survived
    assert s.blob_denied.get("expired", 0) >= 1 and s.tokens_issued >= 3  # refused mid-build, re-signed
    ids, faulted, _ = _read(tmp_path / "chips")
    ids_c, clean, _ = _read(pc_run[0])
    assert np.array_equal(ids, ids_c) and np.array_equal(faulted, clean, equal_nan=True)


def test_refused_token_is_a_signing_error(archive, emulator, tmp_path, capsys):
    with emulator(refuse_tokens=True) as emu:
        rc = _chips(archive, "planetary-computer", tmp_path / "chips")
    assert rc == 3 and emu.stats.tokens_refused >= 1 and emu.stats.blob_reads == 0
    err = capsys.readouterr().err
    assert "refused to sign the assets (HTTP 403)" in err and "PC_SDK_SUBSCRIPTION_KEY" in err


def test_no_post_event_pass_yet_names_the_expected_one(archive, emulator, tmp_path, capsys):
    with emulator():
        rc = main(
            [
                "-q",
                "chips",
                "--source",
                "planetary-computer",
                "--bbox",
                *map(str, archive.bbox),
                "--event-date",
                "2017-11-10",
                "--inventory",
                str(archive.inventory),
                "--out",
                str(tmp_path / "c"),
            ]
        )
    err = capsys.readouterr().err
    assert rc == 3, err
    assert (
        "no Sentinel-1 acquisition over the area after 2017-11-10 yet; the first pass of orbit 135 (ascending) "
        "is expected on 2017-11-15"
    ) in err


def test_any_stac_api_url_with_one_post_pass(archive, emulator, local_store, tmp_path):
    with emulator() as emu:
        rc = _chips(
            archive,
            emu.stac_url,
            tmp_path / "chips",
            "--sign",
            "planetary-computer",
            "--post",
            "1",
            "--orbit",
            "135",
            "--orbit-state",
            "ascending",
        )
    assert rc == 0
    ids, arr, info = _read(tmp_path / "chips")
    assert [a["role"] for a in info["acquisitions"]] == ["pre"] * 3 + ["post"]
    ids_l, local, _ = _read(local_store)
    assert np.array_equal(ids, ids_l)
    assert np.array_equal(arr[:, :12], local[:, :12], equal_nan=True)  # DEM, 3 pre dates and the first post date
    assert np.isnan(arr[:, 12:16]).all()  # the missing post slots stay NaN


def test_search_get_and_post_paging_query_and_blob_token_check(archive, emulator):
    import pystac_client
    import requests

    with emulator(page_size=2) as emu:
        client = pystac_client.Client.open(emu.stac_url)
        kw = dict(
            collections=["sentinel-1-rtc"],
            bbox=list(archive.bbox),
            datetime="2017-09-01/2017-10-31",
            query={"sat:relative_orbit": {"eq": 98}},
        )
        got = {m: sorted(i["id"] for i in client.search(method=m, **kw).items_as_dicts()) for m in ("GET", "POST")}
        # orbit 98 in Sep-Oct: 09-09, 09-21 (west slice only), 10-03, 10-15 -> 7 slices, paged two at a time
        assert got["GET"] == got["POST"] and len(got["GET"]) == 7
        assert emu.stats.get_searches == 1 and emu.stats.post_searches == 1 and emu.stats.pages >= 8
        href = archive.items["nasadem"][0]["assets"]["elevation"]["href"]
        proxies = {"http": emu.url}
        assert requests.get(href, proxies=proxies, headers={"Range": "bytes=0-15"}, timeout=10).status_code == 403
        import planetary_computer

        signed = planetary_computer.sign(href)
        r = requests.get(signed, proxies=proxies, headers={"Range": "bytes=0-15"}, timeout=10)
        assert r.status_code == 206 and len(r.content) == 16
        assert requests.get(signed.replace("sig=", "sig=0"), proxies=proxies, timeout=10).status_code == 403


def test_respond_through_the_emulator(archive, emulator, pc_run, dem_run, tmp_path):
    """``respond --source planetary-computer`` (issue 11) on the emulation: a DEM-only model reads
    only the DEM tiles; its unlabelled store has the DEM channels of the ``chips`` store."""
    from landslide_app.cli import build_parser

    if "respond" not in build_parser().format_help():
        pytest.skip("no respond command in this version")
    out = tmp_path / "respond"
    with emulator() as emu:
        rc = main(
            [
                "-q",
                "respond",
                "--source",
                "planetary-computer",
                "--bbox",
                *map(str, archive.bbox),
                "--event-date",
                "2017-09-20",
                "--orbit",
                "auto",
                "--model",
                str(dem_run),
                "--out",
                str(out),
            ]
        )
    assert rc == 0
    assert (out / "map.png").stat().st_size > 0 and (out / "density.tif").exists()
    assert emu.stats.hosts == {"nasademeuwest.blob.core.windows.net"}  # no SAR read for a DEM-only model
    ids, arr, info = _read(out / "chips")
    ids_c, clean, _ = _read(pc_run[0])
    assert info["labelled"] is False
    assert np.array_equal(ids, ids_c) and np.array_equal(arr[:, :4], clean[:, :4], equal_nan=True)
