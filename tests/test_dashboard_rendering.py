"""Dashboard helpers without widgets: mosaics, warping, ROC, zoom, Table 2 HTML, background jobs."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from rasterio.transform import from_origin

from landslide_app.dashboard.jobs import BackgroundJob
from landslide_app.dashboard.layers import fit_zoom
from landslide_app.dashboard.plots import confusion_png
from landslide_app.dashboard.rendering import block_mean, colour_rgba, mosaic, mosaic_px, png_bytes, to_web_mercator
from landslide_app.dashboard.tables import baselines_html, table2_html
from landslide_app.errors import InputError
from landslide_app.model.roc import roc_curve


def test_block_mean_and_mosaic_place_chips_by_row_and_col():
    chips = np.stack([np.full((8, 8), v, np.float32) for v in (1.0, 2.0, 3.0)])
    chips[2, :4, :4] = np.nan  # a masked quarter stays NaN, the rest is averaged
    tiles = block_mean(chips, 2)
    assert tiles.shape == (3, 2, 2) and np.isnan(tiles[2, 0, 0]) and tiles[2, 1, 1] == 3.0
    img = mosaic(2, 3, np.array([[0, 0], [1, 2], [0, 2]]), tiles)
    assert img.shape == (4, 6)
    assert np.all(img[:2, :2] == 1) and np.all(img[2:, 4:] == 2) and img[1, 5] == 3
    assert np.isnan(img[2:, :4]).all()  # no chip there
    with pytest.raises(ValueError):
        block_mean(chips, 3)


def test_mosaic_px_stays_a_divisor_and_bounded():
    assert mosaic_px(17, 26, 128) == 32
    assert mosaic_px(80, 150, 128, max_px=2048) == 8  # the full island: 150 x 8 px wide
    for n in (1, 50, 400, 5000):
        px = mosaic_px(n, n, 128)
        assert 128 % px == 0 and (n * px <= 2048 or px == 1)


def test_colour_and_png():
    rgba = colour_rgba(np.array([[0.0, 1.0], [np.nan, 0.5]]))
    assert rgba.dtype == np.uint8 and rgba[1, 0, 3] == 0 and rgba[0, 0, 3] == 255
    assert png_bytes(rgba).startswith(b"\x89PNG")


def test_warp_to_web_mercator_keeps_the_footprint():
    from landslide_app.dashboard.rendering import lonlat_bounds

    img = np.full((64, 64, 4), 255, np.uint8)
    tr = from_origin(680000, 2050000, 100, 100)  # 6.4 km square, UTM 19N
    warped, ((s, w), (n, e)) = to_web_mercator(img, tr, "EPSG:32619")
    (s0, w0), (n0, e0) = lonlat_bounds((680000, 2050000 - 6400, 686400, 2050000), "EPSG:32619")
    tol = 1e-3  # one 100 m pixel
    assert abs(s - s0) < tol and abs(w - w0) < tol and abs(n - n0) < tol and abs(e - e0) < tol
    alpha = warped[..., 3]
    assert alpha.mean() > 200  # mostly covered ...
    assert (alpha == 0).any()  # ... with the rotated corners transparent (grid convergence)


def test_roc_curve_matches_scikit_learn_auc():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    for _ in range(10):
        y = rng.random(300) < 0.3
        s = np.round(rng.random(300) + 0.3 * y, 2)  # ties included
        fpr, tpr = roc_curve(y, s)
        assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc_score(y, s))
        assert fpr[0] == tpr[0] == 0 and fpr[-1] == tpr[-1] == 1


def test_confusion_png():
    assert confusion_png(np.array([[5, 1, 0], [2, 9, 1], [0, 1, 3]]), "fused-r3-random").startswith(b"\x89PNG")


def test_fit_zoom():
    small = ((18.46, -67.29), (18.53, -67.19))
    big = ((17.9, -67.3), (18.5, -65.2))  # about Puerto Rico
    assert fit_zoom(big) < fit_zoom(small) <= 18
    z = fit_zoom(big)
    assert 2.1 * 256 * 2**z / 360 <= 1000  # 2.1 degrees of longitude fit in 1000 px
    assert z * 4 == int(z * 4)


def test_table2_html_layout():
    from landslide_app.experiments.records import RunRecord

    def rec(inputs, k, train, val, test, **kw):
        return RunRecord.from_dict(
            {
                "inputs": inputs,
                "revisits": k,
                "split": "random",
                "auc": {"train": train, "val": val, "test": test},
                **kw,
            }
        )

    cells = {("dem", 1): rec("dem", 1, 0.8, 0.7, 0.75), ("fused", 3): rec("fused", 3, 0.9, 0.85, 0.88)}
    h = table2_html(cells, selected=("fused", 3), running=("sar", 2))
    assert h.index("DEM only") < h.index("SAR only") < h.index("DEM + SAR fused")
    assert h.count("<th>train</th>") == 3 and "running…" in h
    assert "class='sel test'>0.880" in h and "0.750" in h
    b = baselines_html(
        [rec("dem", None, 0.8, 0.81, 0.82, name="slope"), rec("sar", 2, 0.7, None, 0.72, name="change_ratio")],
        cells[("fused", 3)],
        "fused-r3-random",
    )
    assert "DEM slope model" in b and "CNN fused-r3-random" in b
    assert "SAR change ratio (Handwerger et al. 2022), 2 revisits" in b and "<td>–</td>" in b
    assert "not computed" in baselines_html([])
    # over seeds: the rows with a summary show mean ± half-width of the interval, the others the single run
    row = {"train_mean": 0.7, "train_ci95": [0.68, 0.72], "val_mean": 0.71, "val_ci95": [0.7, 0.72]}
    m = baselines_html(
        [rec("dem", None, 0.8, 0.81, 0.82, name="slope"), rec("sar", 2, 0.7, None, 0.72, name="change_ratio")],
        cells[("fused", 3)],
        "fused-r3-random",
        summary={("slope", None): {**row, "test_mean": 0.65, "test_ci95": [0.62, 0.68], "n_seeds": 5}},
        cnn_summary={**row, "test_mean": 0.74, "test_ci95": [0.73, 0.75], "n_seeds": 5},
    )
    assert "over 5 seeds" in m
    assert "<td class='test'>0.650 ± 0.030</td>" in m and "0.820" not in m  # slope: the mean, not seed 0
    assert "<td class='test'>0.740 ± 0.010</td>" in m and "0.880" not in m  # the CNN's cell over seeds
    assert "<td class='test'>0.720</td>" in m  # the change ratio has no summary: its single run


def test_run_record_round_trips_stored_results():
    from landslide_app.experiments.records import RunRecord

    d = {
        "inputs": "dem",
        "revisits": 2,
        "split": "random",
        "auc": {"train": 0.8, "val": None, "test": 0.7},
        "key": "dem-r2-random",
        "shared_with": "dem-r1-random",
        "n_chips": 44,
        "new_key": [1, 2],
    }
    r = RunRecord.from_dict(d)
    assert r.auc.val is None and r.shared_with == "dem-r1-random" and r.extra["new_key"] == [1, 2]
    assert r.to_dict() == d  # unknown keys kept, absent keys not invented
    with pytest.raises(InputError, match="damaged"):
        RunRecord.from_dict({"inputs": "dem"})


def test_background_job_runs_one_at_a_time_and_reports_errors():
    job = BackgroundJob()
    gate = threading.Event()
    done, errors = [], []
    assert job.start(lambda: gate.wait(5) and 42, done.append, errors.append)
    assert job.running and not job.start(lambda: 0)  # a second job is refused while one runs
    gate.set()
    assert job.wait(5) and done == [42] and not errors

    def fail():
        raise RuntimeError("nope")

    assert job.start(fail, done.append, errors.append) and job.wait(5)
    assert isinstance(errors[0], RuntimeError) and done == [42] and not job.running


def test_map_quality_table_shows_the_map_against_the_majority_baseline():
    from landslide_app.dashboard.tables import map_quality_html

    run = {
        "accuracy": 0.684,
        "majority_accuracy": 0.668,
        "balanced_accuracy": 0.458,
        "macro_f1": 0.441,
        "brier": 0.413,
        "missed_landslide_chips": 0,
        "pred_counts": [0, 373, 10],
        "true_counts": [106, 256, 21],
    }
    h = map_quality_html(run, None, "cost")
    assert "<td>0.684</td><td>0.668</td>" in h and "0/373/10 vs 106/256/21" in h
    assert "<code>cost</code>" in h and "one run" in h and "<td>0</td>" in h
    # over seeds: the means and intervals replace seed 0's figures, the counts stay seed 0's
    summary = {"accuracy": {"mean": 0.665, "ci95": [0.65, 0.68], "n_seeds": 5}}
    h = map_quality_html(run, summary, "cost")
    assert "0.665 ± 0.015" in h and "0.684" not in h and "over 5 seeds" in h and "0.668" in h
    assert "older version" in map_quality_html(None, None)


def test_reliability_png_draws_the_calibration_curves():
    from landslide_app.dashboard.plots import reliability_png

    pts = {"0": [{"mean_predicted": 0.1, "observed": 0.08}, {"mean_predicted": 0.3, "observed": 0.4}], "1": [], "2": []}
    png = reliability_png(pts, "fused-r3-random", 0.413)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 2000


def test_report_confusion_counts_the_map_classes(tmp_path, monkeypatch):
    from landslide_app.experiments import report

    drawn = []
    real_save = report._save
    monkeypatch.setattr(report, "_save", lambda fig, path: (drawn.append(fig), real_save(fig, path)))
    run = {
        "inputs": "fused",
        "revisits": 3,
        "split": "random",
        "auc": {"test": 0.7},
        "confusion": [[19, 87, 0], [28, 228, 0], [2, 18, 1]],  # the forest's most probable class
        "map": {"confusion": [[0, 106, 0], [0, 249, 7], [0, 12, 9]]},  # the decision rule's map
    }
    report.plot_confusion({"runs": [run]}, tmp_path / "confusion.png")
    texts = sorted(int(t.get_text()) for t in drawn[0].axes[0].texts)
    assert texts == sorted([0, 106, 0, 0, 249, 7, 0, 12, 9]) and (tmp_path / "confusion.png").exists()
    # a result from before the map's classes: the forest's confusion
    report.plot_confusion({"runs": [{k: v for k, v in run.items() if k != "map"}]}, tmp_path / "old.png")
    assert sorted(int(t.get_text()) for t in drawn[1].axes[0].texts) == sorted([19, 87, 0, 28, 228, 0, 2, 18, 1])
