"""Workspaces (issue 14) without a browser: the workspace.json model and discovery of CLI-made folders,
the "New area" limits, stage runs (progress, failure message, cancel), the responder's view model and
the page's widgets (opening an unlabelled workspace, offline and area-limit messages, respond)."""

from __future__ import annotations

import json
import shutil
import sys
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from landslide_app.dashboard.fetch import (
    MAX_AREA_KM2,
    FetchRequest,
    bbox_area_km2,
    check_bbox,
    check_reachable,
    check_request,
    chips_args,
    save_inventory,
)
from landslide_app.dashboard.queue import CANCELLED, DONE, FAILED, QUEUED, RunQueue, StageRun
from landslide_app.errors import ConfigError, InputError, SourceError
from landslide_app.experiments.workspace import (
    WORKSPACE_FILE,
    Workspace,
    check_name,
    discover,
    list_workspaces,
    new_workspace,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the with-block ends: connections are refused


@pytest.fixture(scope="module")
def root(scene_dir: Path, dem_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root of two CLI-made workspaces: ``event`` (an unlabelled store + a prediction, no
    workspace.json) and ``lab`` (a trained run only)."""
    from landslide_app.chips.build import build_chips
    from landslide_app.experiments.production import predict_run
    from landslide_app.sources.stac import open_local_catalog

    r = tmp_path_factory.mktemp("workspaces")
    build_chips(open_local_catalog(scene_dir / "catalog.json"), None, r / "event" / "chips", progress=False)
    shutil.copytree(dem_run, r / "lab" / "run-dem")
    predict_run(r / "lab" / "run-dem", r / "event" / "chips", r / "event" / "pred", progress=False)
    return r


# ---- the workspace model --------------------------------------------------------------------
def test_cli_folder_opens_as_a_workspace(root: Path):
    found = discover(root / "event")
    assert [s["path"] for s in found["stores"]] == ["chips"] and found["stores"][0]["labelled"] is False
    assert [p["path"] for p in found["predictions"]] == ["pred"] and found["runs"] == []
    ws = Workspace.load(root / "event")
    assert not (root / "event" / WORKSPACE_FILE).exists()  # reading never writes
    assert ws.event_date == "2017-09-20" and ws.name == "event"
    w, s, e, n = ws.area["bbox_lonlat"]
    assert -68 < w < e < -67 and 18 < s < n < 19  # the tiny scene in lon/lat
    assert ws.title.startswith("event — event 2017-09-20 (")
    assert ws.main_store()["n_chips"] > 0 and ws.labelled_store() is None
    assert ws.predictions[0]["run"] == "dem-r1" and ws.predictions[0]["labelled"] is False
    lab = Workspace.load(root / "lab")
    assert [r["path"] for r in lab.runs] == ["run-dem"] and lab.runs[0]["name"] == "dem-r1"


def test_workspace_json_round_trip_and_merge(root: Path, tmp_path: Path):
    folder = tmp_path / "ws"
    shutil.copytree(root / "event", folder, symlinks=True)
    ws = Workspace.load(folder)
    ws.name = "Puerto Rico west"
    ws.set_area((-67.3, 18.4, -67.1, 18.6), "2017-09-20T00:00:00", "planetary-computer", orbit="auto")
    ws.add_run(root / "lab" / "run-dem")  # a run outside the folder: absolute path
    ws.save()
    d = json.loads((folder / WORKSPACE_FILE).read_text())
    assert d["format"] == "landslide-app-workspace/1" and d["name"] == "Puerto Rico west"
    assert d["event"] == {"date": "2017-09-20", "orbit": "auto"}
    assert d["runs"][0]["path"] == str((root / "lab" / "run-dem").resolve())
    again = Workspace.load(folder)
    assert again.title == "Puerto Rico west — event 2017-09-20 (-67.300, 18.400, -67.100, 18.600)"
    assert len(again.stores) == 1 and len(again.predictions) == 1  # recorded + discovered, not doubled
    (folder / WORKSPACE_FILE).write_text("[1, 2]")
    with pytest.raises(InputError, match="damaged"):
        Workspace.load(folder)


def test_workspace_list_and_new(root: Path, tmp_path: Path):
    assert list_workspaces(root) == [(root / "event").resolve(), (root / "lab").resolve()]
    assert list_workspaces(root / "event") == [(root / "event").resolve()]
    ws = new_workspace(tmp_path, "New event 2", bbox_lonlat=(1, 2, 3, 4), event_date="2024-01-02")
    assert json.loads((tmp_path / "New event 2" / WORKSPACE_FILE).read_text())["area"]["bbox_lonlat"] == [1, 2, 3, 4]
    assert list_workspaces(tmp_path) == [ws.root]
    with pytest.raises(ConfigError, match="already exists"):
        new_workspace(tmp_path, "New event 2")
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(ConfigError, match="workspace name"):
            check_name(bad)


# ---- new area: limits before any download ----------------------------------------------------
def test_area_limit_and_box_checks():
    assert bbox_area_km2((0, 0, 1, 1)) == pytest.approx(12_309, rel=0.01)  # 1° x 1° at the equator
    assert check_bbox(["-67.3", 18.4, -67.1, 18.6]) == (-67.3, 18.4, -67.1, 18.6)
    with pytest.raises(ConfigError, match=f"over the page's limit of {MAX_AREA_KM2:,.0f} km²"):
        check_bbox((0, 0, 1, 1))
    with pytest.raises(ConfigError, match="W < E"):
        check_bbox((1, 0, 0, 1))
    with pytest.raises(ConfigError, match="four numbers"):
        check_bbox((1, 2, 3))


def test_offline_service_fails_at_once_with_one_message(monkeypatch):
    port = _closed_port()
    monkeypatch.setenv("LANDSLIDE_APP_PC_STAC_URL", f"http://127.0.0.1:{port}/api/stac/v1")
    t = time.perf_counter()
    with pytest.raises(SourceError, match="cannot reach the Planetary Computer .*looks offline"):
        check_request(FetchRequest((-67.3, 18.4, -67.2, 18.5), "2017-09-20"))
    assert time.perf_counter() - t < 3
    with pytest.raises(SourceError, match="looks offline"):
        check_reachable("https://nonexistent.invalid/stac", timeout=2)


def test_request_checks_and_chips_arguments(tmp_path: Path, scene_dir: Path):
    with pytest.raises(InputError, match="no STAC catalog"):
        check_request(FetchRequest((-67.3, 18.4, -67.2, 18.5), "2017-09-20", "catalog", str(tmp_path / "nope.json")))
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        check_request(FetchRequest((-67.3, 18.4, -67.2, 18.5), "20/09/2017", "catalog", str(scene_dir)))
    req = check_request(
        FetchRequest(
            (-67.3, 18.4, -67.2, 18.5),
            "2017-09-20",
            "catalog",
            str(scene_dir / "catalog.json"),
            "135",
            2,
            1,
            tmp_path / "inv.gpkg",
        )
    )
    args = chips_args(req, tmp_path / "chips")
    assert args[:3] == ["chips", "--source", str(scene_dir / "catalog.json")]
    assert args[args.index("--bbox") + 1 : args.index("--bbox") + 5] == ["-67.3", "18.4", "-67.2", "18.5"]
    assert args[args.index("--orbit") + 1] == "135" and args[args.index("--pre") + 1] == "2"
    assert args[args.index("--post") + 1] == "1" and args[args.index("--inventory") + 1] == str(tmp_path / "inv.gpkg")


def test_inventory_upload_formats(tmp_path: Path, scene_dir: Path):
    import geopandas as gpd

    heads = gpd.read_file(scene_dir / "inventory.gpkg").head(5)
    shp = tmp_path / "src" / "heads.shp"
    shp.parent.mkdir()
    heads.to_file(shp)
    zbytes = tmp_path / "heads.zip"
    with zipfile.ZipFile(zbytes, "w") as z:
        for f in shp.parent.iterdir():
            z.write(f, f.name)
    got = save_inventory(tmp_path / "up", "heads.zip", zbytes.read_bytes())
    assert got.suffix == ".shp" and len(gpd.read_file(got)) == 5
    gpkg = save_inventory(tmp_path / "up", "heads.gpkg", (scene_dir / "inventory.gpkg").read_bytes())
    assert gpkg == tmp_path / "up" / "heads.gpkg"
    with pytest.raises(InputError, match="zipped shapefile"):
        save_inventory(tmp_path / "up", "heads.xlsx", b"x")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("../evil.shp", b"x")
    with pytest.raises(InputError, match="unsafe path"):
        save_inventory(tmp_path / "up2", "bad.zip", bad.read_bytes())


# ---- stage runs ----------------------------------------------------------------------------
_TQDM = (
    "import sys, time\n"
    "for i in range(0, 101, 25):\n"
    "    sys.stderr.write(f'\\rchips: {i:3d}%|###| {i}/100'); sys.stderr.flush(); time.sleep(0.05)\n"
    "sys.stderr.write('\\nINFO x: built 100 chips\\n')\n"
)


def test_stage_runs_progress_failure_and_cancel():
    changes = []
    q = RunQueue(on_change=lambda: changes.append(1))
    ok = q.submit(StageRun("ok", [sys.executable, "-c", _TQDM], on_done=lambda r: r.log_tail.append("recorded")))
    bad = q.submit(
        StageRun(
            "bad",
            [sys.executable, "-c", "import sys; sys.stderr.write('error: the area has no SAR yet\\n'); sys.exit(2)"],
        )
    )
    slow = q.submit(StageRun("slow", [sys.executable, "-c", "import time; time.sleep(60)"]))
    never = q.submit(StageRun("never", [sys.executable, "-c", "print(1)"]))
    assert never.state == QUEUED
    never.cancel()
    assert never.state == CANCELLED
    end = time.monotonic() + 60
    while slow.state != "running" and time.monotonic() < end:
        time.sleep(0.05)
    t = time.perf_counter()
    q.cancel(slow)
    assert q.wait(30)
    assert time.perf_counter() - t < 10
    assert ok.state == DONE and ok.fraction == 1.0 and ok.text.startswith("done in")
    assert "recorded" in ok.log_tail and "built 100 chips" in " ".join(ok.log_tail)
    assert bad.state == FAILED and bad.error == "the area has no SAR yet"
    assert slow.state == CANCELLED and "cancelled" in slow.text
    assert never.started is None and changes


# ---- the responder's view model and the page -------------------------------------------------
def test_area_state_of_an_unlabelled_workspace(root: Path):
    from landslide_app.dashboard.area import AreaState
    from landslide_app.dashboard.prediction_view import p2_legend

    a = AreaState(Workspace.load(root / "event"), root=root)
    assert not a.labelled and "unlabelled" in a.header()
    chips = a.chips_geojson()
    assert len(chips["features"]) == a.ws.main_store()["n_chips"]
    assert [m.name for m in a.models()] == ["dem-r1"]  # from the other workspace
    view = a.prediction(a.predictions()[0])
    assert view is a.prediction(a.predictions()[0])  # cached
    summary = json.loads((root / "event" / "pred" / "summary.json").read_text())
    assert not view.labelled and set(view.files) == {"GeoTIFF", "GeoPackage", "map.png", "summary"}
    top = view.top(5)
    assert [r["chip_id"] for r in top] == [t["chip_id"] for t in summary["top_class2"][:5]]
    assert [r["chip_id"] for r in view.top(5, "chip_id")] == sorted(r["chip_id"] for r in top)
    assert "km²" in view.class_table_html() and view.shift_warning() is None
    n2 = sum(f["properties"]["class"] == 2 for f in view.by_class["features"])
    assert n2 == summary["class_counts"]["2"]
    assert len(p2_legend()) == 5
    run = a.respond_run(a.models()[0].path, "scene")
    assert run.argv[3:] == [
        "predict",
        "--model",
        str(a.models()[0].path),
        "--chips",
        str(a.store_path),
        "--out",
        str((root / "event" / "predictions" / "lab-run-dem-scene").resolve()),
        "--normalise",
        "scene",
    ]
    pre, post = a.sar_pair()
    assert (pre["date"], post["date"]) == ("2017-09-16", "2017-09-22") and pre["url"] != post["url"]
    assert [d for _, d, _ in a.sar_dates()] == list(a.store.meta.dates)
    assert [r for _, _, r in a.sar_dates()] == ["pre"] * 3 + ["post"] * 3
    assert a.chip_sar_png(int(top[0]["chip_id"]), "vh_t3")[:4] == b"\x89PNG"


def test_page_opens_an_unlabelled_workspace_and_reports_limits(root: Path, monkeypatch):
    from landslide_app.dashboard.workspace_view import WorkspaceApp

    app = WorkspaceApp(root / "event")
    assert "event 2017-09-20" in app.title.value and "unlabelled" in app.header.value
    assert [o[0] for o in app.picker.options] == ["event", "lab"] and app.analyst is None
    r = app.respond
    assert r.train_button.disabled and "no labels" in r.train_note.value  # nothing to train on here
    with pytest.raises(InputError, match="no labels"):
        r.train()
    assert r.prediction_pick.options and "dem-r1" in r.prediction_pick.options[0][0]
    assert "true" not in [v for _, v in r.colour_by.options]  # no true classes on an unlabelled store
    assert len(r.pred_layer.data["features"]) == len(r.chip_layer.data["features"])
    chip = r.top_list.options[0][1]
    r.top_list.value = chip
    assert f"Chip {chip}" in r.inspect_title.value and r.chip_image.value[:4] == b"\x89PNG"
    r.split_toggle.value = True
    assert r._split is not None and "2017-09-16 (pre)" in r.split_note.value
    r.split_toggle.value = False
    assert r._split is None
    monkeypatch.setenv("LANDSLIDE_APP_PC_STAC_URL", f"http://127.0.0.1:{_closed_port()}/api/stac/v1")
    r.set_area((-67.29, 18.47, -67.2, 18.53))
    r.fetch_button.click()
    assert "looks offline" in app.msg.value and not app.queue.runs
    r.set_area((-70, 10, -60, 20))
    r.fetch_button.click()
    assert "over the page&#x27;s limit" in app.msg.value and not app.queue.runs
    r._on_draw(
        action="created",
        geo_json={
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[-67.28, 18.48], [-67.25, 18.48], [-67.25, 18.5], [-67.28, 18.5], [-67.28, 18.48]]],
            }
        },
    )
    assert [b.value for b in r.bbox_fields] == [-67.28, 18.48, -67.25, 18.5]


def test_page_fetches_an_area_and_responds(root: Path, scene_dir: Path, tmp_path: Path):
    """New workspace -> New area over the demo catalog with an uploaded inventory -> chips -> apply the
    model of another workspace -> the prediction map (through the CLI stage runs)."""
    from landslide_app.dashboard.workspace_view import WorkspaceApp

    shutil.copytree(root / "lab", tmp_path / "lab")
    app = WorkspaceApp(tmp_path / "lab")
    app.create("west")
    r = app.respond
    r.set_area((-67.29, 18.47, -67.25, 18.52))
    r.source_kind.value, r.source.value, r.event_date.value = "catalog", str(scene_dir / "catalog.json"), "2017-09-20"
    inv = (scene_dir / "inventory.gpkg").read_bytes()
    r.inventory.value = (
        {
            "name": "heads.gpkg",
            "type": "",
            "size": len(inv),
            "content": memoryview(inv),
            "last_modified": datetime.now(timezone.utc),
        },
    )
    opened = app.opened
    run = r.fetch()
    assert app.queue.wait(300), run.text
    assert run.state == DONE, run.error
    end = time.monotonic() + 30
    while app.opened == opened and time.monotonic() < end:  # reopened when the queue is idle
        time.sleep(0.2)
    assert app.ws.root == (tmp_path / "west").resolve() and app.ws.labelled_store() is not None
    store = app.ws.main_store()
    assert store["labelled"] and 0 < store["n_chips"] < 44
    assert len(r.building_layer.data["features"]) == store["n_chips"]  # chips shown as they were built
    r = app.respond
    assert r.model.value.endswith("run-dem")
    pred_run = r.apply_model()
    assert app.queue.wait(300) and pred_run.state == DONE, pred_run.error
    assert r.prediction_pick.value.endswith("lab-run-dem-training")
    assert len(r.pred_layer.data["features"]) == store["n_chips"] and "km²" in r.km2.value
    assert "map.png" in r.files.value and (Path(r.prediction_pick.value) / "density.tif").exists()
    ws = json.loads((tmp_path / "west" / WORKSPACE_FILE).read_text())
    assert ws["stores"][0]["labelled"] and ws["predictions"][0]["path"] == "predictions/lab-run-dem-training"
    assert ws["area"]["bbox_lonlat"] == [-67.29, 18.47, -67.25, 18.52] and ws["event"]["date"] == "2017-09-20"


def test_voila_culls_idle_kernels_and_serve_opens_any_workspace(tmp_path: Path, monkeypatch):
    from landslide_app.dashboard import serve

    cmd = serve.voila_command(8866, False)
    assert f"--MappingKernelManager.cull_idle_timeout={serve.CULL_IDLE_S}" in cmd
    assert "--MappingKernelManager.cull_connected=False" in cmd and "--MappingKernelManager.cull_busy=False" in cmd
    with pytest.raises(InputError, match="no workspace at"):
        serve.serve(tmp_path, open_browser=False)
    calls = []
    monkeypatch.setattr(serve.subprocess, "call", lambda cmd, env, cwd: calls.append(env) or 0)
    new_workspace(tmp_path, "empty")
    assert serve.serve(tmp_path / "empty", open_browser=False, root=tmp_path) == 0
    assert calls[0]["LANDSLIDE_APP_DATA"] == str((tmp_path / "empty").resolve())
    assert calls[0]["LANDSLIDE_APP_ROOT"] == str(tmp_path.resolve())


# ---- Train (a model from the page) ----------------------------------------------------------
def test_train_request_names_checks_and_arguments(tmp_path: Path):
    from landslide_app.dashboard.train_request import TrainRequest, check_train_request, train_args

    labelled = {"labelled": True, "has_sar": True, "n_post": 2, "n_chips": 44}
    assert TrainRequest().default_name() == "fused-r3"
    assert TrainRequest("cnn", "dem", 3, 20, 2).default_name() == "dem-20ep-seed2"
    assert TrainRequest("sar-stats", "fused", 1).default_name() == "sar-stats-r1"
    assert TrainRequest("sar-stats", epochs=20).default_name() == "sar-stats-r3"  # epochs: a network's option
    req = check_train_request(TrainRequest("cnn", "sar", 2, 3, 1), labelled, tmp_path)
    assert req.name == "sar-r2-3ep-seed1"
    chips, out = tmp_path / "chips", tmp_path / "models" / req.name
    assert train_args(req, chips, out) == [
        "train", "--chips", str(chips), "--out", str(out), "--model", "cnn", "--seed", "1",
        "--inputs", "sar", "--epochs", "3", "--revisits", "2",
    ]  # fmt: skip
    stats = check_train_request(TrainRequest("sar-stats", "dem", 1, 99, name=" quick one "), labelled, tmp_path)
    assert stats.name == "quick one" and train_args(stats, chips, out)[5:] == [
        "--model", "sar-stats", "--seed", "0", "--revisits", "1",
    ]  # fmt: skip
    dem = check_train_request(TrainRequest("cnn", "dem", 3), {"labelled": True, "has_sar": False}, tmp_path)
    assert train_args(dem, chips, out)[-2:] == ["--revisits", "1"]  # no post-event date read: named dem-r1
    refused = [
        (TrainRequest(), None, InputError, "no labels"),
        (TrainRequest("cnn", "sar"), {"labelled": True, "has_sar": False}, ConfigError, "DEM only"),
        (TrainRequest("sar-stats", revisits=3), labelled, ConfigError, "choose at most 2"),
        (TrainRequest("cnn", "dem", epochs=0), labelled, ConfigError, "choose 1 to 1000"),
        (TrainRequest("cnn", "radar"), labelled, ConfigError, "choose one of dem, sar, fused"),
        (TrainRequest("svm"), labelled, ConfigError, "choose one of cnn, sar-stats"),
        (TrainRequest(revisits=2, name="../up"), labelled, ConfigError, "model name '../up'"),
    ]
    for request, store, error, text in refused:
        with pytest.raises(error, match=text):
            check_train_request(request, store, tmp_path)
    (tmp_path / "fused-r2").mkdir()
    (tmp_path / "fused-r2" / "run.json").write_text("{}")
    with pytest.raises(InputError, match="models/fused-r2 already holds a trained model"):
        check_train_request(TrainRequest(revisits=2), labelled, tmp_path)


def test_page_trains_models_and_applies_one(tiny_store: Path, tmp_path: Path):
    """Train from the page: the SAR statistics and a DEM network (CLI ``train`` stage runs) land in
    ``models/``, in workspace.json and under Respond; a second training of the same name is refused
    with a message; the network is then applied to the area."""
    from landslide_app.dashboard.respond_base import TAB_TITLES, TRAIN_TAB
    from landslide_app.dashboard.workspace_view import WorkspaceApp

    shutil.copytree(tiny_store, tmp_path / "area" / "chips")
    app = WorkspaceApp(tmp_path / "area")
    r = app.respond
    assert r.tabs.get_title(TRAIN_TAB) == "Train" == TAB_TITLES[TRAIN_TAB]
    assert not r.train_button.disabled and "44 labelled chips" in r.train_note.value
    assert r.model.value == "" and r.apply_button.disabled  # nothing trained yet
    assert r.train_kind.value == "sar-stats" and r.train_revisits.value == 3  # offered first on SAR chips
    assert r.train_inputs.layout.display == "none" and r.train_epochs.layout.display == "none"
    assert r.train_name.placeholder == "sar-stats-r3"
    r.train_revisits.value = 1
    run = r.train()
    assert app.queue.wait(300) and run.state == DONE, run.error
    stats = (tmp_path / "area" / "models" / "sar-stats-r1").resolve()
    assert json.loads((stats / "run.json").read_text())["kind"] == "sar_stats"
    r.update_runs()  # what the queue calls once the run is over (it may not have yet)
    assert r.model.value == str(stats) and not r.apply_button.disabled
    auc = json.loads((stats / "run.json").read_text())["auc_val"]
    said = f"validation AUC {auc:.2f}" if auc is not None else "validation chips are all of one class"
    assert "Trained models/sar-stats-r1 in " in app.msg.value and said in app.msg.value
    assert r.tabs.selected_index == 0  # back on Respond, the new model picked
    r.train_button.click()  # the same name again: a message, nothing queued, the model kept
    assert "already holds a trained model" in app.msg.value and len(app.queue.runs) == 1
    r.train_kind.value, r.train_inputs.value, r.train_epochs.value = "cnn", "dem", 1
    assert r.train_revisits.layout.display == "none" and r.train_name.placeholder == "dem-1ep"
    run = r.train()
    assert app.queue.wait(300) and run.state == DONE, run.error
    net = (tmp_path / "area" / "models" / "dem-1ep").resolve()
    meta = json.loads((net / "run.json").read_text())
    assert meta["config"]["inputs"] == "dem" and meta["epochs"] == 1 and r.model.value == str(net)
    ws = json.loads((tmp_path / "area" / WORKSPACE_FILE).read_text())
    assert [e["path"] for e in ws["runs"]] == ["models/sar-stats-r1", "models/dem-1ep"]
    assert [m.name for m in r.area.models()] == ["sar-stats-r1", "dem-r1"]
    pred_run = r.apply_model()
    assert app.queue.wait(300) and pred_run.state == DONE, pred_run.error
    assert r.prediction_pick.value.endswith("models-dem-1ep-training") and "km²" in r.km2.value


def test_demo_folder_names_its_area_and_event(tiny_store: Path, tmp_path: Path):
    from landslide_app.demo import DEMO_NAME, write_demo_workspace
    from landslide_app.experiments.workspace_layout import WorkspaceLayout

    (tmp_path / "chips").symlink_to(tiny_store, target_is_directory=True)
    write_demo_workspace(WorkspaceLayout(tmp_path), "2017-09-20")
    d = json.loads((tmp_path / WORKSPACE_FILE).read_text())
    assert d["name"] == DEMO_NAME and d["event"]["date"] == "2017-09-20"
    assert d["stores"][0]["labelled"] and len(d["area"]["bbox_lonlat"]) == 4
    assert Workspace.load(tmp_path).title.startswith(f"{DEMO_NAME} — event 2017-09-20 (")


def test_app_notebook_runs_in_a_plain_kernel(root: Path, monkeypatch):
    """What `jupyter lab app.ipynb` does: the notebook's cells run in an ipykernel and the last one shows
    the page as a widget view (the same output Voila renders)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from landslide_app.dashboard.serve import notebook_path

    monkeypatch.setenv("LANDSLIDE_APP_DATA", str(root / "event"))
    monkeypatch.setenv("LANDSLIDE_APP_ROOT", str(root))
    nb = nbformat.read(notebook_path(), as_version=4)
    nbclient.NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(notebook_path().parent)}}
    ).execute()
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)
