"""What the dashboard shows, as plain data: a configuration's map view and one chip's inspection.

Built by :class:`landslide_app.dashboard.state.DashboardState`, drawn by the widget layer and
:mod:`landslide_app.dashboard.plots`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from landslide_app.core.density import CLASS_NAMES
from landslide_app.experiments.records import RunRecord


@dataclass
class MapView:
    """Everything the map and the result panels show for one configuration (cached)."""

    key: str
    computed: bool
    chips_true: dict[str, Any]
    chips_pred: dict[str, Any] | None = None
    embedding_url: str = ""
    embedding_bounds: tuple[tuple[float, float], tuple[float, float]] | None = None
    embedding_range: tuple[float, float] | None = None
    result: RunRecord | None = None
    predictions: dict[str, np.ndarray] | None = None
    roc_png: bytes | None = None
    confusion_png: bytes | None = None
    reliability_png: bytes | None = None
    note: str = ""


@dataclass
class ChipInspection:
    """One chip's layers and its prediction under a configuration (input of the inspector figure)."""

    chip_id: int
    row: int
    col: int
    key: str
    head_count: int
    density_per_km2: float
    true_class: int
    layers: dict[str, np.ndarray]
    heads_rc: np.ndarray
    pred_class: int | None = None
    proba: np.ndarray | None = None
    embedding: np.ndarray | None = None
    #: the forest's real input for this chip (stored with the run), None when not stored
    percentiles: np.ndarray | None = None
    class_labels: dict[int, str] = field(default_factory=lambda: dict(CLASS_NAMES))
