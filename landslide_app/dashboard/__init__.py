"""The Voila dashboard (widgets live only in this package). ``app.ipynb`` calls :func:`build_app`.

Modules: :mod:`~.state` (what is shown and run, no widgets), :mod:`~.rendering` (rasters to
PNG overlays), :mod:`~.plots` (ROC, confusion, chip inspector figures), :mod:`~.tables` (Table 2
HTML), :mod:`~.layers` (ipyleaflet layers), :mod:`~.jobs` (background runs), :mod:`~.exports`
(files under ``DATA/exports``), :mod:`~.app` (the analyst's widgets and wiring, :func:`build_app`),
:mod:`~.workspace_view` (the page: workspace picker and title), :mod:`~.respond_view` (the responder's
panel), :mod:`~.area` (what it shows, no widgets), :mod:`~.fetch` ("New area" limits and the chip
build), :mod:`~.queue` (CLI stage runs: progress, cancel), :mod:`~.serve` (Voila).
Tests assemble a data directory from existing artifacts with :mod:`landslide_app.testing.datadir`.
"""

from landslide_app.dashboard.app import Dashboard, build_app

__all__ = ["Dashboard", "build_app"]
