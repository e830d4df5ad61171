"""Unusual inputs that must be handled correctly, never turned into a silently wrong result (issue 15):
multi-layer and duplicated inventories, 0-360 and projected CSV coordinates, south-up DEMs, SAR in dB,
grids beyond the UTM zones and across the antimeridian, outputs over inputs, the shared CLI rules
(numeric options, ports, locks of refused commands, warnings, closed pipes), and that every option
named in a message exists. Refusals are catalogued in ``tests/test_bad_inputs.py`` too.
"""

from __future__ import annotations

import argparse
import ast
import logging
import re
import socket
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from cli_argv import ablate_dem_argv
from rasterio.transform import Affine, from_origin

from landslide_app import cli
from landslide_app.atomic import LOCK_NAME, atomic_path, temp_target
from landslide_app.cli import rules as cli_rules
from landslide_app.errors import ConfigError, InventoryError, OutputError, RasterError

PKG = Path(__file__).parents[1] / "landslide_app"
AREA = (680000.0, 2042320.0, 690240.0, 2050000.0)  # the tiny scene, EPSG:32619


@pytest.fixture(scope="module")
def heads(scene_dir):
    import geopandas as gpd

    return gpd.read_file(scene_dir / "inventory.gpkg")


def _read(path, **kw):
    from landslide_app.sources.inventory import read_inventory

    return read_inventory(path, 32619, bounds=AREA, **kw)


# ---- theme 1: inventories ------------------------------------------------------------------------
def test_multilayer_gpkg_reads_the_point_layer_not_the_first(heads, tmp_path, caplog):
    import geopandas as gpd
    from shapely.geometry import box

    area = gpd.GeoDataFrame({"name": ["study area"]}, geometry=[box(*heads.total_bounds)], crs=heads.crs)
    f = tmp_path / "two.gpkg"
    area.to_file(f, layer="area")  # first layer: one polygon (read before: 1 "head")
    heads.to_file(f, layer="heads")
    with caplog.at_level(logging.WARNING):
        r = _read(f)
    assert r.n_read == len(heads) > 100 and r.layer == "heads"
    assert "reading its point layer 'heads'" in caplog.text and "'area' (Polygon, 1 feature)" in caplog.text
    # --layer still reads the polygon layer on request
    assert _read(f, layer="area").n_kept == 1


def test_multilayer_gpkg_with_two_point_layers_is_refused_with_the_list(heads, tmp_path):
    f = tmp_path / "two.gpkg"
    heads.iloc[:10].to_file(f, layer="old")
    heads.to_file(f, layer="new")
    with pytest.raises(
        InventoryError,
        match=rf"2 layers and several point layers: 'old' \(Point, 10 features\), "
        rf"'new' \(Point, {len(heads)} features\).*--layer NAME",
    ):
        _read(f)
    assert _read(f, layer="new").n_kept == len(heads)


def test_duplicated_rows_are_dropped_and_counted(heads, tmp_path, caplog):
    f = tmp_path / "x20.gpkg"
    pd.concat([heads] * 20).to_file(f)
    with caplog.at_level(logging.WARNING):
        r = _read(f)
    n = len(heads)
    assert r.n_read == 20 * n and r.n_kept == n
    assert r.dropped == {"duplicate row": 19 * n}
    assert f"{19 * n} of {20 * n}" in caplog.text and "the first is kept" in caplog.text
    assert r.n_read == r.n_kept + sum(r.dropped.values())


def test_coincident_points_with_other_attributes_are_kept_and_counted(tmp_path, caplog):
    f = tmp_path / "h.csv"
    f.write_text("lon,lat,date\n-67.2,18.5,2017-09-20\n-67.2,18.5,2017-10-01\n-67.2,18.5,2017-09-20\n")
    from landslide_app.sources.inventory import read_inventory

    with caplog.at_level(logging.WARNING):
        r = read_inventory(f, 4326)
    assert r.n_kept == 2 and r.dropped == {"duplicate row": 1} and r.coincident == 1
    assert "differ in an attribute; kept" in caplog.text


def test_longitudes_0_360_are_wrapped(heads, tmp_path):
    ll = heads.to_crs(4326).geometry
    f = tmp_path / "h.csv"
    pd.DataFrame({"lon": ll.x % 360.0, "lat": ll.y}).to_csv(f, index=False)
    assert (ll.x % 360.0 > 180).all()
    r = _read(f)
    assert r.n_kept == len(heads) and r.wrapped == len(heads)
    ref = heads.to_crs(32619).geometry
    np.testing.assert_allclose(r.points.geometry.x, ref.x, atol=1e-6)


def test_projected_csv_gets_a_hint_and_reads_with_crs(heads, tmp_path):
    utm = heads.to_crs(32619).geometry
    f = tmp_path / "h.csv"
    pd.DataFrame({"x": utm.x, "y": utm.y}).to_csv(f, index=False)
    with pytest.raises(InventoryError, match=r"look projected.*--crs EPSG:NNNN.*inside the area: --crs EPSG:32619"):
        _read(f)
    r = _read(f, csv_crs="EPSG:32619")
    assert r.n_kept == len(heads)
    np.testing.assert_allclose(r.points.geometry.y, utm.y, atol=1e-6)


# ---- theme 1/5: south-up DEMs ---------------------------------------------------------------------
def _flipped(src: Path, dst: Path, rows: bool = True, cols: bool = False) -> Path:
    with rasterio.open(src) as ds:
        prof, z, t = dict(ds.profile), ds.read(1), ds.transform
    h, w = z.shape
    a, c = (-t.a, t.c + t.a * w) if cols else (t.a, t.c)
    e, f = (-t.e, t.f + t.e * h) if rows else (t.e, t.f)
    prof.update(transform=Affine(a, 0.0, c, 0.0, e, f))
    with rasterio.open(dst, "w", **prof) as out:
        out.write(z[:: -1 if rows else 1, :: -1 if cols else 1], 1)
    return dst


@pytest.mark.parametrize(
    "rows,cols", [(True, False), (False, True), (True, True)], ids=["south-up", "east-west", "both"]
)
def test_terrain_of_a_flipped_dem_equals_the_north_up_result(scene_dir, tmp_path, rows, cols):
    from landslide_app.terrain import write_terrain

    dem = scene_dir / "dem" / "elevation.tif"
    ref = write_terrain(dem, tmp_path / "north-up.tif", strip_rows=256)  # 768 rows: three strips
    flipped = write_terrain(_flipped(dem, tmp_path / "f.tif", rows, cols), tmp_path / "f-terrain.tif", strip_rows=256)
    with rasterio.open(ref) as a, rasterio.open(flipped) as b:
        want, got = a.read(), b.read()[:, :: -1 if rows else 1, :: -1 if cols else 1]
    aspect = want[3][np.isfinite(want[3])]
    assert np.ptp(aspect) > 300  # every direction occurs: a mirrored aspect could not pass
    np.testing.assert_array_equal(got, want)  # all four bands, aspect included


def test_chips_of_a_south_up_dem_equal_the_north_up_chips(scene_dir, tmp_path):
    from landslide_app.chips.build import build_chips
    from landslide_app.sources.stac import dem_only_source

    dem = scene_dir / "dem" / "elevation.tif"
    south_up = _flipped(dem, tmp_path / "south-up.tif")
    inv = scene_dir / "inventory.gpkg"
    a = build_chips(dem_only_source(dem), inv, tmp_path / "a", progress=False).store
    b = build_chips(dem_only_source(south_up), inv, tmp_path / "b", progress=False).store
    assert list(a.ids) == list(b.ids) and len(a.ids) > 20
    xa, xb = np.asarray(a.read_many(a.ids))[:, :4], np.asarray(b.read_many(b.ids))[:, :4]
    np.testing.assert_array_equal(xb, xa)


# ---- theme 1: SAR in dB ---------------------------------------------------------------------------
def test_db_detection():
    from landslide_app.sources.checks import looks_like_db

    rng = np.random.default_rng(0)
    linear = rng.gamma(2.0, 0.05, 10_000)
    assert not looks_like_db(linear)[0]
    is_db, neg, median = looks_like_db(10 * np.log10(linear))
    assert is_db and neg > 0.99 and -15 < median < -8
    assert not looks_like_db(np.full(100, -32768.0))[0]  # nodata only: no verdict


def test_a_sar_date_in_db_is_refused_naming_date_and_file(scene_dir, tmp_path):
    import shutil

    from landslide_app.chips.build import build_chips
    from landslide_app.sources.stac import open_local_catalog

    sc = tmp_path / "scene"
    shutil.copytree(scene_dir, sc)
    f = next((sc / "sar").glob("S1A_20171010*_vh.tif"))
    with rasterio.open(f) as ds:
        prof, a = dict(ds.profile), ds.read(1)
    with rasterio.open(f, "w", **prof) as ds:
        ds.write(np.where(a == -32768, a, 10 * np.log10(np.maximum(a, 1e-6))).astype("float32"), 1)
    with pytest.raises(
        RasterError,
        match=r"SAR of 2017-10-10 \(VH, .*S1A_20171010T223638_vh.tif\) looks like "
        r"decibels.*gdal_calc.py",
    ):
        build_chips(open_local_catalog(sc / "catalog.json"), sc / "inventory.gpkg", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


# ---- theme 5: grids -------------------------------------------------------------------------------
def test_utm_zone_choice_poles_and_antimeridian():
    from landslide_app.sources.checks import utm_epsg_for_lonlat_bbox, utm_zone_epsg

    assert utm_epsg_for_lonlat_bbox((-67.3, 18.4, -67.1, 18.6)) == 32619
    assert utm_epsg_for_lonlat_bbox((150.0, -35.0, 150.5, -34.5)) == 32756
    assert utm_epsg_for_lonlat_bbox((179.9, -16.6, -179.9, -16.4)) in (32660, 32701)  # across 180°
    assert utm_zone_epsg(181.0, 10.0) == 32601
    with pytest.raises(ConfigError, match=r"beyond the UTM zones.*--epsg 3413.*gdalwarp -t_srs EPSG:3413"):
        utm_epsg_for_lonlat_bbox((10.0, 85.3, 10.2, 85.5))
    with pytest.raises(ConfigError, match=r"--epsg 3031"):
        utm_epsg_for_lonlat_bbox((10.0, -81.0, 10.2, -80.5))


def _geographic_dem(path: Path, west: float, north: float) -> Path:
    z = np.random.default_rng(0).normal(500, 50, (200, 200)).astype("float32")
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=200,
        width=200,
        count=1,
        dtype="float32",
        crs="EPSG:4326",
        transform=from_origin(west, north, 0.001, 0.001),
    ) as ds:
        ds.write(z, 1)
    return path


def test_polar_dem_builds_with_the_suggested_epsg(tmp_path):
    dem = _geographic_dem(tmp_path / "polar.tif", 10.0, 85.5)
    inv = tmp_path / "h.csv"
    inv.write_text("lon,lat\n10.1,85.4\n10.05,85.45\n")
    argv = [
        "-q",
        "chips",
        "--dem-only",
        "--dem",
        str(dem),
        "--inventory",
        str(inv),
        "--out",
        str(tmp_path / "o"),
        "--min-land",
        "0",
    ]
    assert cli.main(argv) == 2  # refused: names --epsg 3413
    assert cli.main([*argv, "--epsg", "3413"]) == 0
    from landslide_app.chips.store import ChipStore

    assert ChipStore.open(tmp_path / "o").info()["n_heads"] == 2


def test_antimeridian_dem_is_refused_with_the_gdalwarp_fix(tmp_path):
    from landslide_app.chips.build import build_chips
    from landslide_app.sources.stac import dem_only_source

    dem = _geographic_dem(tmp_path / "fiji.tif", 179.9, -16.5)
    inv = tmp_path / "h.csv"
    inv.write_text("lon,lat\n179.95,-16.55\n-179.95,-16.55\n")
    with pytest.raises(RasterError, match=r"across the antimeridian.*gdalwarp -t_srs EPSG:327?0?1 -tr 10 10.*--epsg"):
        build_chips(dem_only_source(dem), inv, tmp_path / "o", progress=False)


# ---- theme 4: outputs never overwrite inputs, for every command -----------------------------------
def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no sub-commands")


def _filler(action: argparse.Action, path: Path) -> list[str]:
    if action.choices:
        value = str(next(iter(action.choices)))
    elif action.type is Path:
        value = str(path)
    elif action.type in (float,):
        value = "1"
    elif action.dest == "event_date":
        value = "2017-09-20"
    else:
        value = "1"
    n = action.nargs if isinstance(action.nargs, int) else 1
    return [value] * n


def test_no_command_writes_over_its_own_input(tmp_path, monkeypatch):
    """For every sub-command with an output (--out, demo --data) and every path input it takes,
    giving the input's path as the output is refused before the command runs."""
    parser = cli.build_parser()
    ran: list[str] = []
    checked = 0
    for name, sub in _subparsers(parser).items():
        out_dest = cli_rules.OUTPUT_OPTION.get(name, "out")
        actions = [a for a in sub._actions if a.dest != "help"]
        out = next((a for a in actions if a.dest == out_dest), None)
        inputs = [a for a in actions if a.type is Path and a.dest != out_dest]
        if out is None or not inputs:
            continue
        monkeypatch.setattr(sub, "_defaults", {**sub._defaults, "func": lambda a, n=name: ran.append(n) or 0})
        for inp in inputs:
            f = tmp_path / f"{name}-{inp.dest}.tif"
            f.write_bytes(b"input")
            argv = [name]
            for a in actions:
                if a is inp or a is out:
                    continue
                if a.required or not a.option_strings:
                    argv += ([a.option_strings[0]] if a.option_strings else []) + _filler(a, tmp_path / "other")
            argv += ([inp.option_strings[0]] if inp.option_strings else []) + [str(f)]
            argv += [out.option_strings[0], str(f)]
            seen: list[BaseException] = []
            monkeypatch.setattr(cli, "_fail", lambda e, d, s=seen: (s.append(e), 2)[1])
            rc = cli.main(["-q", *argv])
            assert rc == 2 and seen and isinstance(seen[0], OutputError), (argv, seen)
            assert "own input" in str(seen[0]), seen[0]
            assert f.read_bytes() == b"input"
            checked += 1
    assert not ran
    assert checked >= 6  # terrain, chips (--inventory, --dem), train, predict (--model, --chips), embed, ...


@pytest.mark.parametrize(
    "argv,match",
    [
        (
            ["predict", "--model", "{run}", "--chips", "{store}", "--out", "{store}/pred"],
            r"lies inside the input --chips",
        ),
        (
            ["train", "--chips", "{store}", "--inputs", "dem", "--out", "{store}/runs/x"],
            r"lies inside the input --chips",
        ),
        (["embed", "--model", "{run}", "--chips", "{store}", "--out", "{run}/e.tif"], r"lies inside the input --model"),
        (["ablate", "--chips", "{other}", "--out", "{store}/abl"], r"lies inside the chip store"),
    ],
    ids=["predict-into-store", "train-into-store", "embed-into-run", "ablate-into-another-store"],
)
def test_outputs_never_go_into_a_store_or_run(tiny_store, dem_run, tmp_path, argv, match):
    import shutil

    other = tmp_path / "other"
    shutil.copytree(tiny_store, other)
    values = {"run": dem_run, "store": tiny_store, "other": other}
    with pytest.raises(OutputError, match=match):
        cli.main(["--debug", "-q", *[a.format(**values) for a in argv]])
    assert not (tiny_store / "pred").exists() and not (tiny_store / "abl").exists()


def test_numeric_options_are_bounded_alike():
    parser = cli.build_parser()
    for argv in (
        ["train", "--chips", "s", "--inputs", "dem", "--out", "o", "--epochs", "100000"],
        ["ablate", "--chips", "s", "--out", "o", "--epochs", "1001"],
        ["app", "--port", "99999"],
        ["app", "--port", "0"],
    ):
        with pytest.raises(ConfigError, match=r"must be between"):
            parser.parse_args(argv)
    ok = parser.parse_args(["train", "--chips", "s", "--inputs", "dem", "--out", "o", "--epochs", "1000"])
    assert ok.epochs == 1000


def test_a_busy_port_is_refused_and_voila_never_moves_to_another(tmp_path):
    from landslide_app.dashboard.serve import voila_command

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(OutputError, match=rf"port {port} on 127.0.0.1 is not available.*--port \d+"):
            cli.main(["--debug", "app", "--data", str(tmp_path), "--port", str(port), "--no-browser"])
    assert "--Voila.port_retries=0" in voila_command(8866, False)


def test_a_refused_command_leaves_no_lock(tiny_store, tmp_path):
    """ablate on a store whose chunk header is damaged is refused after it took its lock: the lock and
    the folders it made are removed, a folder that existed stays as it was."""
    import os
    import shutil

    from landslide_app.chips.store import ChipStore

    store = tmp_path / "store"
    shutil.copytree(tiny_store, store)
    st = ChipStore.open(store)
    row, col = st.grid.chip_rc(int(st.ids[0]))
    chunk = store / "chips.zarr" / "c" / str(row) / str(col) / "0" / "0" / "0"
    data = chunk.read_bytes()
    chunk.unlink()
    chunk.write_bytes(b"\xff" * 16 + data[16:])  # same size: passes the checks at open, fails when read
    out = tmp_path / "abl"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    rc = cli.main(["-q", *ablate_dem_argv(store, out)])
    assert rc == 2
    assert sorted(p.name for p in out.rglob("*")) == ["notes.txt"]
    assert not any(p.name == LOCK_NAME for p in out.rglob("*"))
    assert os.listdir(out) == ["notes.txt"]


def test_output_guard_keeps_a_lock_another_process_holds(tmp_path):
    import fcntl
    import os

    out = tmp_path / "o"
    guard = cli_rules.OutputGuard.before(cli_rules.PathArg("out", "--out", out))
    (out / "runs").mkdir(parents=True)
    lock = out / "runs" / LOCK_NAME
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        guard.cleanup_after_failure()
        assert lock.exists()  # held: not ours to remove
    finally:
        os.close(fd)
    guard.cleanup_after_failure()
    assert not out.exists()  # created by the command, empty again: removed


# ---- theme 3: messages, warnings, pipes -----------------------------------------------------------
def test_atomic_output_to_a_directory_names_the_directory_not_a_temp_file(tmp_path):
    with pytest.raises(OutputError, match=r"is an existing directory; give the path"), atomic_path(tmp_path):
        pass
    assert temp_target(tmp_path / ".dem.tif.tmp-abc123.tif") == tmp_path / "dem.tif"
    assert temp_target(tmp_path / "dem.tif") == tmp_path / "dem.tif"


def test_library_warnings_become_one_line(caplog):
    with warnings.catch_warnings():
        cli_rules.install_warning_handler(debug=False)
        with caplog.at_level(logging.WARNING, logger="landslide_app"):
            warnings.warn(
                "Dataset has no geotransform, gcps, or rpcs.\nThe identity matrix will be returned.",
                UserWarning,
                stacklevel=1,
            )
    msgs = [r.getMessage() for r in caplog.records]
    assert msgs == ["Dataset has no geotransform, gcps, or rpcs."], msgs
    assert logging.getLogger("rasterio").level == logging.ERROR


_FLOOD = """
import sys
from landslide_app import cli
from landslide_app.cli.common import emit
build = cli.build_parser
def flooding_parser():
    p = build()
    for a in p._actions:
        if isinstance(getattr(a, "choices", None), dict) and "info" in a.choices:
            a.choices["info"].set_defaults(func=lambda ns: [emit("x" * 1000) for _ in range(2000)] and 0)
    return p
cli.build_parser = flooding_parser
sys.exit(cli.main(["info", "anything"]))
"""


def test_a_closed_pipe_on_stdout_exits_quietly(tiny_store, tmp_path):
    """``landslide-app info X --json | head -1``, and a command writing megabytes into a closed pipe."""
    script = tmp_path / "flood.py"
    script.write_text(_FLOOD)
    for c in (
        f"{sys.executable} -m landslide_app.cli info {tiny_store} --json | head -1 >/dev/null",
        f"{sys.executable} {script} | head -c 1 >/dev/null; echo rc=${{PIPESTATUS[0]}} >&2",
    ):
        p = subprocess.run(["bash", "-c", c], capture_output=True, text=True, timeout=120)
        assert "Traceback" not in p.stderr and "error" not in p.stderr.lower(), p.stderr
    assert p.stderr.strip() == "rc=141", p.stderr


def test_broken_pipe_is_not_an_error(monkeypatch, capsys):
    import os

    parser = cli.build_parser()

    def boom(a):
        raise BrokenPipeError(32, "Broken pipe")

    _subparsers(parser)["info"].set_defaults(func=boom)
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    monkeypatch.setattr(os, "dup2", lambda a, b: None)
    assert cli.main(["-q", "info", "x"]) == 141
    assert capsys.readouterr().err == ""


# ---- also: sizes that cannot fit, advice that names real options ----------------------------------
def test_a_scene_too_big_for_memory_is_refused_up_front(tmp_path):
    from landslide_app.scene.sizes import check_scene_memory, scene_memory_bytes

    assert scene_memory_bytes("400x400") > 60 * 2**30
    with pytest.raises(
        ConfigError,
        match=r"'400x400' \(51,200 x 51,200 px\) needs at least 63.7 GiB.*8.0 GiB are "
        r"available; choose a smaller --size \(e.g. '\d+x\d+' fits\)",
    ):
        check_scene_memory("400x400", available=8 * 2**30)
    assert check_scene_memory("tiny", available=8 * 2**30).name == "tiny"


def _message_options() -> dict[str, set[str]]:
    """``--option`` -> files, for every option named in a string literal of the package (f-string
    parts included), leaving out the parser's own definitions and other tools' options, and the test
    fixtures of ``landslide_app/testing`` (e.g. Chromium's flags), which show no message to a user."""
    found: dict[str, set[str]] = {}
    for py in PKG.rglob("*.py"):
        if py.relative_to(PKG).parts[0] == "testing":
            continue
        tree = ast.parse(py.read_text())
        defs = {
            id(n.args[0])
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "add_argument" and n.args
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in defs:
                for m in re.finditer(r"(?<![\w-])(--[a-z][a-z0-9]*(?:-[a-z0-9]+)*)(?![\w=.-])", node.value):
                    found.setdefault(m.group(1), set()).add(str(py.relative_to(PKG.parent)))
    return found


#: Options of other programs that messages quote (gdalwarp, pip, voila, pytest, ...).
FOREIGN_OPTIONS = {
    "--calc",
    "--outfile",
    "--nodatavalue",
    "--no-browser",
    "--help",
    "--version",
    "--port",
    "--debug",
    "--strip-sources",
    "--show-tracebacks",
    "--voila",
    "--co",
    "--config",
    "--index-url",
    "--extra-index-url",
    "--upgrade",
}


def test_every_option_named_in_a_message_exists():
    parser = cli.build_parser()
    known = {s for a in parser._actions for s in a.option_strings}
    for sub in _subparsers(parser).values():
        known |= {s for a in sub._actions for s in a.option_strings}
    named = _message_options()
    assert len(named) >= 15, sorted(named)
    unknown = {o: sorted(f) for o, f in named.items() if o not in known and o.lower() not in FOREIGN_OPTIONS}
    assert not unknown, f"messages name options the CLI does not have: {unknown}"
