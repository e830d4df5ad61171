"""Done-markers of a chip store: ``STORE/done/ID.json``, the records of a batch of finished chips.

A marker is written atomically (and fsync'd) after the chunks of every kept chip it lists, so a
build resumes from the markers it finds. Each record holds ``chip_id``, whether the chip was kept,
its label record and, for a kept chip, its chunk's size and CRC-32. One file per batch (a chip
row; ``ID``: its first chip id) instead of one per chip: measured on the demo scene, per-chip
markers were about a fifth of the build's write time.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from landslide_app.atomic import is_temp_name, write_json_atomic

log = logging.getLogger(__name__)

DONE_DIR = "done"


def read_markers(store_path: Path) -> dict[Path, list[dict[str, Any]]]:
    """The done-marker files and their records (damaged ones are skipped: their chips are rebuilt)."""
    out = {}
    for f in sorted((store_path / DONE_DIR).glob("*.json")):
        if is_temp_name(f.name):  # a marker being written (or left by a killed writer)
            continue
        try:
            recs = json.loads(f.read_text())["chips"]
            out[f] = [dict(r, chip_id=int(r["chip_id"])) for r in recs]
        except (OSError, ValueError, KeyError, TypeError):
            log.warning("ignoring damaged marker %s (its chips will be rebuilt)", f)
    return out


def write_markers(store_path: Path, records: Sequence[dict[str, Any]]) -> None:
    """Write one marker file for ``records`` (a batch of finished chips, each with ``chip_id``)."""
    if not records:
        return
    first = min(int(r["chip_id"]) for r in records)
    target, k = store_path / DONE_DIR / f"{first}.json", 0
    while target.exists():  # chips of a row rebuilt after a repair: the row's marker stays
        k += 1
        target = store_path / DONE_DIR / f"{first}-{k}.json"
    write_json_atomic(target, {"chips": [dict(r) for r in records]})


def drop_markers(store_path: Path, drop: set[int]) -> None:
    """Remove the records of the chips ``drop`` from the markers (a marker left empty is deleted)."""
    for f, recs in read_markers(store_path).items():
        keep = [r for r in recs if int(r["chip_id"]) not in drop]
        if len(keep) != len(recs):
            if keep:
                write_json_atomic(f, {"chips": keep})
            else:
                f.unlink()
