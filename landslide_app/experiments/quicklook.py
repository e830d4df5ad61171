"""The quick-look ``map.png`` of a prediction: density classes over a hillshade.

The hillshade comes from the chips themselves (the store's elevation channel, block-averaged to
:data:`OVERVIEW_PX` pixels per chip while the prediction streams the chips, so no second read), which
works for any store, with or without the source DEM at hand. Drawn with matplotlib's object API
(``Figure`` + Agg canvas, no pyplot state): classes at chip resolution, legend, scale bar, and a title
naming the event and the model.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from landslide_app.atomic import atomic_path
from landslide_app.core.density import class_names
from landslide_app.core.grid import ChipGrid

log = logging.getLogger(__name__)

#: Overview pixels per chip edge (128 px chips -> 8 x 8 blocks of 10 m: 80 m overview cells).
OVERVIEW_PX: int = 16
#: Class colours (the dashboard's map uses the same: grey, orange, red).
CLASS_COLOURS: dict[int, str] = {0: "#9e9e9e", 1: "#fdae61", 2: "#d7191c"}

#: Opacity of each class over the hillshade.
CLASS_ALPHA: dict[int, float] = {0: 0.25, 1: 0.6, 2: 0.7}

BatchGetter = Callable[[np.ndarray], np.ndarray]


class ElevationOverview:
    """A coarse elevation mosaic of a chip grid, filled chip by chip."""

    def __init__(self, grid: ChipGrid, elevation_channel: int, px: int = OVERVIEW_PX) -> None:
        self.grid = grid
        self.px = max(1, min(px, grid.chip_size))
        self.channel = elevation_channel
        self.elevation = np.full((grid.n_rows * self.px, grid.n_cols * self.px), np.nan, np.float32)
        self.n_filled = 0

    @property
    def cell_size(self) -> float:
        """Overview cell edge in metres."""
        return self.grid.chip_extent_m / self.px

    def add(self, ids: np.ndarray, chips: np.ndarray) -> None:
        """Record the elevation of a batch of chips ``(n, C, S, S)``."""
        ids = np.asarray(ids).ravel()
        if not len(ids):
            return
        k = self.px
        f = self.grid.chip_size // k
        block = np.asarray(chips)[:, self.channel, : f * k, : f * k].reshape(len(ids), k, f, k, f)
        with warnings.catch_warnings():  # an all-sea block is NaN, silently
            warnings.simplefilter("ignore", RuntimeWarning)
            coarse = np.nanmean(block, axis=(2, 4))
        for cid, c_el in zip(ids, coarse):
            r, c = self.grid.chip_rc(int(cid))
            self.elevation[r * k : (r + 1) * k, c * k : (c + 1) * k] = c_el
        self.n_filled += len(ids)

    def tap(self, get_batch: BatchGetter) -> BatchGetter:
        """``get_batch`` that also records every batch it returns."""

        def tapped(ids: np.ndarray) -> np.ndarray:
            batch = get_batch(ids)
            self.add(ids, batch)
            return batch

        return tapped

    def fill_from(self, read_many: Callable[[list[int]], np.ndarray], ids: np.ndarray, batch: int = 32) -> None:
        """Read ``ids`` (when the prediction did not stream them here, e.g. on a Dask cluster)."""
        ids = np.asarray(ids)
        for i in range(0, len(ids), batch):
            sel = ids[i : i + batch]
            self.add(sel, read_many([int(v) for v in sel]))


def hillshade(elevation: np.ndarray, cell_size: float) -> np.ndarray:
    """Hillshade in [0, 1] from the north-west (matplotlib's LightSource); NaN stays NaN."""
    from matplotlib.colors import LightSource

    z = np.where(np.isfinite(elevation), elevation, np.nanmin(elevation) if np.isfinite(elevation).any() else 0.0)
    shade = LightSource(azdeg=315, altdeg=45).hillshade(z, vert_exag=2.0, dx=cell_size, dy=cell_size)
    shade[~np.isfinite(elevation)] = np.nan
    return shade


def _nice_length(max_m: float) -> float:
    """The largest 1/2/5 x 10^k metres not above ``max_m``."""
    if max_m <= 0:
        return 1.0
    exp = 10 ** np.floor(np.log10(max_m))
    for m in (5, 2, 1):
        if m * exp <= max_m:
            return float(m * exp)
    return float(exp)


def write_map_png(
    path: str | Path,
    overview: ElevationOverview,
    ids: np.ndarray,
    pred: np.ndarray,
    title: str,
    subtitle: str = "",
    thresholds: tuple[float, float] = (0.0, 25.0),
    dpi: int = 110,
) -> Path:
    """Write the quick-look map: hillshade, predicted classes (semi-transparent), legend, scale bar."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    g = overview.grid
    left, bottom, right, top = g.bounds
    aspect = (top - bottom) / max(right - left, 1.0)
    width_in = 9.0
    fig = Figure(figsize=(width_in, min(max(width_in * aspect * 0.96 / 0.88 + 0.2, 3.5), 14.0)), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.88))
    extent = (left, right, bottom, top)
    ax.set_facecolor("#dbe9f4")  # sea / no data
    shade = hillshade(overview.elevation, overview.cell_size)
    ax.imshow(np.ma.masked_invalid(shade), cmap="gray", vmin=0, vmax=1, extent=extent, interpolation="bilinear")
    ax.imshow(_class_rgba(g, ids, pred), extent=extent, interpolation="nearest")
    ax.set_xlim(left, right)
    ax.set_ylim(bottom, top)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.995, 0.005, g.crs, transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="#333")
    _scale_bar(ax, g.bounds)
    _legend(ax, pred, thresholds)
    fig.suptitle(title, fontsize=11, y=0.99)
    if subtitle:
        fig.text(0.5, 0.935, subtitle, ha="center", va="center", fontsize=8, color="#444")
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi)
    return path


def _class_rgba(g: ChipGrid, ids: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The classes as an RGBA image at chip resolution (transparent where no chip)."""
    from matplotlib.colors import to_rgb

    classes = np.full((g.n_rows, g.n_cols), np.nan, np.float32)
    rows, cols = np.divmod(np.asarray(ids, np.int64), g.n_cols)
    classes[rows, cols] = np.asarray(pred, np.float32)
    rgba = np.zeros((*classes.shape, 4), np.float32)
    for c in range(3):  # class 0 light, so the relief shows where nothing is expected
        rgba[classes == c] = (*to_rgb(CLASS_COLOURS[c]), CLASS_ALPHA[c])
    return rgba


def _scale_bar(ax: Any, bounds: tuple[float, float, float, float]) -> None:
    """A round length about a fifth of the width, lower left, with its label."""
    from matplotlib.patches import Rectangle

    left, bottom, right, top = bounds
    length = _nice_length((right - left) / 5)
    x0, y0 = left + 0.04 * (right - left), bottom + 0.05 * (top - bottom)
    h = 0.012 * (top - bottom) + 0.004 * (right - left)
    ax.add_patch(Rectangle((x0, y0), length, h, facecolor="black", edgecolor="white", linewidth=0.8))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(
        x0 + length / 2,
        y0 + 1.6 * h,
        label,
        ha="center",
        va="bottom",
        fontsize=8,
        bbox=dict(facecolor="white", edgecolor="none", alpha=0.7, pad=1.0),
    )


def _legend(ax: Any, pred: np.ndarray, thresholds: tuple[float, float]) -> None:
    """The class legend with the chips of each predicted class."""
    from matplotlib.patches import Patch

    names = class_names(tuple(thresholds))  # type: ignore[arg-type]
    counts = {c: int((np.asarray(pred) == c).sum()) for c in range(3)}
    handles = [
        Patch(facecolor=CLASS_COLOURS[c], edgecolor="#333", alpha=0.8, label=f"{names[c]} ({counts[c]} chips)")
        for c in range(3)
    ]
    ax.legend(
        handles=handles, loc="upper right", fontsize=8, title="predicted density", title_fontsize=8, framealpha=0.85
    )
