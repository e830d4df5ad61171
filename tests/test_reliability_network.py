"""Network faults: chip builds over the loopback range server with injected 429 / 503 / connection
resets / slow answers give the same chips as a fault-free build; a source that goes away ends in a
clear error after bounded retries, keeps the finished chips, and a later rerun finishes the store."""

from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest

from landslide_app.chips.build import build_chips
from landslide_app.chips.store import ChipStore
from landslide_app.errors import ChipStoreError, SourceError
from landslide_app.sources import loader
from landslide_app.sources.retry import RetryPolicy, call_with_retry, is_transient
from landslide_app.sources.stac import open_local_catalog
from landslide_app.testing.range_server import FaultSchedule, RangeServer


def fast_policy(attempts: int = 10) -> RetryPolicy:
    """Real sleeps, but short ones (tests must not wait seconds per retry)."""
    return RetryPolicy(attempts=attempts, base_delay_s=0.01, max_delay_s=0.05)


@pytest.fixture
def fast_gdal_retries(monkeypatch):
    """GDAL's own HTTP retries (GDAL_HTTP_MAX_RETRY) stay on, with a short delay."""
    monkeypatch.setattr(loader, "GDAL_ENV", loader.GDAL_ENV.updated(always={"GDAL_HTTP_RETRY_DELAY": "0.01"}))


def assert_same_store(a_path, b_path) -> None:
    a, b = ChipStore.open(a_path), ChipStore.open(b_path)
    assert a.ids.tolist() == b.ids.tolist()
    cols = ["chip_id", "head_count", "density_class", "land_fraction"]
    assert a.index[cols].equals(b.index[cols])
    np.testing.assert_array_equal(a.read_many(a.ids), b.read_many(b.ids))


@pytest.mark.slow
def test_build_through_hundreds_of_faults_equals_fault_free_build(
    scene_dir, tiny_store, tmp_path, fast_gdal_retries, record_property, capsys
):
    cogs = FaultSchedule(seed=11, rate=0.7, slow_rate=0.05, slow_s=0.02, only=(".tif",))
    stac = FaultSchedule(seed=12, rate=0.3, only=(".json",))
    policy = fast_policy()
    with RangeServer(scene_dir, faults=lambda path: cogs(path) or stac(path)) as srv:
        source = open_local_catalog(f"{srv.url}/catalog.json", retry=policy)
        build_chips(source, scene_dir / "inventory.gpkg", tmp_path / "http", progress=False, retry=policy)
        stats = srv.stats
    hard = {k: v for k, v in stats.faults.items() if k != "slow"}
    n_hard = sum(hard.values())
    # every kind was injected, hundreds in all; GDAL's retries absorb most, ours the rest
    assert set(hard) == {"http_429", "http_503", "reset"} and n_hard >= 200, stats.faults
    assert stats.faults.get("slow", 0) > 0
    assert_same_store(tiny_store, tmp_path / "http")
    record_property("faults_survived", n_hard)
    with capsys.disabled():
        print(
            f"\n[network faults] survived {n_hard} injected faults {hard} (+{stats.faults.get('slow', 0)} slow "
            f"answers) in {stats.requests} requests; {policy.faults_survived} reached landslide_app's own retries"
        )


@pytest.mark.slow
def test_source_gone_ends_clearly_keeps_finished_chips_and_rerun_finishes(
    scene_dir, tiny_store, tmp_path, fast_gdal_retries
):
    lock, count, box = threading.Lock(), {"tif": 0}, {}

    def go_away_after_some_reads(path: str):
        if path.endswith(".tif"):
            with lock:
                count["tif"] += 1
                if count["tif"] == 70:  # the server disappears mid-build (connections reset, then refused)
                    threading.Thread(target=box["srv"].close, daemon=True).start()
        return None

    out = tmp_path / "store"
    policy = fast_policy(attempts=3)
    with RangeServer(scene_dir, faults=go_away_after_some_reads) as srv:
        box["srv"], port, url = srv, srv.port, f"{srv.url}/catalog.json"
        source = open_local_catalog(url, retry=policy)
        t0 = time.perf_counter()
        with pytest.raises(SourceError, match=r"gave up reading .* after 3 attempts.*rerun the same command") as info:
            build_chips(source, scene_dir / "inventory.gpkg", out, progress=False, retry=policy)
        elapsed = time.perf_counter() - t0
    assert re.search(r"The server 127.0.0.1:\d+ does not accept connections now", str(info.value)), str(info.value)
    assert elapsed < 60  # bounded retries
    done = ChipStore.open(out, require_complete=False).done_records()
    assert 0 < len(done) < 48  # what was finished is kept...
    with pytest.raises(ChipStoreError, match="incomplete"):
        ChipStore.open(out)  # ...and the store says it is unfinished
    # the source is back at the same address; the rerun retries as the product's default policy does
    # (8 attempts, growing waits), scaled down: a window of ~2 s, not the 0.06 s of the 3 fast attempts
    # above (in one full-suite CI run a row's first reads after the restart failed within those 0.06 s)
    rerun = RetryPolicy(attempts=8, base_delay_s=0.05, max_delay_s=0.5)
    with RangeServer(scene_dir, port=port):
        rep = build_chips(
            open_local_catalog(url, retry=rerun), scene_dir / "inventory.gpkg", out, progress=False, retry=rerun
        )
    assert rep.n_skipped == len(done) and rep.n_built > 0
    assert_same_store(tiny_store, out)


def test_retry_classification_follows_wrapped_errors():
    """pystac and stackstac wrap the network error; the cause decides whether to retry."""
    try:
        try:
            raise ConnectionResetError("Connection reset by peer")
        except ConnectionResetError as e:
            raise Exception("Could not read uri http://x/catalog.json") from e
    except Exception as wrapped:  # noqa: BLE001
        assert is_transient(wrapped)
    assert not is_transient(ValueError("bad value"))
    assert is_transient(OSError("HTTP Error 503: Service Unavailable"))
    calls = {"n": 0, "hooks": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] < 3:
            raise OSError("HTTP response code: 429")
        return "ok"

    sleeps: list[float] = []
    pol = RetryPolicy(attempts=5, base_delay_s=0.01, sleep=sleeps.append)
    assert call_with_retry(flaky, pol, "x", on_retry=lambda e: calls.__setitem__("hooks", calls["hooks"] + 1)) == "ok"
    assert calls["hooks"] == 2 and len(sleeps) == 2 and pol.faults_survived == 2
    # giving up does not sleep after the last attempt
    sleeps.clear()
    with pytest.raises(SourceError):
        call_with_retry(
            lambda: (_ for _ in ()).throw(OSError("HTTP response code: 503")),
            RetryPolicy(attempts=3, sleep=sleeps.append),
            "y",
        )
    assert len(sleeps) == 2
