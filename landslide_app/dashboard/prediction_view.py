"""What the page shows of one prediction folder (``predict`` / ``respond`` output), free of widgets.

:class:`PredictionView` (read by :func:`read_prediction` from ``summary.json`` and ``chips.gpkg``):
chips coloured by predicted class or by the class-2 probability (a choropleth with its legend,
:func:`p2_legend`), km² per class, the chips most likely class 2 (sortable), the domain-shift
warning of ``summary.json``, and the files written (``density.tif``, ``chips.gpkg``, ``map.png``).
On an unlabelled store there is no true class to show, and the page offers none.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.dashboard.style import CLASS_COLOURS, FILL_OPACITY
from landslide_app.errors import InputError

#: Class-2 probability colour ramp (choropleth): light yellow to dark red.
P2_CMAP = "YlOrRd"
P2_STEPS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def _hex(rgba: tuple[float, ...]) -> str:
    r, g, b = (int(round(255 * c)) for c in rgba[:3])
    return f"#{r:02x}{g:02x}{b:02x}"


def p2_colour(p: float) -> str:
    from matplotlib import colormaps

    return _hex(colormaps[P2_CMAP](float(np.clip(p, 0.0, 1.0))))


def p2_legend() -> dict[str, str]:
    """Legend of the class-2 probability choropleth (bins of :data:`P2_STEPS`)."""
    return {f"p(class 2) {a:.1f}–{b:.1f}": p2_colour((a + b) / 2) for a, b in zip(P2_STEPS[:-1], P2_STEPS[1:])}


@dataclass
class PredictionView:
    """What the page shows of one prediction folder."""

    path: Path
    summary: dict[str, Any]
    by_class: dict[str, Any]
    by_p2: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)  # chip_id, pred_class, p0..p2, lon, lat

    @property
    def labelled(self) -> bool:
        return bool(self.summary.get("labelled"))

    @property
    def model_name(self) -> str:
        return str((self.summary.get("model") or {}).get("name") or self.summary.get("config") or "model")

    @property
    def files(self) -> dict[str, Path]:
        return {
            k: self.path / n
            for k, n in (
                ("GeoTIFF", "density.tif"),
                ("GeoPackage", "chips.gpkg"),
                ("map.png", "map.png"),
                ("summary", "summary.json"),
            )
            if (self.path / n).exists()
        }

    def shift_warning(self) -> str | None:
        shifted = (self.summary.get("domain_shift") or {}).get("shifted") or []
        if not shifted:
            return None
        names = ", ".join(str(s.get("channel")) for s in shifted)
        return (
            f"Domain shift: this area's inputs differ from the model's training data in {names}; the map may "
            "be unreliable (see summary.json → domain_shift; another orbit geometry, dB input or a DEM in feet "
            "cause this)"
        )

    def class_table_html(self) -> str:
        classes = self.summary.get("classes") or {}
        rows = "".join(
            f"<tr><td><span style='display:inline-block;width:10px;height:10px;background:"
            f"{CLASS_COLOURS.get(int(c), '#000')}'></span> {html.escape(str(v.get('name', c)))}</td>"
            f"<td style='text-align:right'>{v.get('chips', 0)}</td><td style='text-align:right'>{v.get('km2', 0):.1f}"
            "</td></tr>"
            for c, v in sorted(classes.items())
        )
        auc = self.summary.get("auc_out_of_area", self.summary.get("auc_vs_store_labels"))
        scored = "" if auc is None else f"<div>AUC against this store's labels: <b>{auc:.3f}</b></div>"
        return (
            f"<table class='ls-class-km2' style='font-size:12px'><tr><th>predicted class</th><th>chips</th>"
            f"<th>km²</th></tr>{rows}</table>{scored}"
        )

    def top(self, n: int = 20, sort: str = "p2") -> list[dict[str, Any]]:
        """The ``n`` chips most likely class 2 (``sort``: p2, chip_id or pred_class; p2 descending)."""
        key = {
            "p2": lambda r: (-r["p2"], r["chip_id"]),
            "chip_id": lambda r: r["chip_id"],
            "pred_class": lambda r: (-r["pred_class"], -r["p2"]),
        }[sort]
        best = sorted(self.rows, key=lambda r: (-r["p2"], r["chip_id"]))[:n]
        return sorted(best, key=key)


def chip_feature(geom: Any, props: dict[str, Any], style: dict[str, Any]) -> dict[str, Any]:
    """A chip's GeoJSON feature (id = chip id, coordinates rounded to 6 decimals) with its map style."""
    g = geom.__geo_interface__
    return {
        "type": "Feature",
        "id": int(props["chip_id"]),
        "geometry": _round(g),
        "properties": {**props, "style": style},
    }


def _round(g: dict[str, Any]) -> dict[str, Any]:
    def r(c: Any) -> Any:
        if isinstance(c, (list, tuple)) and c and isinstance(c[0], (int, float)):
            return [round(float(v), 6) for v in c]
        return [r(x) for x in c]

    return {"type": g["type"], "coordinates": r(g["coordinates"])}


def read_prediction(path: Path) -> PredictionView:
    """The view of a ``predict``/``respond`` output folder (``summary.json`` + ``chips.gpkg``)."""
    import geopandas as gpd

    try:
        summary = json.loads((path / "summary.json").read_text())
        native = gpd.read_file(path / "chips.gpkg")
        gdf = native.to_crs("EPSG:4326")
    except (OSError, ValueError) as exc:
        raise InputError(f"{path} is not a readable prediction ({exc}); rerun `landslide-app predict` into it") from exc
    by_class, by_p2, rows = [], [], []
    cent = native.geometry.centroid.to_crs("EPSG:4326")
    for k, rec in enumerate(gdf.itertuples(index=False)):
        c, p2 = int(rec.pred_class), float(rec.p2)
        props = {
            "chip_id": int(rec.chip_id),
            "class": c,
            "p2": round(p2, 3),
            "proba": [round(float(rec.p0), 3), round(float(rec.p1), 3), round(p2, 3)],
        }
        by_class.append(
            chip_feature(
                rec.geometry,
                props,
                {
                    "fillColor": CLASS_COLOURS.get(c, "#000"),
                    "color": "#333",
                    "weight": 0.6,
                    "fillOpacity": FILL_OPACITY.get(c, 0.4),
                },
            )
        )
        by_p2.append(
            chip_feature(
                rec.geometry, props, {"fillColor": p2_colour(p2), "color": "#333", "weight": 0.5, "fillOpacity": 0.65}
            )
        )
        rows.append(
            {
                "chip_id": int(rec.chip_id),
                "pred_class": c,
                "p0": float(rec.p0),
                "p1": float(rec.p1),
                "p2": p2,
                "lon": float(cent.iloc[k].x),
                "lat": float(cent.iloc[k].y),
            }
        )
    fc = {"type": "FeatureCollection"}
    return PredictionView(path, summary, {**fc, "features": by_class}, {**fc, "features": by_p2}, rows)
