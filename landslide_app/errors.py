"""Typed errors of landslide_app.

Every error a user can cause derives from :class:`LandslideAppError`. Its message says what
went wrong *and what to change*; the CLI prints it without a traceback (unless ``--debug``) and
exits with the error's ``exit_code``; the dashboard shows it as a message in the page.
"""

from __future__ import annotations


class LandslideAppError(Exception):
    """Base class: a problem the user can fix. ``str(err)`` is the whole message."""

    exit_code: int = 2


class InputError(LandslideAppError, ValueError):
    """A file or argument given by the user is malformed or inconsistent."""


class RasterError(InputError):
    """A raster (GeoTIFF/COG) cannot be read or has the wrong shape, CRS or values."""


class InventoryError(InputError):
    """A landslide inventory file cannot be read or holds no usable points."""


class ChipStoreError(InputError):
    """A chip store is missing, truncated or of an incompatible layout."""


class ConfigError(InputError):
    """An unknown configuration key or an impossible value."""


class ModelFileError(InputError):
    """A trained model (run directory, checkpoint, forest) is missing, damaged, modified or
    does not belong to the run it sits in."""


class UntrustedFileError(ModelFileError):
    """A model file holds code or object types that are not trusted (a pickle payload, an
    unknown type in a skops file); it is refused without running anything from it."""


class OutputError(LandslideAppError):
    """An output path cannot be used: it is a file, not writable, or holds foreign files."""


class SourceError(LandslideAppError):
    """A data source (STAC API, local catalog, HTTP server) failed or returned nothing usable."""

    exit_code = 3


class NoItemsFoundError(SourceError):
    """A STAC search matched no item for the requested area, dates or orbit."""


class SigningError(SourceError):
    """Signing Planetary Computer assets was refused (e.g. HTTP 403: a key is required)."""


class PartialCoverageError(SourceError):
    """The items found do not cover the requested area."""
