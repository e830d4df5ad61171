"""Crafted malicious model files for safety tests: loading them unsafely would create a marker file.

* :func:`write_pickle_payload`: a ``torch.save`` file whose unpickling calls ``open(marker, "w")``;
  ``torch.load(weights_only=False)`` runs it, ``weights_only=True`` refuses it.
* :func:`write_skops_payload`: a skops file holding an object of an untrusted type whose
  restoring (``__setstate__``) writes the marker; ``skops.io.load`` runs it only when that type is
  trusted.
* :func:`write_npz_payload`: a forest-looking ``.npz`` file with an object array whose unpickling
  calls ``open(marker, "w")``; ``numpy.load(allow_pickle=True)`` runs it, ``allow_pickle=False``
  refuses it.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

#: Name of the module written by :func:`write_skops_payload` (its type is never trusted).
PAYLOAD_MODULE = "landslide_payload_mod"
_PAYLOAD_SOURCE = '''
from pathlib import Path


class Payload:
    """Creates the file named in its state when it is restored (``__setstate__``)."""

    def __setstate__(self, state):
        Path(state["marker"]).write_text("payload ran")
'''


def write_pickle_payload(path: str | Path, marker: str | Path, fmt: str = "landslide-app-embedding/1") -> Path:
    """Write a checkpoint-looking ``torch.save`` file whose unpickling would create ``marker``."""
    import torch

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    path = Path(path)
    path.unlink(missing_ok=True)
    torch.save({"format": fmt, "x": Payload()}, path)
    return path


def write_skops_payload(path: str | Path, marker: str | Path, module_dir: str | Path) -> Path:
    """Write a forest-looking skops file whose loading would create ``marker``.

    The payload class lives in ``module_dir/landslide_payload_mod.py`` (written here), so that a
    loader that trusted it could import it.
    """
    import skops.io as sio

    module_dir = Path(module_dir)
    (module_dir / f"{PAYLOAD_MODULE}.py").write_text(_PAYLOAD_SOURCE)
    sys.path.insert(0, str(module_dir))
    try:
        obj = importlib.import_module(PAYLOAD_MODULE).Payload()
        obj.__dict__["marker"] = str(marker)
        path = Path(path)
        path.unlink(missing_ok=True)
        sio.dump({"format": "landslide-app-forest/1", "n_classes": 3, "seed": 0, "forest": obj}, path)
    finally:
        sys.path.remove(str(module_dir))
        sys.modules.pop(PAYLOAD_MODULE, None)
    return path


def write_npz_payload(path: str | Path, marker: str | Path) -> Path:
    """Write a forest-looking ``.npz`` file whose object array would create ``marker`` when unpickled."""
    import numpy as np

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = np.empty(1, dtype=object)
    payload[0] = Payload()
    path = Path(path)
    path.unlink(missing_ok=True)
    with open(path, "wb") as fh:  # a file object: savez would add ".npz" to a name without it
        np.savez(fh, header=payload, nodes=np.zeros(1), values=np.zeros(1))
    return path
