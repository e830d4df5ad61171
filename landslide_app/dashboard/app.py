"""The dashboard application: an ipyleaflet map of the scene with its chips and landslide heads.

Layers: DEM hillshade (offline, rendered here), the chip grid coloured by density class, the
landslide heads as a heatmap (one layer for all points, scales to ~70k heads), a legend and a
layer control. Errors are shown as a message in the page, never as a traceback.
"""

from __future__ import annotations

import html
import logging
from pathlib import Path

import ipyleaflet
import ipywidgets as W
import numpy as np

from landslide_app.dashboard.rendering import lonlat_bounds, png_data_url, terrain_rgba
from landslide_app.demo import DemoPaths
from landslide_app.errors import LandslideAppError

log = logging.getLogger(__name__)

CLASS_COLOURS = {0: "#9e9e9e", 1: "#fdae61", 2: "#d7191c"}
CLASS_NAMES = {0: "0: no landslide", 1: "1: 1–25 /km²", 2: "2: > 25 /km²"}
MAX_OVERLAY_PX = 1600


def message(text: str, kind: str = "error") -> W.HTML:
    """A message box for the page (errors never appear as tracebacks)."""
    colour = {"error": "#b71c1c", "info": "#0d47a1", "ok": "#1b5e20"}[kind]
    return W.HTML(f'<div style="padding:8px;border-left:4px solid {colour};color:{colour}">{html.escape(text)}</div>')


def hillshade_layer(dem_path: Path) -> tuple[ipyleaflet.ImageOverlay, tuple]:
    """The DEM as a hillshaded image overlay (decimated to at most ``MAX_OVERLAY_PX`` wide)."""
    import rasterio
    from rasterio.enums import Resampling

    with rasterio.open(dem_path) as ds:
        f = max(1, int(np.ceil(max(ds.width, ds.height) / MAX_OVERLAY_PX)))
        z = ds.read(1, out_shape=(ds.height // f, ds.width // f), resampling=Resampling.average).astype(float)
        if ds.nodata is not None:
            z[z == ds.nodata] = np.nan
        cell = abs(ds.transform.a) * f
        bounds = lonlat_bounds(tuple(ds.bounds), ds.crs.to_string())
    layer = ipyleaflet.ImageOverlay(url=png_data_url(terrain_rgba(z, cell)), bounds=bounds, name="DEM hillshade")
    return layer, bounds


def chip_layer(index, colour_by: str = "density_class") -> ipyleaflet.GeoJSON:
    """Chip polygons coloured by class (``density_class`` = true, ``pred_class`` = predicted)."""
    gdf = index.to_crs("EPSG:4326")
    data = gdf.__geo_interface__

    def style(feature):
        c = int(feature["properties"].get(colour_by, 0))
        return {"fillColor": CLASS_COLOURS.get(c, "#000"), "color": "#333", "weight": 0.5, "fillOpacity": 0.35}

    return ipyleaflet.GeoJSON(data=data, style_callback=style, name="chips (true class)",
                              hover_style={"weight": 2, "color": "#000"})


def heads_layer(inventory_path: Path, max_points: int | None = None) -> ipyleaflet.Heatmap:
    """Landslide heads as one heatmap layer."""
    import geopandas as gpd

    heads = gpd.read_file(inventory_path).to_crs("EPSG:4326")
    pts = np.column_stack([heads.geometry.y, heads.geometry.x])
    if max_points and len(pts) > max_points:
        pts = pts[np.random.default_rng(0).choice(len(pts), max_points, replace=False)]
    return ipyleaflet.Heatmap(locations=pts.tolist(), radius=4, blur=6, max=1.0, min_opacity=0.2, name="landslide heads")


def legend_control() -> ipyleaflet.LegendControl:
    return ipyleaflet.LegendControl({CLASS_NAMES[k]: v for k, v in CLASS_COLOURS.items()},
                                    title="Density class", position="bottomright")


def build_app(data_dir: str | Path = "data/demo") -> W.Widget:
    """Build the dashboard for the demo artifacts under ``data_dir``."""
    from landslide_app.chips.store import ChipStore

    paths = DemoPaths(Path(data_dir))
    title = W.HTML("<h2 style='margin:4px 0'>Landslide density — Hurricane María demo scene</h2>")
    try:
        hill, ((s, w), (n, e)) = hillshade_layer(paths.dem)
        store = ChipStore.open(paths.chips)
        m = ipyleaflet.Map(center=((s + n) / 2, (w + e) / 2), zoom=11, scroll_wheel_zoom=True,
                           basemap=ipyleaflet.basemaps.OpenStreetMap.Mapnik, layout=W.Layout(height="620px"))
        m.layers[0].visible = False  # online basemap off by default: the page works offline
        m.add(hill)
        m.add(chip_layer(store.index))
        m.add(heads_layer(paths.inventory))
        m.add(legend_control())
        m.add(ipyleaflet.LayersControl(position="topright"))
        m.fit_bounds([[s, w], [n, e]])
        info = store.info()
        summary = W.HTML(
            f"{info['n_chips']} chips of {info['chip_size']}×{info['chip_size']} px ({info['crs']}), "
            f"{info['n_heads']} landslide heads; classes {info['class_counts']}"
        )
        return W.VBox([title, summary, m])
    except LandslideAppError as exc:
        return W.VBox([title, message(str(exc))])
    except Exception as exc:  # noqa: BLE001 - the page shows a message, never a traceback
        log.exception("dashboard failed")
        return W.VBox([title, message(f"The dashboard could not start: {exc}. Run `make demo` to prepare the data.")])
