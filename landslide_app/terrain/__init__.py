"""Terrain attributes (elevation, slope, curvature, aspect) of a DEM, with richdem's formulas.

The formulas are richdem's (Horn 1981 slope and aspect, Zevenbergen & Thorne curvature), evaluated
with numpy on shifted views of the DEM; tests check them against richdem itself. Measured on the
demo scene's chip-row strips, the numpy form is about 1.5-2x faster than calling richdem and,
unlike richdem, releases the GIL, so terrain overlaps the strip reads and chip writes of a chip
build instead of stalling them (richdem held the GIL for a quarter of the build).

The four DEM channels of a chip (``config.DEM_CHANNELS``) come from :func:`terrain_stack`; a whole
DEM GeoTIFF is turned into a 4-band terrain GeoTIFF on the same grid by :func:`write_terrain`.

Conventions (all attributes are computed on a 3 x 3 window around each cell):

* **elevation**: the DEM value in metres (NaN where the DEM has no data).
* **slope**: degrees from horizontal, ``atan(|grad z|)``, with the gradient of Horn (1981)
  (richdem ``slope_degrees``), using the true cell size in metres.
* **curvature**: richdem ``curvature`` (Zevenbergen & Thorne 1987 / ArcGIS "Curvature"):
  ``-100 * (d2z/dx2 + d2z/dy2)``, i.e. minus the Laplacian of the surface, with z and x, y in
  metres, multiplied by 100. Its unit is therefore 1/(100 m): a value of 1 is a Laplacian of
  -0.01 m^-1. **Positive = convex** (ridges, hill tops, noses), **negative = concave**
  (hollows, valleys, channels), 0 = planar. Example: the bowl ``z = c (x^2 + y^2)`` has
  curvature ``-400 c`` everywhere. richdem uses the x cell length for both axes; on grids with
  non-square cells (e.g. geographic DEMs) the same formula is evaluated here with the x and y
  cell lengths each on its own axis, which equals richdem's value when the cells are square.
* **aspect**: the compass direction the slope *faces* (direction of steepest descent), in
  degrees clockwise from grid north, in ``[0, 360)`` (a south-up DEM, i.e. a positive y pixel
  size, or an east-to-west one is turned north-up for the computation, so aspect is the true
  compass direction there too): 0 = north-facing, 90 = east-facing,
  180 = south-facing, 270 = west-facing (richdem ``aspect``, Horn 1981). Flat cells (slope
  exactly 0) get :data:`~landslide_app.config.FLAT_ASPECT_DEG` (-1, the ArcGIS convention;
  richdem itself would return 270 there).

No data and edges: NaN (or ``nodata``) cells give NaN in all four channels. richdem itself
replaces each neighbour that is outside the grid or nodata with the centre cell's value
(the ArcGIS convention); on the grid border this halves the slope of a plane, turns aspect and
gives a spurious curvature. This module instead recomputes every cell whose 3 x 3 window is
incomplete (grid border, or next to nodata) with the same formulas after filling each missing
neighbour by *linear extrapolation* from the cell: a missing side neighbour becomes
``2 * centre - opposite`` and a missing corner neighbour ``side_1 + side_2 - centre``. Slope and
aspect of a plane are therefore exact on the border too, and the curvature there only keeps the
component along the border (the component across the border is 0: e.g. half the value of the
bowl above). Where both neighbours along a grid axis are missing (one-pixel strips, isolated
pixels) the gradient cannot be estimated and slope, curvature and aspect are NaN. Every value
depends only on the 3 x 3 window, so a window read with a one-pixel halo and cropped gives
exactly the values of the whole DEM.

Modules: :mod:`.stack` (the formulas on an array), :mod:`.geotiff` (a DEM GeoTIFF to a terrain
GeoTIFF, strip by strip), :mod:`.units` (cell sizes and elevations in metres).
"""

from landslide_app.terrain.geotiff import TERRAIN_BAND_NAMES, TERRAIN_BAND_UNITS, write_terrain
from landslide_app.terrain.stack import terrain_stack

__all__ = ["TERRAIN_BAND_NAMES", "TERRAIN_BAND_UNITS", "terrain_stack", "write_terrain"]
