"""The emulated Planetary Computer's STAC API documents (see
:mod:`landslide_app.testing.pc_emulator`): item search over the archive's items (``collections``,
``bbox``, ``datetime``, ``query``, ``ids``; newest first, as Planetary Computer), paged through
``next`` links (POST bodies or GET query strings), the landing page and the collections.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

API_PREFIX = "/api/stac/v1"
SAS_PREFIX = "/api/sas/v1/token"
CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]


def parse_dt(text: str, end: bool) -> datetime | None:
    if text in ("", ".."):
        return None
    if len(text) == 10:
        d = datetime.fromisoformat(text).replace(tzinfo=timezone.utc)
        return d + timedelta(days=1) - timedelta(microseconds=1) if end else d
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def matches_query(props: dict, query: dict) -> bool:
    ops: dict[str, Callable[[Any, Any], bool]] = {
        "eq": lambda a, b: a == b,
        "neq": lambda a, b: a != b,
        "lt": lambda a, b: a is not None and a < b,
        "lte": lambda a, b: a is not None and a <= b,
        "gt": lambda a, b: a is not None and a > b,
        "gte": lambda a, b: a is not None and a >= b,
        "in": lambda a, b: a in b,
    }
    for prop, conds in query.items():
        for op, value in conds.items():
            if op not in ops:
                raise ValueError(f"unsupported query operator {op!r}")
            if not ops[op](props.get(prop), value):
                return False
    return True


def search_items(items: dict[str, list[dict]], params: dict[str, Any]) -> tuple[list[dict], int]:
    """Items matching ``params`` (STAC item-search body) in API order, and the total."""
    colls = params.get("collections") or list(items)
    if isinstance(colls, str):
        colls = colls.split(",")
    bbox = params.get("bbox")
    if isinstance(bbox, str):
        bbox = [float(v) for v in bbox.split(",")]
    dt = params.get("datetime")
    lo = hi = None
    if dt:
        a, _, b = str(dt).partition("/")
        lo, hi = parse_dt(a, False), (parse_dt(b, True) if b else parse_dt(a, True))
        if not b:
            lo = parse_dt(a, False)
    query = params.get("query") or {}
    if isinstance(query, str):
        query = json.loads(query)
    ids = params.get("ids")
    out = []
    for coll in colls:
        for it in items.get(coll, []):
            if ids and it["id"] not in ids:
                continue
            if bbox:
                b = it["bbox"]
                if not (b[0] <= bbox[2] and bbox[0] <= b[2] and b[1] <= bbox[3] and bbox[1] <= b[3]):
                    continue
            when = parse_dt(it["properties"]["datetime"], False)
            if lo is not None and when is not None and when < lo:
                continue
            if hi is not None and when is not None and when > hi:
                continue
            if not matches_query(it["properties"], query):
                continue
            out.append(it)
    out.sort(key=lambda i: i["properties"]["datetime"], reverse=True)  # newest first, as Planetary Computer
    return out, len(out)


def search_page(
    items: dict[str, list[dict]], params: dict[str, Any], method: str, page_size: int, base: str
) -> tuple[dict, int]:
    """One page of a search (``token`` ``next:OFFSET``) with its ``next`` link, and its offset."""
    found, total = search_items(items, params)
    limit = min(int(params.get("limit") or page_size), page_size)
    token = params.get("token") or "next:0"
    offset = int(str(token).split(":", 1)[1])
    page = found[offset : offset + limit]
    links: list[dict[str, Any]] = [{"rel": "root", "href": base + "/", "type": "application/json"}]
    if offset + limit < total:
        nxt = f"next:{offset + limit}"
        if method == "POST":
            body = {k: v for k, v in params.items() if k != "token"}
            body["token"] = nxt
            links.append(
                {
                    "rel": "next",
                    "href": base + "/search",
                    "method": "POST",
                    "body": body,
                    "merge": False,
                    "type": "application/geo+json",
                }
            )
        else:
            q = {
                k: (json.dumps(v) if isinstance(v, dict) else ",".join(map(str, v)) if isinstance(v, list) else v)
                for k, v in params.items()
                if k != "token"
            }
            q["token"] = nxt
            href = base + "/search?" + "&".join(f"{k}={quote(str(v))}" for k, v in q.items())
            links.append({"rel": "next", "href": href, "method": "GET", "type": "application/geo+json"})
    features = [dict(i, links=[{"rel": "collection", "href": f"{base}/collections/{i['collection']}"}]) for i in page]
    doc = {
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "numberMatched": total,
        "numberReturned": len(page),
    }
    return doc, offset


def landing(base: str, collections: Iterable[str]) -> dict:
    """The landing page: conformance, search links, one child a collection."""
    return {
        "type": "Catalog",
        "id": "microsoft-pc-emulated",
        "stac_version": "1.0.0",
        "description": "Offline emulation of the Microsoft Planetary Computer STAC API",
        "conformsTo": CONFORMANCE,
        "links": [
            {"rel": "self", "href": base + "/", "type": "application/json"},
            {"rel": "root", "href": base + "/", "type": "application/json"},
            {"rel": "data", "href": base + "/collections", "type": "application/json"},
            {"rel": "conformance", "href": base + "/conformance", "type": "application/json"},
            {"rel": "search", "href": base + "/search", "type": "application/geo+json", "method": "GET"},
            {"rel": "search", "href": base + "/search", "type": "application/geo+json", "method": "POST"},
            *[{"rel": "child", "href": f"{base}/collections/{c}", "type": "application/json"} for c in collections],
        ],
    }


def collection_doc(base: str, cid: str) -> dict:
    """A collection's document (an extent covering the world, as the archive is tiny)."""
    return {
        "type": "Collection",
        "id": cid,
        "stac_version": "1.0.0",
        "description": cid,
        "license": "proprietary",
        "extent": {"spatial": {"bbox": [[-180, -90, 180, 90]]}, "temporal": {"interval": [[None, None]]}},
        "links": [
            {"rel": "root", "href": base + "/"},
            {"rel": "self", "href": f"{base}/collections/{cid}"},
            {"rel": "items", "href": f"{base}/collections/{cid}/items"},
        ],
    }
