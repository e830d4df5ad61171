"""The dashboard without a browser: build it on the tiny scene, set widgets, click, check state and layers."""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import ipyleaflet
import numpy as np
import pytest

from landslide_app.dashboard import build_app
from landslide_app.dashboard.app import Dashboard
from landslide_app.dashboard.exports import export_path, exports_dir
from landslide_app.errors import InputError
from landslide_app.experiments.artifacts import RunSpec, run_dir
from landslide_app.testing.datadir import link_data_dir

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def app_data(scene_dir, tiny_store, tmp_path_factory) -> Path:
    """A data dir (links to the tiny scene and store) with the default configuration (1 epoch) and
    a second computed configuration ``sar-r2`` (a copy of the first with other predictions and
    embeddings, so that switching to it visibly changes the map)."""
    root = tmp_path_factory.getbasetemp() / "dashboard-data"
    paths = link_data_dir(root, scene_dir, tiny_store, epochs=1)
    src, dst = run_dir(paths.ablation, RunSpec("fused", 3)), run_dir(paths.ablation, RunSpec("sar", 2))
    if not (dst / "result.json").exists():
        shutil.copytree(src, dst, dirs_exist_ok=True)
        emb = np.load(dst / "embeddings.npy")
        np.save(dst / "embeddings.npy", (1 - emb.astype(np.float32)).astype(np.float16))
        lines = (dst / "predictions.csv").read_text().splitlines()
        out = [lines[0]]
        for line in lines[1:]:
            f = line.split(",")
            f[2] = str((int(f[2]) + 1) % 3)  # other predicted classes
            out.append(",".join(f))
        (dst / "predictions.csv").write_text("\n".join(out) + "\n")
        res = json.loads((dst / "result.json").read_text())
        res.update(inputs="sar", revisits=2, key="sar-r2-random", fingerprint="fake-sar-r2")
        res["auc"]["test"] = 0.4242
        res.pop("decision", None)  # no recorded decisions: the map shows the stored (shifted) classes
        (dst / "result.json").write_text(json.dumps(res))
    return root


@pytest.fixture
def fresh_data(scene_dir, tiny_store, tmp_path) -> Path:
    """A data dir of its own (no computed configuration) for tests that run or export."""
    return link_data_dir(tmp_path / "data", scene_dir, tiny_store, train_default=False).root


def _dash(root: Path, **kw) -> Dashboard:
    kw.setdefault("epochs", 1)
    kw.setdefault("warm", False)
    kw.setdefault("autostart", False)
    d = Dashboard(root, **kw)  # the analyst's dashboard (build_app wraps it in the workspace page)
    assert d.state is not None, d.msg.value
    return d


def _styles(d: Dashboard) -> list[str]:
    return [f["properties"]["style"]["fillColor"] for f in d.chip_layer.data["features"]]


def test_builds_map_with_all_layers(app_data, tiny_store):
    import geopandas as gpd

    d = _dash(app_data)
    layers = {type(x).__name__: x for x in d.map.layers}
    assert not any(isinstance(x, ipyleaflet.TileLayer) for x in d.map.layers)  # offline: no online basemap
    names = [x.name for x in d.map.layers]
    assert "DEM hillshade" in names and "embedding mosaic" in names
    n_chips = len(d.state.ids)
    assert len(d.chip_layer.data["features"]) == n_chips
    heads = gpd.read_file(app_data / "scene" / "inventory.gpkg")
    assert "Heatmap" not in layers  # drawn above the chips it would hide their classes: off by default
    d.show_heads.value = True
    assert d.heads_layer in d.map.layers and isinstance(d.heads_layer, ipyleaflet.Heatmap)  # one layer, all heads
    assert len(d.heads_layer.locations) == len(heads)
    d.show_heads.value = False
    assert d.heads_layer not in d.map.layers
    assert d.emb_layer.url.startswith("data:image/png;base64,") and len(d.emb_layer.url) > 1000
    (s, w), (n, e) = d.emb_layer.bounds
    assert s < n and w < e
    assert any(isinstance(c, ipyleaflet.LegendControl) for c in d.map.controls)
    assert any(isinstance(c, ipyleaflet.LayersControl) for c in d.map.controls)
    assert "fused-r3-random" in d.summary.value and "computed" in d.summary.value
    assert d.msg.value == ""  # no error on a normal start
    # Table 2 shows the computed cells, ROC and confusion of the selected configuration
    assert "DEM + SAR fused" in d.table.value and "0.4242" not in d.table.value.split("SAR only")[0]
    assert bytes(d.roc.value).startswith(PNG) and bytes(d.confusion.value).startswith(PNG)
    # the map's classes against the majority baseline, and their calibration
    run_map = d.view.result.extra["map"]
    assert "majority baseline" in d.map_quality.value and f"<td>{run_map['accuracy']:.3f}</td>" in d.map_quality.value
    assert bytes(d.reliability.value).startswith(PNG) and d.reliability.layout.display is None
    # the map shows the classes whose confusion the map metrics count (the decision rule's)
    shown = np.bincount(np.asarray(d.view.predictions["pred_class"]), minlength=3).tolist()
    assert shown == run_map["pred_counts"]
    # the embedding opacity slider drives the overlay in the page (no round trip to the kernel)
    assert d._opacity_link.source == (d.opacity, "value") and d._opacity_link.target == (d.emb_layer, "opacity")
    # the online basemap is added only on request
    d.basemap.value = True
    assert any(isinstance(x, ipyleaflet.TileLayer) for x in d.map.layers)
    d.basemap.value = False
    assert not any(isinstance(x, ipyleaflet.TileLayer) for x in d.map.layers)


def test_colour_toggle_switches_predicted_and_true(app_data):
    d = _dash(app_data)
    pred = _styles(d)
    truth = d.state.true_classes(None)
    v = d.view
    assert np.array_equal(
        [f["properties"]["class"] for f in d.chip_layer.data["features"]], v.predictions["pred_class"]
    )
    d.colour_by.value = "true"
    assert [f["properties"]["class"] for f in d.chip_layer.data["features"]] == truth.tolist()
    assert _styles(d) != pred  # a 1-epoch model does not predict every chip right
    assert "true" in d.chip_layer.name
    d.colour_by.value = "pred"
    assert _styles(d) == pred


def test_switching_to_computed_config_swaps_overlay_without_training(app_data, monkeypatch):
    from landslide_app.model import cnn_protocol as pipeline

    def no_training(*a, **k):
        raise AssertionError("a computed configuration must not be recomputed")

    monkeypatch.setattr(pipeline, "run_configuration", no_training)
    d = _dash(app_data)
    url_fused, styles_fused = d.emb_layer.url, _styles(d)
    d.revisits.value = 2
    d.inputs.value = "sar"
    assert d.spec.key == "sar-r2-random" and d.view.computed
    assert d.emb_layer.url != url_fused and _styles(d) != styles_fused
    assert "0.424" in d.table.value and "sar-r2-random" in d.summary.value
    times = []
    for inputs, k in [("fused", 3), ("sar", 2), ("fused", 3)]:
        d.revisits.value, d.inputs.value = k, inputs
        times.append(d.timings["map_s"])
    assert d.emb_layer.url == url_fused and _styles(d) == styles_fused
    assert np.median(times) < 0.2, times  # cached views: no re-rendering
    # a configuration that is not computed: true classes, no overlay, a hint to press Run
    d.inputs.value = "dem"
    assert not d.view.computed and "not computed" in d.summary.value and d.run_button.description == "Run"
    assert d.msg.value == ""


def test_background_run_fills_table_and_map(fresh_data):
    d = _dash(fresh_data)
    d.inputs.value = "dem"
    d.revisits.value = 1
    assert not d.view.computed and "–" in d.table.value
    d.run_button.click()
    assert d.run_button.disabled and d.run_all_button.disabled  # no second run while this one goes
    t = time.perf_counter()
    d.inputs.value = "fused"  # the page stays responsive during the run
    assert time.perf_counter() - t < 1.0 and d.spec.key == "fused-r1-random"
    d.inputs.value = "dem"
    assert d.wait(300), "the run did not finish"
    assert not d.run_button.disabled and d.progress.value == 1.0
    assert "Finished" in d.msg.value and "ls-ok" in d.msg.value
    assert d.view.computed and d.view.chips_pred is not None
    row = d.table.value.split("DEM only")[1].split("</tr>")[0]
    assert len(re.findall(r"\d\.\d{3}", row)) == 9  # the DEM row is filled for revisits 1-3 (one shared result)
    assert d.emb_layer.url.startswith("data:image/png") and len(d.emb_layer.url) > 1000
    assert d.run_button.description == "Computed ✓"
    # the run also computed the baselines (files named by ablate's run_baselines): they are shown
    assert "not computed" not in d.baselines.value
    assert "DEM slope model" in d.baselines.value
    assert all(f"SAR change ratio (Handwerger et al. 2022), {k} revisit" in d.baselines.value for k in (1, 2, 3))
    assert all(f"SAR chip statistics + slope (forest), {k} revisit" in d.baselines.value for k in (1, 2, 3))
    only_r2 = d.state.baselines(None, "random", revisits=2)
    assert [(b.name, b.revisits) for b in only_r2] == [("slope", None), ("change_ratio", 2), ("sar_stats", 2)]
    assert all(b.test_proba for b in only_r2)  # what the ROC overlays draw
    assert d.state.baselines((0.0, 10.0), "random") == []  # other thresholds: not computed there


def test_failed_run_shows_message_and_app_keeps_working(app_data, monkeypatch):
    from landslide_app.model import cnn_protocol as pipeline

    def boom(*a, **k):
        raise RuntimeError("simulated GPU fire")

    monkeypatch.setattr(pipeline, "run_configuration", boom)
    d = _dash(app_data)
    d.inputs.value, d.revisits.value = "sar", 1
    d.run_button.click()
    assert d.wait(60)
    assert "simulated GPU fire" in d.msg.value and "Traceback" not in d.msg.value
    assert not d.run_button.disabled and d.progress.bar_style == "danger"
    assert not (run_dir(app_data / "ablation", RunSpec("sar", 1)) / "result.json").exists()
    # still usable: switch, toggle, inspect
    d.inputs.value, d.revisits.value = "fused", 3
    assert d.view.computed
    d.colour_by.value = "true"
    d.inspect(int(d.state.ids[0]))
    assert bytes(d.inspector.value).startswith(PNG)
    # SAR inputs on a DEM-only chip store: a message, no run
    d.state.has_sar = False
    d.inputs.value = "sar"
    d.run_button.click()
    assert "DEM-only" in d.msg.value and not d.job.running


def test_invalid_thresholds_message_and_custom_thresholds(app_data):
    d = _dash(app_data)
    before = d.spec
    d.t0.value = 30.0  # above t1 = 25
    assert "impossible" in d.msg.value and d.spec == before
    d.t0.value, d.t1.value = 0.0, 10.0
    assert d.spec.key == "fused-r3-random-t0_10" and not d.view.computed
    legend = " ".join(d.legend.legend)
    assert "> 10 /km²" in legend
    assert "classes at 0 / 10" in d.table.value


def test_chip_click_fills_inspector(app_data):
    d = _dash(app_data)
    feat = max(d.chip_layer.data["features"], key=lambda f: f["properties"]["head_count"])
    cid = feat["properties"]["chip_id"]
    d.chip_layer._click_callbacks(event="click", feature=feat, properties=feat["properties"], id=cid)
    assert d.msg.value == ""
    assert d.tabs.selected_index == 1 and bytes(d.inspector.value).startswith(PNG)
    assert f"Chip {cid}" in d.inspector_title.value
    insp = d.inspection
    assert insp.chip_id == cid and insp.head_count == feat["properties"]["head_count"] > 0
    assert {"elevation", "slope", "vv_t2", "vh_t2", "vv_t3", "vh_t3", "vv_t5", "vh_t5"} <= set(insp.layers)
    assert len(insp.heads_rc) > 0 and insp.embedding.shape == (128, 128)
    assert insp.percentiles.shape == (19,) and np.all(np.diff(insp.percentiles) >= 0)
    # the forest's real input, as the run stored it (not recomputed from float16 embeddings)
    from landslide_app.experiments.artifacts import read_features

    fids, feats = read_features(app_data / "ablation", d.spec)
    np.testing.assert_array_equal(insp.percentiles, feats[list(fids).index(cid)])
    assert insp.proba.shape == (3,) and abs(insp.proba.sum() - 1) < 1e-6 and insp.pred_class in (0, 1, 2)
    assert d.selected_layer.data["features"][0]["properties"]["chip_id"] == cid
    # a chip under a configuration that is not computed: layers, no prediction
    d.inputs.value = "dem"
    d.inspect(cid)
    assert d.inspection.proba is None and bytes(d.inspector.value).startswith(PNG)


def test_exports_stay_inside_exports_dir(app_data, tmp_path):
    import rasterio

    d = _dash(app_data)
    with pytest.raises(Exception, match="click a chip"):
        d.export_inspector()
    d.save_inspector.click()  # through the guarded button: a message, no exception
    paths = d.export_density()
    out = exports_dir(app_data)
    assert [p.name for p in paths] == ["density-fused-r3-random.tif", "chips-fused-r3-random.gpkg"]
    for p in paths:
        assert p.exists() and p.parent == out
    with rasterio.open(paths[0]) as ds:
        assert ds.count == 4 and ds.tags()["config"] == "fused-r3-random"
    d.inspect(int(d.state.ids[3]))
    png = d.export_inspector()
    assert png.parent == out and png.name == f"inspector-chip{int(d.state.ids[3])}-fused-r3-random.png"
    assert png.read_bytes().startswith(PNG)
    assert "Exported" in d.msg.value
    # names that would escape are refused
    for bad in ["../evil.png", "/etc/passwd", "a/b.png", "..", "", ".hidden", "x\\..\\y"]:
        with pytest.raises(InputError):
            export_path(out, bad)
    outside = tmp_path / "outside"
    outside.mkdir()
    (out / "sneaky.png").unlink(missing_ok=True)
    (out / "sneaky.png").symlink_to(outside / "target.png")
    with pytest.raises(InputError, match="outside"):
        export_path(out, "sneaky.png")
    (out / "sneaky.png").unlink()
    # an uncomputed configuration cannot be exported: a message in the page
    d.inputs.value = "dem"
    d.export_button.click()
    assert "not been computed" in d.msg.value


def test_missing_data_is_a_message_not_a_traceback(tmp_path):
    d = Dashboard(tmp_path / "nothing")
    assert d.state is None
    assert "landslide-app demo" in d.msg.value and "Traceback" not in d.msg.value
    assert d.widget.children[-1] is d.msg
    page = build_app(tmp_path / "nothing")
    assert "is not a folder" in page.msg.value and "Traceback" not in page.msg.value


def test_build_app_opens_the_demo_layout_with_the_analyst_dashboard(app_data):
    page = build_app(app_data, epochs=1, warm=False, autostart=False)
    assert isinstance(page.analyst, Dashboard) and page.analyst.state is not None
    assert page.respond is None  # the responder's map is built when its section is opened
    assert "Landslide density" in page.title.value and page.analyst.title.value == ""
    section = page.body.children[1]
    section.selected_index = 0
    assert page.respond is not None and section.children == (page.respond.widget,)


def test_first_launch_computes_default_in_background(fresh_data, monkeypatch):
    from landslide_app.dashboard.state import DashboardState

    calls = []

    def fake_run(self, spec, epochs=None, on_step=None, baselines=True):
        calls.append(spec.key)
        on_step(0.5, "halfway")
        time.sleep(0.2)
        on_step(1.0, "done")
        return {"key": spec.key}

    monkeypatch.setattr(DashboardState, "run", fake_run)
    d = Dashboard(fresh_data, epochs=1, warm=False)
    assert d.job.running or calls  # started at once
    assert "First launch" in d.msg.value
    assert d.wait(30)
    assert calls == ["fused-r3-random"] and d.progress.value == 1.0 and "Finished" in d.msg.value


def test_run_whole_table_uses_run_ablation(fresh_data, monkeypatch):
    from landslide_app.experiments import ablation

    seen = {}

    def fake_ablation(store_path, out, settings, progress=True, on_progress=None, on_fold=None):
        from landslide_app.model.crossval import FoldEvent

        seen["specs"] = [s.key for s in settings.specs()]
        for n, s in enumerate(settings.specs()):
            on_fold(FoldEvent(1, 2, "B", "done", {"train": 0.9, "val": 0.8, "test": 0.7}))
            seen.setdefault("fold_steps", []).append(d.progress.value)
            on_progress(n + 1, len(settings.specs()), s.key)
        return {"seconds": 0.0}

    monkeypatch.setattr(ablation, "run_ablation", fake_ablation)
    d = _dash(fresh_data)
    d.run_all_button.click()
    assert d.wait(30)
    assert len(seen["specs"]) == 9 and d.progress.value == 1.0 and "Finished" in d.msg.value
    # the bar moves with the engine's fold events (configuration n done: (n + 1) / 9)
    np.testing.assert_allclose(seen["fold_steps"], [(n + 1) / 9 for n in range(9)], atol=1e-6)


def test_run_whole_table_is_queued_as_ablate_with_seeds(fresh_data, monkeypatch):
    from landslide_app.dashboard.queue import RunQueue

    queue, submitted = RunQueue(), []
    monkeypatch.setattr(queue, "submit", lambda run: submitted.append(run) or run)
    d = Dashboard(fresh_data, epochs=1, warm=False, autostart=False, queue=queue)
    d.seeds.value, d.epochs.value = 3, 2
    d.run_all_button.click()
    assert [r.argv[3:] for r in submitted] == [
        [
            "ablate",
            "--chips",
            str(d.state.store.path),
            "--out",
            str(d.state.paths.ablation),
            "--epochs",
            "2",
            "--seed",
            "0",
            "--seeds",
            "3",
        ]
    ]
    assert "3 seed(s)" in d.msg.value and not d.job.running  # nothing ran in the page's process
