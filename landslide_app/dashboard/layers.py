"""ipyleaflet layers of the map: hillshade, chip grid, heads heatmap, embedding overlay, legend.

Everything drawn here is rendered on the server (PNG data URLs, GeoJSON dicts), so the map
works offline; the OpenStreetMap basemap is optional and off by default.
"""

from __future__ import annotations

import logging
from pathlib import Path

import ipyleaflet
import ipywidgets as W
import numpy as np

from landslide_app.dashboard.rendering import (
    EMPTY_PNG_URL,
    data_url,
    lonlat_bounds,
    png_bytes,
    terrain_rgba,
    to_web_mercator,
)
from landslide_app.dashboard.style import CLASS_COLOURS
from landslide_app.dashboard.viewcache import CachedView, SharedViewCache, cache_near

log = logging.getLogger(__name__)

MAX_OVERLAY_PX = 1600


def hillshade_image(dem_path: Path) -> CachedView:
    """The DEM hillshaded and warped to Web Mercator (at most ``MAX_OVERLAY_PX``): blob
    ``hillshade.png``, meta ``bounds``."""
    import rasterio
    from rasterio.enums import Resampling

    with rasterio.open(dem_path) as ds:
        f = max(1, int(np.ceil(max(ds.width, ds.height) / MAX_OVERLAY_PX)))
        h, w = ds.height // f, ds.width // f
        z = ds.read(1, out_shape=(h, w), resampling=Resampling.average).astype(float)
        if ds.nodata is not None:
            z[z == ds.nodata] = np.nan
        transform = ds.transform @ ds.transform.scale(ds.width / w, ds.height / h)
        cell = abs(transform.a)
        crs = ds.crs.to_string()
        if ds.crs.is_geographic:  # shade with metres, draw with degrees
            cell *= 111_320 * np.cos(np.deg2rad((ds.bounds.top + ds.bounds.bottom) / 2))
    rgba = (terrain_rgba(z, cell) * 255).astype(np.uint8)
    try:
        img, bounds = to_web_mercator(rgba, transform, crs, max_px=MAX_OVERLAY_PX)
    except Exception as exc:  # noqa: BLE001 - an unwarped hillshade is better than none
        log.warning("hillshade not warped to Web Mercator: %s", exc)
        from rasterio.transform import array_bounds

        img, bounds = rgba, lonlat_bounds(array_bounds(h, w, transform), crs)
    return CachedView(meta={"bounds": bounds}, blobs={"hillshade.png": png_bytes(img)})


def hillshade_layer(dem_path: Path, cache: SharedViewCache | None = None) -> tuple[ipyleaflet.ImageOverlay, tuple]:
    """The DEM's hillshade overlay (:func:`hillshade_image`), computed once for every session:
    kept in ``cache`` (default: the shared view cache of the DEM's workspace, see
    :func:`~landslide_app.dashboard.viewcache.cache_near`)."""
    dem_path = Path(dem_path)
    cache = cache if cache is not None else cache_near(dem_path)
    v = cache.get("hillshade", dem_path.stem, [dem_path], lambda: hillshade_image(dem_path), params=MAX_OVERLAY_PX)
    (s, w), (n, e) = v.meta["bounds"]
    bounds = ((s, w), (n, e))
    layer = ipyleaflet.ImageOverlay(url=data_url(v.blobs["hillshade.png"]), bounds=bounds, name="DEM hillshade")
    return layer, bounds


def chip_layer(data: dict, name: str = "chips") -> ipyleaflet.GeoJSON:
    """Chip polygons; styles are baked into each feature (``properties.style``) by the state."""
    return ipyleaflet.GeoJSON(data=data, name=name, hover_style={"weight": 2.5, "color": "#000", "fillOpacity": 0.6})


def selected_chip_layer() -> ipyleaflet.GeoJSON:
    """The outline of the chip open in the inspector."""
    return ipyleaflet.GeoJSON(
        data={"type": "FeatureCollection", "features": []},
        name="selected chip",
        style={"color": "#00e5ff", "weight": 3, "fill": False, "fillOpacity": 0},
    )


def heads_layer(inventory_path: Path, max_points: int | None = None) -> ipyleaflet.Heatmap:
    """Landslide heads as one heatmap layer (a canvas: ~70k points stay fluid)."""
    import pyogrio

    df = pyogrio.read_dataframe(inventory_path)
    if df.crs is not None and df.crs.to_epsg() != 4326:
        df = df.to_crs("EPSG:4326")
    pts = np.round(np.column_stack([df.geometry.y.to_numpy(), df.geometry.x.to_numpy()]), 5)
    pts = pts[np.isfinite(pts).all(axis=1)]
    if max_points and len(pts) > max_points:
        pts = pts[np.random.default_rng(0).choice(len(pts), max_points, replace=False)]
    # leaflet.heat scales each point by 2^-(max_zoom - zoom): max_zoom 12 keeps heads visible at
    # the island-wide view (zoom ~10-12) instead of fading them 64-fold; max 4: hot spots stand
    # out, single heads stay faint
    return ipyleaflet.Heatmap(
        locations=pts.tolist(),
        radius=5,
        blur=6,
        max=4.0,
        max_zoom=12,
        min_opacity=0.1,
        name=f"landslide heads ({len(pts)})",
    )


def embedding_layer() -> ipyleaflet.ImageOverlay:
    """The embedding mosaic of the selected configuration (URL and bounds set per configuration)."""
    return ipyleaflet.ImageOverlay(url=EMPTY_PNG_URL, bounds=((0, 0), (0, 0)), opacity=0.75, name="embedding mosaic")


def legend_control(labels: dict[int, str]) -> ipyleaflet.LegendControl:
    return ipyleaflet.LegendControl(
        {labels[k]: v for k, v in CLASS_COLOURS.items()}, title="Density class", position="bottomright"
    )


def colourbar_html(rng: tuple[float, float] | None, title: str = "embedding") -> str:
    """A small magma colour bar for the embedding overlay."""
    if rng is None:
        return f"<div style='font-size:11px;padding:2px 4px'>{title}: not computed</div>"
    from matplotlib import colormaps

    stops = ",".join(
        "#{:02x}{:02x}{:02x}".format(*(int(255 * c) for c in colormaps["magma"](x)[:3])) for x in np.linspace(0, 1, 6)
    )
    return (
        "<div style='font-size:11px;padding:2px 6px;background:rgba(255,255,255,.85)'>"
        f"{title}<div style='width:140px;height:10px;background:linear-gradient(to right,{stops})'></div>"
        f"<span>{rng[0]:.2f}</span><span style='float:right'>{rng[1]:.2f}</span></div>"
    )


def basemap_layer() -> ipyleaflet.TileLayer:
    """OpenStreetMap tiles (needs internet; off by default)."""
    return ipyleaflet.basemap_to_tiles(ipyleaflet.basemaps.OpenStreetMap.Mapnik)


def map_widget(bounds) -> ipyleaflet.Map:
    """An empty map (no online basemap) fitted to ``bounds`` ((south, west), (north, east)).

    Its height stays 620 px (``flex: 0 0 auto``): jupyter-leaflet's stylesheet gives the map
    ``flex: 1 1 auto``, so in a column beside a taller panel it grew and shrank with that panel
    (the responder's tabs), and Leaflet, which measures its container again only on a window
    resize or a widget resize message, kept the size it first saw: ``fit_bounds`` then centred the
    area on that size, not on the map shown.
    """
    (s, w), (n, e) = bounds
    m = ipyleaflet.Map(
        center=((s + n) / 2, (w + e) / 2),
        zoom=fit_zoom(bounds),
        zoom_snap=0.25,
        scroll_wheel_zoom=True,
        layout=W.Layout(height="620px", width="100%", flex="0 0 auto"),
    )
    for layer in list(m.layers):  # the default online basemap: added on request only
        m.remove(layer)
    return m


def fit_zoom(bounds, width_px: int = 1000, height_px: int = 600) -> float:
    """The largest web-map zoom (in quarter levels) at which ``bounds`` fit in ``width_px`` x
    ``height_px`` (computed here: ``Map.fit_bounds`` needs a rendered map)."""
    (s, w), (n, e) = bounds

    def merc_y(lat: float) -> float:
        return np.log(np.tan(np.pi / 4 + np.deg2rad(lat) / 2))

    zx = np.log2(width_px * 360.0 / (256.0 * max(e - w, 1e-9)))
    zy = np.log2(height_px * 2 * np.pi / (256.0 * max(merc_y(n) - merc_y(s), 1e-12)))
    return float(np.clip(np.floor(4 * min(zx, zy)) / 4, 1, 18))
