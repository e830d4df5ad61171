"""Event / orbit / pre / post acquisition choice (issue 11) on hand-built item lists and catalogs."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from landslide_app.config import S1_DATES, S1_PLATFORMS
from landslide_app.errors import ConfigError, NoItemsFoundError
from landslide_app.sources.selection import AcquisitionRequest, parse_orbit, select_acquisitions

WEST, EAST = (-67.0, 18.0, -66.4, 18.5), (-66.6, 18.0, -66.0, 18.5)
AREA = (-66.9, 18.1, -66.1, 18.4)


def _item(
    dt: datetime,
    orbit: int = 135,
    state: str = "ascending",
    bbox=(-67.0, 18.0, -66.0, 18.5),
    platform: str = "SENTINEL-1A",
    idx: int = 0,
) -> dict:
    w, s, e, n = bbox
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": f"S1_{orbit}_{dt:%Y%m%dT%H%M%S}_{idx}",
        "bbox": list(bbox),
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {
            "datetime": dt.isoformat().replace("+00:00", "Z"),
            "sat:relative_orbit": orbit,
            "sat:orbit_state": state,
            "platform": platform,
            "proj:epsg": 32619,
        },
        "assets": {},
        "links": [],
    }


def _pass(
    day: date, orbit: int, state: str, hour: int, platform: str = "SENTINEL-1A", halves: bool = True
) -> list[dict]:
    """One pass: two overlapping slices (west, east) a few seconds apart, or one west slice."""
    t = datetime(day.year, day.month, day.day, hour, 36, 10, tzinfo=timezone.utc)
    out = [_item(t, orbit, state, WEST, platform, 0)]
    if halves:
        out.append(_item(t + timedelta(seconds=25), orbit, state, EAST, platform, 1))
    return out


def _table1_items() -> list[dict]:
    items = []
    for when, plat in zip(S1_DATES, S1_PLATFORMS):
        items += _pass(when.date(), 135, "ascending", 22, plat.upper())
    return items


def _descending(first: date, n: int, step: int = 12) -> list[dict]:
    return [i for k in range(n) for i in _pass(first + timedelta(days=k * step), 98, "descending", 10)]


def test_defaults_reproduce_table1_with_datetimes_platforms_and_roles():
    items = _table1_items() + _descending(date(2017, 8, 20), 8)
    acqs = select_acquisitions(items, AcquisitionRequest(), AREA)
    assert [a.day for a in acqs] == [d.date() for d in S1_DATES]
    assert [a.platform for a in acqs] == list(S1_PLATFORMS)
    assert [a.role for a in acqs] == ["pre", "pre", "pre", "post", "post", "post"]
    assert {(a.relative_orbit, a.orbit_state) for a in acqs} == {(135, "ascending")}
    assert acqs[0].datetime == datetime(2017, 8, 23, 22, 36, 10, tzinfo=timezone.utc)  # the first slice's start
    assert all(len(a.items) == 2 for a in acqs)  # both slices of the pass, to be mosaicked
    rec = acqs[3].to_dict()
    assert rec["platform"] == "sentinel-1b" and rec["role"] == "post" and rec["datetime"].startswith("2017-09-22T22:36")


def test_auto_orbit_takes_the_earliest_full_post_event_pass_and_says_why(caplog):
    # orbit 98 descending passes on 2017-09-21 (one day after the event), 135 ascending on 09-22
    items = _table1_items() + _descending(date(2017, 8, 16), 8)
    with caplog.at_level(logging.INFO, logger="landslide_app.sources.selection"):
        acqs = select_acquisitions(items, AcquisitionRequest(orbit="auto", orbit_state="auto"), AREA)
    assert {(a.relative_orbit, a.orbit_state) for a in acqs} == {(98, "descending")}
    assert [str(a.day) for a in acqs if a.role == "post"] == ["2017-09-21", "2017-10-03", "2017-10-15"]
    assert [str(a.day) for a in acqs if a.role == "pre"] == ["2017-08-16", "2017-08-28", "2017-09-09"]
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "picked relative orbit 98 (descending)" in msg and "2017-09-21" in msg and "relative orbit 135" in msg


def test_auto_orbit_skips_an_orbit_whose_post_pass_covers_only_part_of_the_area():
    items = _table1_items()
    # orbit 98: earlier post-event pass, but only the west slice on 09-21 (half the area)
    for k in range(8):
        d = date(2017, 8, 16) + timedelta(days=12 * k)
        items += _pass(d, 98, "descending", 10, halves=(d != date(2017, 9, 21)))
    acqs = select_acquisitions(items, AcquisitionRequest(orbit="auto", orbit_state="auto"), AREA)
    # 98's first full post pass is 10-03, later than 135's 09-22: 135 wins
    assert {a.relative_orbit for a in acqs} == {135}
    # without an area (a catalog made for it) the partial day counts and 98 wins
    acqs = select_acquisitions(items, AcquisitionRequest(orbit="auto", orbit_state="auto"))
    assert {a.relative_orbit for a in acqs} == {98} and acqs[3].day == date(2017, 9, 21)


def test_orbit_state_restricts_auto_candidates():
    items = _table1_items() + _descending(date(2017, 8, 16), 8)
    acqs = select_acquisitions(items, AcquisitionRequest(orbit="auto", orbit_state="ascending"), AREA)
    assert {(a.relative_orbit, a.orbit_state) for a in acqs} == {(135, "ascending")}
    acqs = select_acquisitions(items, AcquisitionRequest(orbit=98, orbit_state="auto"), AREA)
    assert {(a.relative_orbit, a.orbit_state) for a in acqs} == {(98, "descending")}


def test_fewer_post_passes_than_asked_returns_what_exists(caplog):
    items = _table1_items()[:8]  # 3 pre + 1 post (2017-09-22)
    acqs = select_acquisitions(items, AcquisitionRequest(), AREA)
    assert [a.role for a in acqs] == ["pre"] * 3 + ["post"] and acqs[-1].day == date(2017, 9, 22)
    with caplog.at_level(logging.WARNING):
        acqs = select_acquisitions(items, AcquisitionRequest(n_post=3), AREA)
    assert len(acqs) == 4 and "1 post-event acquisition(s)" in caplog.text
    acqs = select_acquisitions(_table1_items(), AcquisitionRequest(n_pre=1, n_post=2), AREA)
    assert [str(a.day) for a in acqs] == ["2017-09-16", "2017-09-22", "2017-10-10"]


def test_no_post_event_pass_yet_says_when_the_next_is_expected():
    items = _table1_items()[:6]  # three pre-event passes only: 08-23, 09-04, 09-16 (12-day repeat)
    with pytest.raises(
        NoItemsFoundError,
        match=r"no Sentinel-1 acquisition over the area after 2017-09-20 yet; "
        r"the first pass of orbit 135 \(ascending\) is expected on 2017-09-28",
    ):
        select_acquisitions(items, AcquisitionRequest(), AREA)
    # with both satellites the orbit repeats every 6 days: inferred from the data
    items = [i for k in range(4) for i in _pass(date(2017, 8, 29) + timedelta(days=6 * k), 135, "ascending", 22)]
    with pytest.raises(NoItemsFoundError, match=r"expected on 2017-09-22 \(6-day repeat after 2017-09-16\)"):
        select_acquisitions(items, AcquisitionRequest(), AREA)


def test_missing_pre_dates_and_unknown_orbit_are_clear_errors():
    items = _table1_items()[2:]  # 2 pre-event passes
    with pytest.raises(NoItemsFoundError, match=r"fewer than 3 pre-event.*2017-09-04.*--pre"):
        select_acquisitions(items, AcquisitionRequest(), AREA)
    assert len(select_acquisitions(items, AcquisitionRequest(n_pre=2), AREA)) == 5
    with pytest.raises(NoItemsFoundError, match=r"relative orbit 99.*orbit 135 ascending.*--orbit auto"):
        select_acquisitions(items, AcquisitionRequest(orbit=99), AREA)


def test_event_day_pass_is_neither_pre_nor_post():
    items = _table1_items() + _pass(date(2017, 9, 20), 135, "ascending", 22)
    acqs = select_acquisitions(items, AcquisitionRequest(), AREA)
    assert date(2017, 9, 20) not in [a.day for a in acqs] and len(acqs) == 6


def test_request_validation():
    with pytest.raises(ConfigError, match="--post 4"):
        AcquisitionRequest(n_post=4)
    with pytest.raises(ConfigError, match="--orbit-state"):
        AcquisitionRequest(orbit_state="sideways")
    with pytest.raises(ConfigError, match="relative orbit number"):
        parse_orbit("north")
    assert parse_orbit("auto") == "auto" and parse_orbit("98") == 98


def _write_catalog(root: Path, items: list[dict]) -> Path:
    """A tiny self-contained STAC catalog: the given SAR items plus one DEM item."""
    import pystac

    cat = pystac.Catalog("c", "test catalog")
    s1 = pystac.Collection(
        "sentinel-1-rtc",
        "s1",
        pystac.Extent(pystac.SpatialExtent([[-67, 18, -66, 18.5]]), pystac.TemporalExtent([[None, None]])),
    )
    dem = pystac.Collection(
        "dem", "dem", pystac.Extent(pystac.SpatialExtent([[-67, 18, -66, 18.5]]), pystac.TemporalExtent([[None, None]]))
    )
    for d in items:
        d = json.loads(json.dumps(d))
        d["assets"] = {"vv": {"href": "vv.tif"}, "vh": {"href": "vh.tif"}}
        s1.add_item(pystac.Item.from_dict(d))
    e = _item(datetime(2000, 2, 11, tzinfo=timezone.utc))
    e["id"], e["assets"] = "dem", {"elevation": {"href": "dem.tif"}}
    dem.add_item(pystac.Item.from_dict(e))
    cat.add_children([s1, dem])
    cat.normalize_and_save(str(root), pystac.CatalogType.SELF_CONTAINED)
    return root / "catalog.json"


def test_local_catalog_with_two_orbits_selects_through_the_same_rule(tmp_path):
    from landslide_app.sources.stac import open_local_catalog

    path = _write_catalog(tmp_path / "cat", _table1_items() + _descending(date(2017, 8, 16), 8))
    src = open_local_catalog(path)  # defaults: Table 1
    assert [a.day for a in src.acquisitions] == [d.date() for d in S1_DATES]
    assert src.n_pre == 3 and src.relative_orbit == 135 and src.event_date == date(2017, 9, 20)
    assert [d for d, _ in src.sar_days] == [a.day for a in src.acquisitions]
    src = open_local_catalog(path, AcquisitionRequest(date(2017, 9, 20), "auto", "auto", 2, 1))
    assert [(str(a.day), a.role, a.relative_orbit) for a in src.acquisitions] == [
        ("2017-08-28", "pre", 98),
        ("2017-09-09", "pre", 98),
        ("2017-09-21", "post", 98),
    ]


def test_local_catalog_with_a_bbox_skips_partly_covering_days_like_an_api(tmp_path):
    from landslide_app.sources.stac import open_local_catalog

    items = _table1_items()
    for k in range(8):
        d = date(2017, 8, 16) + timedelta(days=12 * k)
        items += _pass(d, 98, "descending", 10, halves=(d != date(2017, 9, 21)))
    path = _write_catalog(tmp_path / "cat", items)
    req = AcquisitionRequest(orbit="auto", orbit_state="auto")
    assert {a.relative_orbit for a in open_local_catalog(path, req).acquisitions} == {98}  # no area: 09-21 counts
    src = open_local_catalog(path, req, bbox=AREA)
    assert {a.relative_orbit for a in src.acquisitions} == {135}
    # a box larger than the catalog's DEM is judged on the part the catalog covers
    src = open_local_catalog(path, req, bbox=(-68.0, 17.0, -65.0, 19.0))
    assert {a.relative_orbit for a in src.acquisitions} == {135}
