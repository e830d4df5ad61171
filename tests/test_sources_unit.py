"""Acquisition selection, retries, Planetary Computer error mapping (no network)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
import requests

from landslide_app.config import S1_DATES
from landslide_app.errors import PartialCoverageError, SigningError, SourceError
from landslide_app.sources import planetary
from landslide_app.sources.retry import RetryPolicy, call_with_retry, is_transient
from landslide_app.sources.stac import item_epsg, normalise_item, select_acquisitions


def _item(dt: datetime, orbit=135, state="ascending", idx=0, bbox=(-67.0, 18.0, -66.0, 18.5)):
    w, s, e, n = bbox
    return {
        "id": f"S1_{dt:%Y%m%dT%H%M%S}_{idx}",
        "bbox": list(bbox),
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {
            "datetime": dt.isoformat(),
            "sat:relative_orbit": orbit,
            "sat:orbit_state": state,
            "proj:code": "EPSG:32619",
        },
        "assets": {},
    }


def test_select_table1_days_grouping_slices_and_filtering_orbits():
    items = [_item(d, idx=k) for d in S1_DATES for k in range(2)]  # two slices a day
    items += [_item(datetime(2017, 9, 18, tzinfo=timezone.utc), orbit=62)]  # other orbit: ignored
    items += [_item(datetime(2017, 9, 19, tzinfo=timezone.utc), state="descending")]
    items += [_item(datetime(2017, 8, 11, tzinfo=timezone.utc))]  # older pre date: not among the last 3
    acqs = select_acquisitions(items)
    assert [str(a.day) for a in acqs] == [
        "2017-08-23",
        "2017-09-04",
        "2017-09-16",
        "2017-09-22",
        "2017-10-10",
        "2017-10-22",
    ]
    assert all(len(a.items) == 2 for a in acqs)
    assert [a.role for a in acqs] == ["pre"] * 3 + ["post"] * 3


def test_proj_code_is_turned_into_proj_epsg_for_stackstac():
    it = normalise_item(_item(S1_DATES[0]))
    assert it["properties"]["proj:epsg"] == 32619 and item_epsg(it) == 32619


def test_retry_survives_transient_faults_and_gives_up_with_clear_message():
    calls = {"n": 0}

    def flaky():
        calls["n"] += 1
        if calls["n"] < 4:
            raise OSError("HTTP response code: 503")
        return 42

    pol = RetryPolicy(attempts=5, sleep=lambda s: None)
    assert call_with_retry(flaky, pol, "x") == 42 and pol.faults_survived == 3
    pol = RetryPolicy(attempts=3, sleep=lambda s: None)
    with pytest.raises(SourceError, match="gave up reading thing after 3 attempts.*503"):
        call_with_retry(lambda: (_ for _ in ()).throw(OSError("HTTP response code: 503")), pol, "thing")
    # a non-transient error is not retried
    with pytest.raises(ValueError):
        call_with_retry(lambda: (_ for _ in ()).throw(ValueError("bad")), RetryPolicy(sleep=lambda s: None), "y")
    assert is_transient(TimeoutError()) and not is_transient(OSError("HTTP response code: 404"))


def test_expired_signature_triggers_resign():
    state = {"signed": False}

    def read():
        if not state["signed"]:
            raise OSError("HTTP response code: 403")
        return "ok"

    pol = RetryPolicy(sleep=lambda s: None)
    assert call_with_retry(read, pol, "z", on_expired=lambda: state.update(signed=True)) == "ok"


def test_signing_403_becomes_clear_error():
    resp = requests.Response()
    resp.status_code = 403

    def refuse(item):
        raise requests.HTTPError("403 Forbidden", response=resp)

    with pytest.raises(SigningError, match="PC_SDK_SUBSCRIPTION_KEY"):
        planetary.sign_items([_item(S1_DATES[0])], signer=refuse)


def test_partial_coverage_is_reported():
    full = (-67.0, 18.0, -66.0, 18.5)
    half = (-67.0, 18.0, -66.5, 18.5)
    days = [(S1_DATES[0].date(), [_item(S1_DATES[0], bbox=half)])]
    with pytest.raises(PartialCoverageError, match="Shrink --bbox"):
        planetary.check_coverage(days, [_item(S1_DATES[0], bbox=full)], full)
    planetary.check_coverage(
        [(S1_DATES[0].date(), [_item(S1_DATES[0], bbox=full)])], [_item(S1_DATES[0], bbox=full)], full
    )
    assert planetary.coverage_fraction([_item(S1_DATES[0], bbox=half)], full) == pytest.approx(0.5)


def test_sas_signatures_are_redacted_from_messages():
    from landslide_app.sources.retry import redact

    pol = RetryPolicy(attempts=2, sleep=lambda s: None)
    url = "http://acct.blob.core.windows.net/c/x.tif?st=2026-01-01&se=2026-01-02&sp=rl&sig=SECRET%2Bsig"
    with pytest.raises(SourceError) as err:
        call_with_retry(
            lambda: (_ for _ in ()).throw(OSError(f"Error opening '{url}': HTTP response code: 503")), pol, "x"
        )
    assert "SECRET" not in str(err.value) and "sig=REDACTED" in str(err.value) and "se=2026-01-02" in str(err.value)
    assert redact("no url here") == "no url here"


def test_strip_sas_only_touches_blob_hrefs():
    blob = "http://a.blob.core.windows.net/c/x.tif"
    assert planetary.strip_sas(blob + "?st=1&sig=2") == blob
    assert planetary.strip_sas("https://example.com/x.tif?v=1") == "https://example.com/x.tif?v=1"


def test_source_kinds_and_signing_defaults(tmp_path):
    from landslide_app.errors import ConfigError
    from landslide_app.sources.resolve import default_signing, is_stac_api_url, open_source

    assert is_stac_api_url("https://earth-search.aws.element84.com/v1")
    assert not is_stac_api_url("https://example.com/scene/catalog.json") and not is_stac_api_url("data/catalog.json")
    assert default_signing("planetary-computer") == "planetary-computer"
    assert default_signing("https://planetarycomputer.microsoft.com/api/stac/v1") == "planetary-computer"
    assert default_signing("https://earth-search.aws.element84.com/v1") == "none"
    with pytest.raises(ConfigError, match="needs --bbox"):
        open_source("https://earth-search.aws.element84.com/v1")
    with pytest.raises(ConfigError, match="needs --sign planetary-computer"):
        open_source("planetary-computer", (-67.0, 18.0, -66.0, 18.5), sign="none")
    with pytest.raises(ConfigError, match="applies to STAC APIs"):
        open_source(str(tmp_path / "catalog.json"), sign="planetary-computer")
