"""The Voila dashboard (widgets live only in this package). ``app.ipynb`` calls :func:`build_app`."""

from landslide_app.dashboard.app import build_app

__all__ = ["build_app"]
