"""Tests of landslide_app.sources.inventory on tiny files written in tmp_path."""

from __future__ import annotations

import logging
import math

import geopandas as gpd
import numpy as np
import pytest
from pyproj import Transformer
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from landslide_app.errors import InventoryError
from landslide_app.sources.inventory import InventoryResult, read_inventory

UTM19 = "EPSG:32619"
#: Around Puerto Rico in UTM 19N (metres).
AREA = (700_000.0, 1_950_000.0, 900_000.0, 2_100_000.0)
LONLAT = [(-66.50, 18.20), (-66.40, 18.25), (-66.60, 18.15), (-66.00, 18.30)]
TO_UTM = Transformer.from_crs("EPSG:4326", UTM19, always_xy=True)


def meridian_arc_wgs84(lat_deg: float) -> float:
    """Meridian distance from the equator (Snyder 1987, eq. 3-21), independent of PROJ."""
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    e4, e6 = e2 * e2, e2 * e2 * e2
    p = math.radians(lat_deg)
    return a * (
        (1 - e2 / 4 - 3 * e4 / 64 - 5 * e6 / 256) * p
        - (3 * e2 / 8 + 3 * e4 / 32 + 45 * e6 / 1024) * math.sin(2 * p)
        + (15 * e4 / 256 + 45 * e6 / 1024) * math.sin(4 * p)
        - (35 * e6 / 3072) * math.sin(6 * p)
    )


def lonlat_gdf(points=LONLAT, **cols) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": [f"p{i}" for i in range(len(points))], **cols},
        geometry=[Point(xy) for xy in points],
        crs="EPSG:4326",
    )


def write_csv(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# formats
# ---------------------------------------------------------------------------------------------


def test_gpkg_lonlat_reprojected_to_utm(tmp_path):
    path = tmp_path / "heads.gpkg"
    lonlat_gdf().to_file(path, driver="GPKG", engine="pyogrio")
    res = read_inventory(path, UTM19, bounds=AREA)
    assert isinstance(res, InventoryResult)
    assert res.n_read == 4 and res.dropped == {} and res.converted == {}
    pts = res.points
    assert pts.crs.to_epsg() == 32619
    assert list(pts["id"]) == [0, 1, 2, 3]
    assert list(pts["name"]) == ["p0", "p1", "p2", "p3"]
    assert (pts.geometry.geom_type == "Point").all()
    ex, ey = TO_UTM.transform(*zip(*LONLAT))
    np.testing.assert_allclose(pts.geometry.x, ex, atol=1e-6)
    np.testing.assert_allclose(pts.geometry.y, ey, atol=1e-6)
    # Plausible magnitudes for Puerto Rico in UTM 19N.
    assert 740_000 < pts.geometry.x.iloc[0] < 790_000 and 2_000_000 < pts.geometry.y.iloc[0] < 2_030_000


def test_known_lonlat_to_utm19n_within_1m(tmp_path):
    """On zone 19's central meridian (69 W): E = 500 000 m, N = 0.9996 * meridian arc."""
    path = tmp_path / "cm.geojson"
    lonlat_gdf([(-69.0, 18.0), (-69.0, 18.5)]).to_file(path, driver="GeoJSON", engine="pyogrio")
    pts = read_inventory(path, 32619).points
    np.testing.assert_allclose(pts.geometry.x, 500_000.0, atol=1.0)
    expected_n = [0.9996 * meridian_arc_wgs84(18.0), 0.9996 * meridian_arc_wgs84(18.5)]
    np.testing.assert_allclose(pts.geometry.y, expected_n, atol=1.0)
    assert 1_985_000 < expected_n[0] < 1_995_000  # ~18 deg * 110.6 km/deg * 0.9996


def test_gpkg_in_utm_read_in_utm_and_lonlat(tmp_path):
    ex, ey = TO_UTM.transform(*zip(*LONLAT))
    gdf = gpd.GeoDataFrame({"k": range(4)}, geometry=gpd.points_from_xy(ex, ey), crs=UTM19)
    path = tmp_path / "utm.gpkg"
    gdf.to_file(path, driver="GPKG", engine="pyogrio")
    same = read_inventory(path, "EPSG:32619", bounds=AREA).points
    np.testing.assert_allclose(same.geometry.x, ex)
    back = read_inventory(path, 4326, bounds=(-67.5, 17.8, -65.2, 18.6)).points
    np.testing.assert_allclose(back.geometry.x, [p[0] for p in LONLAT], atol=1e-8)
    np.testing.assert_allclose(back.geometry.y, [p[1] for p in LONLAT], atol=1e-8)


def test_shapefile_and_geojson(tmp_path):
    shp = tmp_path / "heads.shp"
    lonlat_gdf().to_file(shp, engine="pyogrio")
    gj = tmp_path / "heads.geojson"
    lonlat_gdf().to_file(gj, driver="GeoJSON", engine="pyogrio")
    for path in (shp, gj):
        res = read_inventory(path, UTM19, bounds=AREA)
        assert res.n_read == 4 and len(res.points) == 4
        np.testing.assert_allclose(res.points.geometry.x, TO_UTM.transform(*zip(*LONLAT))[0])


@pytest.mark.parametrize(
    "header, sep",
    [
        ("longitude,latitude", ","),
        ("Longitude,Latitude", ","),
        ("LON,LAT", ","),
        ("long,lat", ","),
        ("Lng,Lat", ","),
        ("X,Y", ","),
        ("lon\tlat", "\t"),
    ],
)
def test_csv_column_detection(tmp_path, header, sep):
    lines = [f"id{sep}{header}{sep}note"] + [f"{i}{sep}{lon}{sep}{lat}{sep}n{i}" for i, (lon, lat) in enumerate(LONLAT)]
    path = write_csv(tmp_path / "heads.csv", "\n".join(lines) + "\n")
    res = read_inventory(path, UTM19, bounds=AREA)
    assert res.n_read == 4 and len(res.points) == 4
    ex, ey = TO_UTM.transform(*zip(*LONLAT))
    np.testing.assert_allclose(res.points.geometry.x, ex, atol=1e-6)
    np.testing.assert_allclose(res.points.geometry.y, ey, atol=1e-6)
    assert list(res.points["id"]) == [0, 1, 2, 3]
    assert "source_id" in res.points.columns  # the file's own 'id' column is kept, renamed


def test_csv_semicolon_decimal_comma_and_bom(tmp_path):
    text = "\ufeffLatitude;Longitude\n18,2;-66,5\n18,25;-66,4\n"
    path = tmp_path / "heads.csv"
    path.write_bytes(text.encode("utf-8"))
    res = read_inventory(path, 4326)
    np.testing.assert_allclose(res.points.geometry.x, [-66.5, -66.4])
    np.testing.assert_allclose(res.points.geometry.y, [18.2, 18.25])


def test_csv_explicit_columns_override(tmp_path):
    # 'x'/'y' here are garbage; the real lon/lat are in oddly named columns.
    text = "x,y,gx,gy\n1,2,-66.5,18.2\n3,4,-66.4,18.25\n"
    path = write_csv(tmp_path / "heads.csv", text)
    res = read_inventory(path, 4326, lon_col="GX", lat_col="gy")  # case-insensitive too
    np.testing.assert_allclose(res.points.geometry.x, [-66.5, -66.4])
    np.testing.assert_allclose(res.points.geometry.y, [18.2, 18.25])
    with pytest.raises(InventoryError, match=r"no column 'lonx'.*\['x', 'y', 'gx', 'gy'\].*--lon-col"):
        read_inventory(path, 4326, lon_col="lonx", lat_col="gy")


# ---------------------------------------------------------------------------------------------
# dropped / converted counts
# ---------------------------------------------------------------------------------------------


def test_vector_drop_and_convert_counts(tmp_path, caplog):
    geoms = [
        Point(-66.5, 18.2),  # 0 kept
        Point(-66.4, 18.25),  # 1 kept
        None,  # 2 empty geometry
        Point(),  # 3 empty geometry
        Point(-70.5, 18.2),  # 4 outside the area (valid)
        Point(-60.0, 10.0),  # 5 outside
        Point(-66.3, 18.1),  # 6 kept
        Polygon([(-66.21, 18.21), (-66.2, 18.21), (-66.2, 18.22), (-66.21, 18.22)]),  # 7 converted
        LineString([(-66.31, 18.31), (-66.30, 18.32)]),  # 8 converted
        MultiPoint([(-66.35, 18.35)]),  # 9 single-part multipoint: a point
        Point(-66.2, 95.0),  # 10 invalid: latitude out of range
    ]
    gdf = gpd.GeoDataFrame({"v": range(len(geoms))}, geometry=geoms, crs="EPSG:4326")
    path = tmp_path / "mixed.gpkg"
    gdf.to_file(path, driver="GPKG", engine="pyogrio")
    with caplog.at_level(logging.INFO, logger="landslide_app.sources.inventory"):
        res = read_inventory(path, UTM19, bounds=AREA)
    assert res.n_read == 11
    assert res.dropped == {"empty geometry": 2, "invalid coordinates": 1, "outside area": 2}
    assert res.converted == {"Polygon": 1, "LineString": 1}
    assert list(res.points["id"]) == [0, 1, 6, 7, 8, 9]
    assert res.n_read == len(res.points) + sum(res.dropped.values())
    assert (res.points.geometry.geom_type == "Point").all()
    # The polygon's point lies inside the polygon.
    poly_utm = gpd.GeoSeries([geoms[7]], crs=4326).to_crs(UTM19).iloc[0]
    assert poly_utm.contains(res.points.geometry.iloc[3])
    log = caplog.text
    assert "dropped 2 of 11 point(s): empty geometry" in log
    assert "dropped 2 of 11 point(s): outside area" in log
    assert "dropped 1 of 11 point(s): invalid coordinates" in log
    s = res.summary()
    assert "read 11" in s and "kept 6" in s and "dropped 5" in s and "2 outside area" in s
    assert "1 Polygon" in s and "EPSG:32619" in s


def test_csv_drop_counts(tmp_path):
    text = "\n".join(
        [
            "lon,lat",
            "-66.5,18.2",  # kept
            ",18.2",  # empty
            "-66.4,",  # empty
            "abc,18.2",  # invalid
            "-66.4,91",  # invalid (latitude)
            "-200,18",  # invalid (longitude)
            "-66.3,18.1",  # kept
            "-64.0,18.0",  # outside (east of the area)
            "nan,18.0",  # invalid (not finite)
        ]
    )
    path = write_csv(tmp_path / "heads.csv", text + "\n")
    res = read_inventory(path, UTM19, bounds=AREA)
    assert res.n_read == 9
    assert res.dropped == {"empty geometry": 2, "invalid coordinates": 4, "outside area": 1}
    assert list(res.points["id"]) == [0, 6]
    # Without bounds nothing is 'outside'.
    assert read_inventory(path, UTM19).dropped == {"empty geometry": 2, "invalid coordinates": 4}


# ---------------------------------------------------------------------------------------------
# errors
# ---------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(InventoryError, match="does not exist"):
        read_inventory(tmp_path / "nope.gpkg", UTM19)


def test_corrupt_vector_and_csv(tmp_path):
    bad = tmp_path / "heads.gpkg"
    bad.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(InventoryError, match="cannot be read as a vector file.*GeoPackage"):
        read_inventory(bad, UTM19)
    good = tmp_path / "good.gpkg"
    lonlat_gdf().to_file(good, driver="GPKG", engine="pyogrio")
    cut = tmp_path / "cut.gpkg"
    cut.write_bytes(good.read_bytes()[:2048])
    with pytest.raises(InventoryError, match="cannot be read|could not be read"):
        read_inventory(cut, UTM19)
    binary = tmp_path / "heads.csv"
    binary.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(InventoryError, match="cannot be read as a CSV|no recognisable"):
        read_inventory(binary, UTM19)


def test_csv_without_coordinate_columns(tmp_path):
    path = write_csv(tmp_path / "heads.csv", "site,easting_m,northing_m\na,1,2\n")
    with pytest.raises(InventoryError) as err:
        read_inventory(path, UTM19)
    msg = str(err.value)
    assert "['site', 'easting_m', 'northing_m']" in msg
    assert "--lon-col" in msg and "--lat-col" in msg


def test_zero_rows(tmp_path):
    header_only = write_csv(tmp_path / "h.csv", "lon,lat\n")
    with pytest.raises(InventoryError, match="no rows"):
        read_inventory(header_only, UTM19)
    blank = write_csv(tmp_path / "blank.csv", "")
    with pytest.raises(InventoryError, match="empty"):
        read_inventory(blank, UTM19)
    empty_gpkg = tmp_path / "empty.gpkg"
    lonlat_gdf().iloc[:0].to_file(empty_gpkg, driver="GPKG", engine="pyogrio")
    with pytest.raises(InventoryError, match="no rows/features"):
        read_inventory(empty_gpkg, UTM19)


def test_vector_without_crs(tmp_path):
    shp = tmp_path / "nocrs.shp"
    gdf = lonlat_gdf().set_crs(None, allow_override=True)
    with pytest.warns(UserWarning, match="crs"):
        gdf.to_file(shp, engine="pyogrio")
    assert not shp.with_suffix(".prj").exists()
    with pytest.raises(InventoryError, match="no coordinate reference system; set one"):
        read_inventory(shp, UTM19)


def test_all_points_outside(tmp_path):
    far = [(-100.0, 40.0), (-101.0, 41.0)]
    path = tmp_path / "far.gpkg"
    lonlat_gdf(far).to_file(path, driver="GPKG", engine="pyogrio")
    with pytest.raises(InventoryError) as err:
        read_inventory(path, UTM19, bounds=AREA)
    msg = str(err.value)
    assert "all 2 landslide points" in msg and "outside the area" in msg
    assert "swapped" not in msg


def test_swapped_lon_lat_is_detected(tmp_path):
    # CSV whose lon and lat columns hold each other's values.
    lines = ["lon,lat"] + [f"{lat},{lon}" for lon, lat in LONLAT]
    path = write_csv(tmp_path / "swapped.csv", "\n".join(lines) + "\n")
    with pytest.raises(InventoryError, match="longitude and latitude look swapped"):
        read_inventory(path, UTM19, bounds=AREA)
    # A vector file written in (lat, lon) axis order.
    gpkg = tmp_path / "swapped.gpkg"
    lonlat_gdf([(lat, lon) for lon, lat in LONLAT]).to_file(gpkg, driver="GPKG", engine="pyogrio")
    with pytest.raises(InventoryError, match="all 4 landslide points.*look swapped"):
        read_inventory(gpkg, UTM19, bounds=AREA)
    # Swapped values that leave latitudes out of range are invalid, still recognised as swapped.
    far_west = [(-120.5, 35.0), (-121.0, 36.0)]
    lines = ["longitude,latitude"] + [f"{lat},{lon}" for lon, lat in far_west]
    path = write_csv(tmp_path / "swapped2.csv", "\n".join(lines) + "\n")
    with pytest.raises(InventoryError, match="look swapped"):
        read_inventory(path, 4326)


def test_bad_bounds(tmp_path):
    path = tmp_path / "heads.gpkg"
    lonlat_gdf().to_file(path, driver="GPKG", engine="pyogrio")
    with pytest.raises(InventoryError, match="xmin < xmax"):
        read_inventory(path, UTM19, bounds=(900_000.0, 1_950_000.0, 700_000.0, 2_100_000.0))
