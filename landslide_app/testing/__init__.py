"""Test fixtures shipped with the package for reuse by its tests, benchmarks and downstream users.

Nothing in :mod:`landslide_app` imports this subpackage (``tests/test_architecture.py`` checks it):
it is never on the path of the application, the CLI or the dashboard. It ships inside the package
rather than under ``tests/`` so that benchmarks and other projects can import it without the test
tree on ``sys.path`` (``tests/`` is not a package).

* :mod:`~.range_server`: a loopback HTTP object store with byte ranges and injected faults.
* :mod:`~.malicious`: crafted model files whose unsafe loading would run code (safety tests).
* :mod:`~.chromium`: the headless Chromium (binary and flags) of the browser tests and benchmarks.
* :mod:`~.datadir`: a dashboard data directory linked from an existing scene and chip store.
* :mod:`~.pc_emulator`: an offline emulation of the Planetary Computer STAC API, serving the archive
  :mod:`~.pc_archive` builds (:mod:`~.pc_layout`, :mod:`~.pc_catalogs`) through :mod:`~.pc_handler`
  with the documents of :mod:`~.pc_stac`.
"""
