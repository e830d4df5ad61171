"""What the parts of the responder's panel share: the area, the queue, the page's messages, and the
widgets by name.

The responder's :class:`~landslide_app.dashboard.respond_view.RespondView` is one object assembled
from parts with one job each: :mod:`~.respond_map` (the map and the selected chip),
:mod:`~.respond_predictions` (the Respond tab), :mod:`~.respond_new_area` (the New area tab),
:mod:`~.respond_train` (the Train tab) and :mod:`~.respond_sar` (the SAR change tab); each is a
mixin over :class:`RespondBase`, so the widgets keep the one name the page and the tests use
(``view.fetch_button``, ``view.pred_layer`` ...). This class declares those names and types, the
tabs' order and the methods one part calls in another; it builds nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipyleaflet
import ipywidgets as W

if TYPE_CHECKING:
    from landslide_app.dashboard.area import AreaState
    from landslide_app.dashboard.prediction_view import PredictionView
    from landslide_app.dashboard.queue import RunQueue, StageRun


#: The panel's tabs, in order (:class:`~landslide_app.dashboard.respond_view.RespondView` lays them out).
TAB_TITLES: tuple[str, ...] = ("Respond", "New area", "Train", "SAR change", "Runs")
RESPOND_TAB, NEW_AREA_TAB, TRAIN_TAB, SAR_TAB, RUNS_TAB = range(len(TAB_TITLES))


def empty_collection() -> dict[str, Any]:
    """An empty GeoJSON FeatureCollection (a layer with nothing on it)."""
    return {"type": "FeatureCollection", "features": []}


class RespondBase:
    """The responder panel's shared attributes (set by :class:`~landslide_app.dashboard.respond_view.RespondView`
    and its parts) and the methods the parts call in one another."""

    area: AreaState
    queue: RunQueue
    show: Callable[[str, str], None]
    _guard: Callable[[str, Callable[..., Any]], Callable[..., Any]]
    on_new_store: Callable[[Path], Any] | None
    new_workspace: Callable[[str], Any] | None
    pred: PredictionView | None
    selected_chip: int | None
    tabs: W.Tab
    # the map (respond_map)
    map: ipyleaflet.Map
    chip_layer: ipyleaflet.GeoJSON
    pred_layer: ipyleaflet.GeoJSON
    building_layer: ipyleaflet.GeoJSON
    legend: ipyleaflet.LegendControl
    sar_pre: ipyleaflet.ImageOverlay
    sar_post: ipyleaflet.ImageOverlay
    # the tabs' widgets other parts read
    model: W.Dropdown
    apply_button: W.Button
    fetch_button: W.Button
    train_button: W.Button
    bbox_fields: list[W.FloatText]

    def set_area(self, bbox: tuple[float, float, float, float]) -> None:
        """Fill W S E N and outline the box on the map (:mod:`~.respond_map` defines it)."""
        raise NotImplementedError

    def fit(self) -> None:
        """Centre the map on the workspace's area (:mod:`~.respond_map` defines it)."""
        raise NotImplementedError

    def inspect(self, chip_id: int, zoom: bool = False) -> None:
        """Select a chip (:mod:`~.respond_map` defines it)."""
        raise NotImplementedError

    def _show_chip_sar(self) -> None:
        """The selected chip's VH image (:mod:`~.respond_sar` defines it)."""
        raise NotImplementedError

    def refresh_models(self, select: Path | None = None) -> None:
        """Relist the models under Respond (:mod:`~.respond_predictions` defines it)."""
        raise NotImplementedError

    def _submit(self, run: StageRun) -> StageRun:
        """Queue a stage run (:class:`~landslide_app.dashboard.respond_view.RespondView` defines it)."""
        raise NotImplementedError
