"""The core layer: grid, density classes, vocabulary, SAR units, memory budget.

Every other layer may import it; it imports only the standard library, numpy, pyproj, affine,
rasterio and :mod:`landslide_app.config`, :mod:`landslide_app.errors`, :mod:`landslide_app.atomic`
(which belong to the core layer too). ``tests/test_architecture.py`` checks it.
"""
