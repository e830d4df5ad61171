"""Tests of landslide_app.terrain against analytic surfaces.

Units: x (east) and y (north) in metres, z in metres. Slope in degrees, aspect in degrees
clockwise from north of the direction the slope faces (downhill), curvature = -100 * Laplacian(z)
in 1/(100 m) (richdem / ArcGIS; positive = convex).
"""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import Transformer

from landslide_app.config import DEM_CHANNELS, FLAT_ASPECT_DEG
from landslide_app.errors import RasterError
from landslide_app.terrain import TERRAIN_BAND_NAMES, terrain_stack, write_terrain

ELEV, SLOPE, CURV, ASPECT = (DEM_CHANNELS.index(n) for n in DEM_CHANNELS)


def from_origin(west: float, north: float, xsize: float, ysize: float) -> Affine:
    return Affine(xsize, 0.0, west, 0.0, -ysize, north)


def grid_xy(height: int, width: int, dx: float, dy: float | None = None):
    """Cell-centre coordinates in metres: x east, y north (row 0 is the northern row)."""
    dy = dx if dy is None else dy
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    return cols * dx, -rows * dy


def slope_deg(a: float, b: float) -> float:
    return float(np.degrees(np.arctan(np.hypot(a, b))))


def facing_deg(a: float, b: float) -> float:
    """Compass bearing of the downhill direction of z = a*x + b*y."""
    return float(np.degrees(np.arctan2(-a, -b)) % 360.0)


def fractal_dem(shape=(120, 150), seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=shape).cumsum(0).cumsum(1) * 0.5 + 300.0
    return z


# ---------------------------------------------------------------------------------------------
# terrain_stack
# ---------------------------------------------------------------------------------------------


def test_output_shape_dtype_and_channel_order():
    x, y = grid_xy(20, 30, 10.0)
    z = 0.1 * x + 250.0
    out = terrain_stack(z, 10.0, 10.0)
    assert out.shape == (4, 20, 30)
    assert out.dtype == np.float32
    assert DEM_CHANNELS == ("elevation", "slope", "curvature", "aspect")
    np.testing.assert_array_equal(out[ELEV], z.astype(np.float32))


@pytest.mark.parametrize("a, b", [(0.1, 0.2), (-0.5, 0.3), (1.0, 0.0), (0.0, -0.7), (2.0, 1.5)])
def test_plane_slope_aspect_curvature_everywhere(a, b):
    """z = a*x + b*y: slope atan(hypot(a, b)), constant aspect, zero curvature, border included."""
    x, y = grid_xy(25, 31, 10.0)
    out = terrain_stack(a * x + b * y + 100.0, 10.0, 10.0)
    np.testing.assert_allclose(out[SLOPE], slope_deg(a, b), atol=1e-4)
    np.testing.assert_allclose(out[ASPECT], facing_deg(a, b), atol=1e-3)
    np.testing.assert_allclose(out[CURV], 0.0, atol=1e-6)


@pytest.mark.parametrize(
    "a, b, expected",
    [
        (0.0, -0.3, 0.0),  # falls towards north: north-facing
        (-0.3, 0.0, 90.0),  # east-facing
        (0.0, 0.3, 180.0),  # south-facing
        (0.3, 0.0, 270.0),  # west-facing
        (-0.3, -0.3, 45.0),  # north-east-facing
        (0.3, -0.3, 315.0),  # north-west-facing
    ],
)
def test_aspect_of_facing_planes(a, b, expected):
    x, y = grid_xy(9, 9, 30.0)
    out = terrain_stack(a * x + b * y, 30.0, 30.0)
    got = out[ASPECT]
    # 0 and 360 are the same direction; the output stays in [0, 360).
    assert np.all((got >= 0) & (got < 360))
    diff = (got - expected + 180.0) % 360.0 - 180.0
    np.testing.assert_allclose(diff, 0.0, atol=1e-3)


def test_aspect_of_cone_points_away_from_summit():
    """Cone z = -r: every cell faces away from the summit, aspect = bearing from the summit."""
    x, y = grid_xy(41, 41, 10.0)
    cx, cy = x[20, 20], y[20, 20]
    z = -np.hypot(x - cx, y - cy)
    out = terrain_stack(z, 10.0, 10.0)
    bearing = np.degrees(np.arctan2(x - cx, y - cy)) % 360.0
    r = np.hypot(x - cx, y - cy)
    sel = (r > 30.0) & (r < 180.0)  # away from the apex and the border
    diff = (out[ASPECT][sel] - bearing[sel] + 180.0) % 360.0 - 180.0
    assert np.abs(diff).max() < 2.0
    np.testing.assert_allclose(out[SLOPE][sel], 45.0, atol=1.0)
    # The apex is symmetric: zero Horn gradient, hence flat.
    assert out[SLOPE][20, 20] == 0.0 and out[ASPECT][20, 20] == FLAT_ASPECT_DEG


def test_flat_cells_get_flat_aspect():
    out = terrain_stack(np.full((6, 7), 42.0), 10.0, 10.0)
    np.testing.assert_array_equal(out[SLOPE], 0.0)
    np.testing.assert_array_equal(out[CURV], 0.0)
    np.testing.assert_array_equal(out[ASPECT], FLAT_ASPECT_DEG)


@pytest.mark.parametrize("c", [0.01, -0.002])
@pytest.mark.parametrize("cell", [1.0, 10.0, 30.0])
def test_paraboloid_curvature_is_minus_400c(c, cell):
    """z = c (x^2 + y^2): Laplacian 4c, so richdem curvature = -100 * 4c everywhere inside.

    By hand, richdem (Zevenbergen & Thorne): D = ((z4 + z6)/2 - z5)/L^2 = c,
    E = ((z2 + z8)/2 - z5)/L^2 = c, curvature = -2 (D + E) * 100 = -400 c. A bowl (c > 0) is
    concave: negative; a dome (c < 0) is convex: positive.
    """
    x, y = grid_xy(21, 23, cell)
    x -= x[10, 11]
    y -= y[10, 11]
    out = terrain_stack(c * (x**2 + y**2), cell, cell)
    inner = out[CURV][1:-1, 1:-1]
    np.testing.assert_allclose(inner, -400.0 * c, rtol=1e-5)
    # Border: the component across the border is lost (linear extrapolation) -> half on
    # edges, 0 at the four corners.
    np.testing.assert_allclose(out[CURV][0, 1:-1], -200.0 * c, rtol=1e-5)
    np.testing.assert_allclose(out[CURV][1:-1, -1], -200.0 * c, rtol=1e-5)
    np.testing.assert_allclose(out[CURV][[0, 0, -1, -1], [0, -1, 0, -1]], 0.0, atol=1e-6)
    # Horn's central differences are exact on a quadratic: slope = atan(2 c r).
    r = np.hypot(x, y)
    np.testing.assert_allclose(out[SLOPE][1:-1, 1:-1], np.degrees(np.arctan(2 * abs(c) * r))[1:-1, 1:-1], atol=1e-4)


def test_same_slope_at_10_and_30_m():
    a, b = 0.25, -0.15
    for cell in (10.0, 30.0):
        x, y = grid_xy(15, 15, cell)
        out = terrain_stack(a * x + b * y, cell, cell)
        np.testing.assert_allclose(out[SLOPE], slope_deg(a, b), atol=1e-4)
    # Without the cell size (1 m assumed) the same rasters would give another slope.
    x, y = grid_xy(15, 15, 30.0)
    wrong = terrain_stack(a * x + b * y, 1.0, 1.0)
    assert abs(float(wrong[SLOPE][7, 7]) - slope_deg(a, b)) > 10.0


def test_non_square_cells():
    a, b, c = 0.2, 0.35, 0.004
    x, y = grid_xy(19, 17, 10.0, 30.0)
    out = terrain_stack(a * x + b * y, 10.0, 30.0)
    np.testing.assert_allclose(out[SLOPE], slope_deg(a, b), atol=1e-4)
    np.testing.assert_allclose(out[ASPECT], facing_deg(a, b), atol=1e-3)
    x -= x[9, 8]
    y -= y[9, 8]
    bowl = terrain_stack(c * (x**2 + y**2), 10.0, 30.0)
    np.testing.assert_allclose(bowl[CURV][1:-1, 1:-1], -400.0 * c, rtol=1e-5)


def test_per_row_cell_sizes():
    x, y = grid_xy(12, 10, 10.0)
    z = 0.3 * x - 0.1 * y
    scalar = terrain_stack(z, 10.0, 10.0)
    per_row = terrain_stack(z, np.full(12, 10.0), np.full(12, 10.0))
    np.testing.assert_array_equal(scalar, per_row)
    # Cell width changing per row: each row is computed with its own width.
    widths = np.linspace(9.0, 11.0, 12)
    z = fractal_dem((12, 10), seed=5)
    out = terrain_stack(z, widths, 10.0)
    for r in range(12):
        np.testing.assert_array_equal(out[:, r], terrain_stack(z, widths[r], 10.0)[:, r])


def test_nodata_gives_nan_and_neighbours_stay_exact():
    a, b = 0.2, -0.1
    x, y = grid_xy(20, 20, 10.0)
    z = a * x + b * y + 50.0
    z[5:8, 6:9] = np.nan
    z[15, 3] = -9999.0
    out = terrain_stack(z, 10.0, 10.0, nodata=-9999.0)
    hole = np.isnan(z) | (z == -9999.0)
    assert np.isnan(out[:, hole]).all()
    assert np.isfinite(out[:, ~hole]).all()
    np.testing.assert_allclose(out[SLOPE][~hole], slope_deg(a, b), atol=1e-4)
    np.testing.assert_allclose(out[ASPECT][~hole], facing_deg(a, b), atol=1e-3)


def test_all_nan_and_degenerate_strips():
    out = terrain_stack(np.full((4, 5), np.nan), 10.0, 10.0)
    assert np.isnan(out).all()
    # A single row: no north-south neighbours -> slope/curvature/aspect undefined (NaN).
    row = terrain_stack(np.arange(6, dtype=float)[None, :], 10.0, 10.0)
    np.testing.assert_array_equal(row[ELEV][0], np.arange(6))
    assert np.isnan(row[1:]).all()
    # An isolated valid pixel inside nodata: same.
    z = np.full((5, 5), np.nan)
    z[2, 2] = 10.0
    iso = terrain_stack(z, 10.0, 10.0)
    assert iso[ELEV][2, 2] == 10.0 and np.isnan(iso[1:, 2, 2]).all()


def test_integer_dem_and_input_not_modified():
    z = (np.arange(64).reshape(8, 8) * 3).astype(np.int16)
    before = z.copy()
    out = terrain_stack(z, 10.0, 10.0, nodata=0)
    np.testing.assert_array_equal(z, before)
    assert np.isnan(out[ELEV][0, 0]) and out[ELEV][0, 1] == 3.0


@pytest.mark.parametrize(
    "window",
    [
        (slice(30, 71), slice(40, 101)),  # interior window
        (slice(0, 40), slice(0, 50)),  # touches the north-west corner of the DEM
        (slice(80, 120), slice(100, 150)),  # touches the south-east corner
        (slice(10, 60), slice(60, 130)),  # crosses the nodata hole
    ],
)
def test_halo_window_equals_whole_dem(window):
    """Computing on a window with a 1-pixel halo then cropping gives the whole-DEM values."""
    z = fractal_dem()
    z[20:30, 70:85] = np.nan
    z[55, 100] = np.nan
    full = terrain_stack(z, 10.0, 10.0)
    rs, cs = window
    h, w = z.shape
    # Halo-extended window, clipped to the DEM.
    r0, r1 = max(rs.start - 1, 0), min(rs.stop + 1, h)
    c0, c1 = max(cs.start - 1, 0), min(cs.stop + 1, w)
    sub = terrain_stack(z[r0:r1, c0:c1], 10.0, 10.0)
    cropped = sub[:, rs.start - r0 : rs.stop - r0, cs.start - c0 : cs.stop - c0]
    np.testing.assert_array_equal(cropped, full[:, rs, cs])


@pytest.mark.parametrize("cell", [10.0, 2.5])
def test_values_equal_richdem_on_interior(cell):
    """terrain_stack evaluates richdem's own formulas: on every cell whose 3 x 3 window is complete
    its slope, aspect and curvature equal richdem's terrain_attribute (the reference)."""
    import richdem as rd

    z = fractal_dem((60, 80), seed=3)
    z[30:34, 40:45] = np.nan  # a hole: richdem's values next to it differ by design (edges)
    out = terrain_stack(z, cell, cell)
    nodata = -1.0e300
    arr = rd.rdarray(np.where(np.isfinite(z), z, nodata), no_data=nodata)
    arr.geotransform = [0.0, cell, 0.0, 0.0, 0.0, -cell]
    ref = {
        name: np.asarray(rd.terrain_attribute(arr, name), np.float64)
        for name in ("slope_degrees", "aspect", "curvature")
    }
    valid = np.isfinite(z)
    complete = np.zeros_like(valid)
    complete[1:-1, 1:-1] = np.all(
        [valid[1 + dr : z.shape[0] - 1 + dr, 1 + dc : z.shape[1] - 1 + dc] for dr in (-1, 0, 1) for dc in (-1, 0, 1)],
        axis=0,
    )
    assert complete.sum() > 0.9 * z.size
    np.testing.assert_allclose(out[SLOPE][complete], ref["slope_degrees"][complete], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out[CURV][complete], ref["curvature"][complete], rtol=1e-5, atol=1e-3)
    diff = (out[ASPECT][complete] - ref["aspect"][complete] + 180.0) % 360.0 - 180.0
    np.testing.assert_allclose(diff, 0.0, atol=1e-3)


def test_bad_arguments():
    with pytest.raises(RasterError, match="2-D"):
        terrain_stack(np.zeros((2, 3, 4)), 10.0, 10.0)
    with pytest.raises(RasterError, match="positive"):
        terrain_stack(np.zeros((3, 3)), 0.0, 10.0)
    with pytest.raises(RasterError, match="one value per DEM row"):
        terrain_stack(np.zeros((3, 3)), np.ones(4), 10.0)


# ---------------------------------------------------------------------------------------------
# write_terrain
# ---------------------------------------------------------------------------------------------


def write_dem(path, z, crs="EPSG:32619", transform=None, nodata=None, units=None, **extra):
    z = np.asarray(z)
    if z.ndim == 2:
        z = z[None]
    transform = transform or from_origin(700000.0, 2050000.0, 10.0, 10.0)
    profile = dict(
        driver="GTiff", height=z.shape[1], width=z.shape[2], count=z.shape[0],
        dtype=z.dtype, crs=crs, transform=transform, nodata=nodata, **extra,
    )  # fmt: skip
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(z)
        if units:
            dst.units = [units] * z.shape[0]
    return path


def test_write_terrain_grid_bands_and_values(tmp_path):
    z = fractal_dem((600, 300), seed=1).astype(np.float32)
    z[100:120, 50:60] = -32768
    dem = write_dem(tmp_path / "dem.tif", z, nodata=-32768)
    out = write_terrain(dem, tmp_path / "sub" / "terrain.tif", strip_rows=256)
    assert out == tmp_path / "sub" / "terrain.tif"
    assert sorted(p.name for p in out.parent.iterdir()) == ["terrain.tif"]  # no temp files
    with rasterio.open(dem) as s_dem, rasterio.open(out) as s:
        assert s.count == 4
        assert s.descriptions == TERRAIN_BAND_NAMES
        assert TERRAIN_BAND_NAMES == ("elevation", "slope_deg", "curvature", "aspect_deg")
        assert s.crs == s_dem.crs and s.transform == s_dem.transform
        assert (s.height, s.width) == (s_dem.height, s_dem.width)
        assert set(s.dtypes) == {"float32"}
        assert np.isnan(s.nodata)
        assert s.profile["tiled"] and s.block_shapes[0] == (256, 256)
        assert s.compression is not None and s.compression.value.upper() == "DEFLATE"
        got = s.read()
    # Strip-wise processing equals one pass over the whole DEM.
    expected = terrain_stack(z, 10.0, 10.0, nodata=-32768)
    np.testing.assert_array_equal(got, expected)
    assert np.isnan(got[:, 110, 55]).all()


def test_write_terrain_geographic_dem(tmp_path):
    """A plane built in metres, stored in EPSG:4326 at latitude ~18, keeps its true slope."""
    a, b = 0.3, -0.4
    height, width, res = 300, 240, 1.0 / 3600.0
    lon0, lat0 = -66.60, 18.20
    rows, cols = np.mgrid[0:height, 0:width] + 0.5
    lon, lat = lon0 + cols * res, lat0 - rows * res
    to_m = Transformer.from_crs(
        "EPSG:4326", "+proj=tmerc +lat_0=18.16 +lon_0=-66.56 +k=1 +ellps=WGS84 +units=m",
        always_xy=True,
    )  # fmt: skip
    east, north = to_m.transform(lon, lat)
    z = (a * east + b * north + 600.0).astype(np.float64)
    dem = write_dem(tmp_path / "geo.tif", z, crs="EPSG:4326",
                    transform=from_origin(lon0, lat0, res, res))  # fmt: skip
    out = write_terrain(dem, tmp_path / "geo_terrain.tif")
    with rasterio.open(out) as s:
        assert s.crs.to_epsg() == 4326
        t = s.read()
    assert np.isfinite(t).all()
    np.testing.assert_allclose(t[SLOPE], slope_deg(a, b), rtol=0.01)
    assert np.abs(t[SLOPE] / slope_deg(a, b) - 1).max() < 1e-3  # in fact much better than 1 %
    np.testing.assert_allclose(t[ASPECT], facing_deg(a, b), atol=0.1)
    np.testing.assert_allclose(t[CURV], 0.0, atol=1e-3)
    # Processing in strips of 256 rows gives exactly the one-pass values.
    with rasterio.open(write_terrain(dem, tmp_path / "strips.tif", strip_rows=256)) as s:
        np.testing.assert_array_equal(s.read(), t)


def test_write_terrain_projected_feet(tmp_path):
    """EPSG:2263 (US survey feet): x/y steps are converted to metres; a 'ft' band unit too."""
    a, b = 0.2, 0.1
    x, y = grid_xy(30, 30, 30.0)  # ground metres
    ft = 1200.0 / 3937.0
    step_ft = 30.0 / ft
    tr = from_origin(1_000_000.0, 200_000.0, step_ft, step_ft)
    z_m = a * x + b * y + 100.0
    dem = write_dem(tmp_path / "ft.tif", z_m, crs="EPSG:2263", transform=tr)
    with rasterio.open(write_terrain(dem, tmp_path / "t1.tif")) as s:
        np.testing.assert_allclose(s.read(SLOPE + 1), slope_deg(a, b), atol=1e-3)
    dem_ft = write_dem(tmp_path / "ft2.tif", z_m / 0.3048, crs="EPSG:2263", transform=tr,
                       units="ft")  # fmt: skip
    with rasterio.open(write_terrain(dem_ft, tmp_path / "t2.tif")) as s:
        t = s.read()
    np.testing.assert_allclose(t[SLOPE], slope_deg(a, b), atol=1e-3)
    np.testing.assert_allclose(t[ELEV], z_m, rtol=1e-5)  # elevations written in metres


def test_write_terrain_multiband_needs_band(tmp_path):
    x, y = grid_xy(10, 10, 10.0)
    z = np.stack([np.zeros((10, 10)), 0.5 * x])
    dem = write_dem(tmp_path / "two.tif", z)
    with pytest.raises(RasterError, match=r"2 bands.*band=N"):
        write_terrain(dem, tmp_path / "t.tif")
    out = write_terrain(dem, tmp_path / "t.tif", band=2)
    with rasterio.open(out) as s:
        np.testing.assert_allclose(s.read(SLOPE + 1), slope_deg(0.5, 0.0), atol=1e-4)
    with pytest.raises(RasterError, match="band=3 does not exist"):
        write_terrain(dem, tmp_path / "t3.tif", band=3)


def test_write_terrain_errors(tmp_path):
    with pytest.raises(RasterError, match="does not exist"):
        write_terrain(tmp_path / "nope.tif", tmp_path / "t.tif")
    text = tmp_path / "notes.tif"
    text.write_text("this is not a raster\n")
    with pytest.raises(RasterError, match="cannot be read as a raster"):
        write_terrain(text, tmp_path / "t.tif")
    no_crs = write_dem(tmp_path / "nocrs.tif", np.ones((8, 8), np.float32), crs=None)
    with pytest.raises(RasterError, match="no coordinate reference system.*gdal_edit"):
        write_terrain(no_crs, tmp_path / "t.tif")
    with pytest.raises(RasterError, match="choose another output path"):
        write_terrain(no_crs, no_crs)
    # Corrupt: a compressed tiled GeoTIFF cut in half.
    good = write_dem(tmp_path / "good.tif", fractal_dem((512, 512)).astype(np.float32),
                     tiled=True, blockxsize=256, blockysize=256, compress="deflate")  # fmt: skip
    data = good.read_bytes()
    bad = tmp_path / "bad.tif"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(RasterError, match="corrupt|cannot be read"):
        write_terrain(bad, tmp_path / "out" / "t.tif")
    assert not any((tmp_path / "out").iterdir())  # temporary file removed
    assert not (tmp_path / "t.tif").exists()
