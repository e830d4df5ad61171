"""The dashboard's presentation in one place: colours, class and baseline labels, number formats.

The table's row names are the report's (:mod:`landslide_app.experiments.report`) and the baseline
titles the shared vocabulary's (:data:`landslide_app.core.vocabulary.BASELINE_TITLES`), so
``table.md`` and the dashboard say the same thing.
"""

from __future__ import annotations

from landslide_app.core.vocabulary import BASELINE_TITLES
from landslide_app.experiments.report import ROW_NAMES, fmt_auc

__all__ = [
    "BASELINE_LABELS",
    "BASELINE_ORDER",
    "BASELINE_TITLES",
    "CLASS_COLOURS",
    "CLASS_CURVE_COLOURS",
    "FILL_OPACITY",
    "MESSAGE_COLOURS",
    "ROW_NAMES",
    "fmt_auc",
]

#: Chip fill colour per density class (map, legend, probability bars).
CLASS_COLOURS: dict[int, str] = {0: "#9e9e9e", 1: "#fdae61", 2: "#d7191c"}
#: Class 0 chips light, so the terrain and the hot spots show through.
FILL_OPACITY: dict[int, float] = {0: 0.15, 1: 0.4, 2: 0.5}
#: Per-class one-vs-rest ROC curves.
CLASS_CURVE_COLOURS: dict[int, str] = {0: "#757575", 1: "#f28e2b", 2: "#d7191c"}
#: Status messages of the page.
MESSAGE_COLOURS: dict[str, str] = {"error": "#b71c1c", "info": "#0d47a1", "ok": "#1b5e20", "warn": "#e65100"}
#: Baselines in the order the panels list them.
BASELINE_ORDER: tuple[str, ...] = ("slope", "change_ratio", "sar_stats")
#: Short baseline names (figure legends).
BASELINE_LABELS: dict[str, str] = {
    "change_ratio": "SAR change ratio",
    "slope": "DEM slope model",
    "sar_stats": "SAR chip statistics",
}
