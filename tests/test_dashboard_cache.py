"""The dashboard's shared on-disk view cache (issue 14): one copy of each view for every session.

Two processes opening the same workspace use the same cache files and show identical views; a
new run or prediction invalidates them; a damaged entry is rebuilt with a log message; concurrent
first writers build an entry once. Everything is written under pytest's temporary folders.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from landslide_app.dashboard import viewcache
from landslide_app.dashboard.viewcache import FOLDER_NAME, CachedView, SharedViewCache, cache_folder, shared_cache
from landslide_app.experiments.artifacts import RunSpec, run_dir
from landslide_app.testing.datadir import link_data_dir

#: One page in a fresh interpreter (as one Voila kernel): its views' digests and cache counters.
CHILD = textwrap.dedent(
    """
    import hashlib, json, sys
    from ipywidgets import Widget
    import ipyleaflet
    from landslide_app.dashboard import build_app
    from landslide_app.dashboard.area import AreaState
    from landslide_app.dashboard.viewcache import shared_cache
    from landslide_app.experiments.artifacts import RunSpec
    from landslide_app.experiments.workspace import Workspace

    data = sys.argv[1]
    app = build_app(data, autostart=False, warm=False, epochs=1)
    st = app.analyst.state
    v = st.view(RunSpec("fused", 3))
    hs = [w.url for w in list(Widget.widgets.values())
          if isinstance(w, ipyleaflet.ImageOverlay) and w.name == "DEM hillshade"]
    pair = AreaState(Workspace.load(data)).sar_pair()
    h = lambda b: hashlib.sha256(b if isinstance(b, bytes) else json.dumps(b, sort_keys=True).encode()).hexdigest()
    c = shared_cache(st.paths.root)
    print(json.dumps({
        "chips_pred": h(v.chips_pred), "embedding": h(v.embedding_url.encode()), "roc": h(v.roc_png),
        "confusion": h(v.confusion_png), "hillshade": [h(u.encode()) for u in hs],
        "sar": h([p["url"] for p in pair]) if pair else None,
        "proba_memmap": type(v.predictions["proba"]).__name__,
        "proba_writeable": v.predictions["proba"].flags.writeable,
        "builds": c.builds, "hits": c.hits, "folder": str(c.folder),
    }))
    """
)


@pytest.fixture(scope="module")
def data(scene_dir, tiny_store, tmp_path_factory) -> Path:
    """A data dir linking the tiny scene and store, the default configuration trained (1 epoch)."""
    return link_data_dir(tmp_path_factory.mktemp("cache-data") / "ws", scene_dir, tiny_store, epochs=1).root


def _page_in_child(root: Path, **env: str) -> dict:
    e = {k: v for k, v in os.environ.items() if k != viewcache.ENV}
    r = subprocess.run(
        [sys.executable, "-c", CHILD, str(root)],
        capture_output=True,
        text=True,
        env={**e, **env},
        timeout=600,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_two_processes_share_the_cache_files_and_show_identical_views(data, monkeypatch):
    monkeypatch.delenv(viewcache.ENV, raising=False)
    first = _page_in_child(data)
    files = sorted(p.name for p in (data / FOLDER_NAME).iterdir() if not p.name.endswith(".lock"))
    second = _page_in_child(data)
    assert first["folder"] == second["folder"] == str(data / FOLDER_NAME)
    kinds = {f.split("-")[0] for f in files}
    assert {"predictions", "embedding", "plots", "hillshade", "overlays"} <= kinds, files
    assert first["builds"] >= 5 and second["builds"] == 0 and second["hits"] >= 5, (first, second)
    assert files == sorted(p.name for p in (data / FOLDER_NAME).iterdir() if not p.name.endswith(".lock"))
    for k in ("chips_pred", "embedding", "roc", "confusion", "hillshade", "sar"):
        assert first[k] == second[k], k
    assert second["proba_memmap"] == "memmap" and second["proba_writeable"] is False
    off = _page_in_child(data, **{viewcache.ENV: "off"})  # each process computes its own: the same views
    assert off["folder"] == "None" and off["hits"] == 0
    for k in ("chips_pred", "embedding", "roc", "confusion", "hillshade", "sar"):
        assert off[k] == first[k], k


def _state(root: Path):
    from landslide_app.dashboard.state import DashboardState

    viewcache._CACHES.clear()  # as a new kernel process: nothing in memory, only the files
    return DashboardState(root, epochs=1)


def test_a_new_run_invalidates_the_cached_views(data, tmp_path):
    root = tmp_path / "ws"
    root.mkdir()
    for name in ("scene", "chips"):
        (root / name).symlink_to((data / name).resolve(), target_is_directory=True)
    spec = RunSpec("fused", 3)
    src = run_dir(data / "ablation", spec)
    dst = run_dir(root / "ablation", spec)
    dst.parent.mkdir(parents=True)
    import shutil

    shutil.copytree(src, dst)
    before = _state(root).view(spec)
    assert before.computed and (root / FOLDER_NAME).is_dir()
    # a new run of the configuration: other predictions and embeddings
    lines = (dst / "predictions.csv").read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    for f in rows:
        f[2] = str((int(f[2]) + 1) % 3)
        f[3], f[5] = f[5], f[3]  # p0 <-> p2: another ROC curve
    (dst / "predictions.csv").write_text("\n".join([lines[0], *(",".join(f) for f in rows)]) + "\n")
    emb = np.load(dst / "embeddings.npy")
    np.save(dst / "embeddings.npy", (1 - emb.astype(np.float32)).astype(np.float16))
    res = json.loads((dst / "result.json").read_text())
    res["fingerprint"] = "another-run"
    res.pop("decision", None)  # no recorded decisions: the map shows the stored (shifted) classes
    (dst / "result.json").write_text(json.dumps(res))
    after = _state(root).view(spec)
    old = [f["properties"]["class"] for f in before.chips_pred["features"]]
    new = [f["properties"]["class"] for f in after.chips_pred["features"]]
    assert new == [(c + 1) % 3 for c in old]
    assert after.embedding_url != before.embedding_url
    assert after.roc_png != before.roc_png
    # the stale entries are gone: one entry per kind and configuration
    heads = [p.name for p in (root / FOLDER_NAME).glob("*.json")]
    assert sorted(h.split("-")[0] for h in heads) == ["embedding", "plots", "predictions"], heads


def test_a_new_prediction_shows_up_in_the_responders_area(tmp_path):
    """The responder's views are keyed by the files they read: a new prediction folder, and a
    rebuilt chip store (new SAR pair) are new entries."""
    from landslide_app.dashboard.viewcache import shared_overlays

    src = tmp_path / "store.json"
    src.write_text("1")
    calls = []

    def build():
        calls.append(1)
        return [{"url": "data:image/png;base64,iVBORw0KGgo=", "bounds": ((0, 1), (2, 3)), "date": "d"}]

    a = shared_overlays(tmp_path, "sar-pair", [src], build)
    viewcache._CACHES.clear()
    b = shared_overlays(tmp_path, "sar-pair", [src], build)
    assert a == b and a[0]["bounds"] == ((0, 1), (2, 3)) and len(calls) == 1
    src.write_text("22")  # the store rebuilt
    viewcache._CACHES.clear()
    shared_overlays(tmp_path, "sar-pair", [src], build)
    assert len(calls) == 2


def _entry(tag: float = 1.0) -> CachedView:
    return CachedView(meta={"tag": tag}, arrays={"a": np.arange(1000.0) * tag}, blobs={"x.png": b"\x89PNG" + b"x" * 99})


@pytest.mark.parametrize("damage", ["truncate-npy", "garbage-json", "flip-png", "missing-npy"])
def test_a_damaged_entry_is_rebuilt_with_a_log_message(tmp_path, caplog, damage):
    src = tmp_path / "source.bin"
    src.write_bytes(b"abc")
    folder = tmp_path / "cache"
    builds = []

    def build() -> CachedView:
        builds.append(1)
        return _entry()

    SharedViewCache(folder).get("k", "n", [src], build)
    stem = next(folder.glob("k-n-*.json")).name[: -len(".json")]
    npy, png, head = folder / f"{stem}.a.npy", folder / f"{stem}.x.png", folder / f"{stem}.json"
    if damage == "truncate-npy":
        npy.write_bytes(npy.read_bytes()[:200])
    elif damage == "garbage-json":
        head.write_text("{not json")
    elif damage == "flip-png":
        png.write_bytes(png.read_bytes()[:-1] + b"y")
    else:
        npy.unlink()
    with caplog.at_level(logging.WARNING, logger="landslide_app.dashboard.viewcache"):
        v = SharedViewCache(folder).get("k", "n", [src], build)
    assert len(builds) == 2
    assert any("damaged" in r.getMessage() and "rebuilding" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(v.arrays["a"], np.arange(1000.0))
    assert v.blobs["x.png"] == _entry().blobs["x.png"]
    again = SharedViewCache(folder).get("k", "n", [src], build)  # repaired on disk
    assert len(builds) == 2 and isinstance(again.arrays["a"], np.memmap)


def test_concurrent_first_writers_build_once(tmp_path):
    """Four processes ask for the same missing entry at once: one builds, three read it."""
    src = tmp_path / "source.bin"
    src.write_bytes(b"abc")
    log_file = tmp_path / "builds.log"
    code = textwrap.dedent(
        f"""
        import time, numpy as np
        from pathlib import Path
        from landslide_app.dashboard.viewcache import CachedView, SharedViewCache
        def build():
            with open({str(log_file)!r}, "a") as f:
                f.write("b\\n")
            time.sleep(1.0)
            return CachedView(meta={{"n": 3}}, arrays={{"a": np.arange(5)}})
        v = SharedViewCache(Path({str(tmp_path / "cache")!r})).get("k", "n", [Path({str(src)!r})], build)
        assert list(v.arrays["a"]) == [0, 1, 2, 3, 4] and v.meta == {{"n": 3}}
        """
    )
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(4)]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    assert log_file.read_text().count("b") == 1


def test_location_inside_the_workspace_else_user_cache_else_env(tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.delenv(viewcache.ENV, raising=False)
    assert cache_folder(ws) == ws / FOLDER_NAME
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    store = tmp_path / "store"  # a chip store opened as a workspace: nothing written inside it
    store.mkdir()
    (store / "store.json").write_text("{}")
    assert cache_folder(store).parent == tmp_path / "xdg" / "landslide_app" / "views"
    monkeypatch.setattr(viewcache, "_writable", lambda folder: False)  # a read-only workspace
    got = cache_folder(ws)
    assert got is not None and got.parent == tmp_path / "xdg" / "landslide_app" / "views"
    monkeypatch.setenv(viewcache.ENV, str(tmp_path / "elsewhere"))
    got = cache_folder(ws)
    assert got is not None and got.parent == tmp_path / "elsewhere"
    monkeypatch.setenv(viewcache.ENV, "off")
    assert cache_folder(ws) is None
    viewcache._CACHES.clear()
    c = shared_cache(ws)
    n = []
    c.get("k", "n", [ws], lambda: n.append(1) or _entry())
    c.get("k", "n", [ws], lambda: n.append(1) or _entry())
    assert not c.enabled and len(n) == 1  # kept in the process only
    viewcache._CACHES.clear()
