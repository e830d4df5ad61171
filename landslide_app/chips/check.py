"""Checking a chip store against itself (:func:`check_store`, behind
:meth:`~landslide_app.chips.store.ChipStore.verify`), what it found (:class:`StoreCheck`, or a read
that met damaged chips), and the message that says what to rebuild."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from landslide_app.chips.chunks import chunk_paths, chunk_problems
from landslide_app.chips.meta import META_FILE, StoreMeta, meta_problems

log = logging.getLogger(__name__)


@dataclass
class StoreCheck:
    """What :meth:`~landslide_app.chips.store.ChipStore.verify` found: store-level problems and damaged
    chips (id -> reason)."""

    path: Path
    problems: list[str] = field(default_factory=list)
    damaged: dict[int, str] = field(default_factory=dict)
    n_checked: int = 0
    full: bool = True
    checksums: bool = True
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.damaged

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "ok": self.ok,
            "problems": self.problems,
            "damaged_chips": sorted(self.damaged),
            "reasons": {str(k): v for k, v in sorted(self.damaged.items())},
            "n_chips_checked": self.n_checked,
            "full": self.full,
            "checksums": self.checksums,
            "seconds": round(self.seconds, 3),
        }

    def message(self) -> str:
        """One paragraph saying what is wrong and what to do (empty when all is well)."""
        parts = []
        if self.problems:
            parts.append(
                f"{self.path} does not match its {META_FILE}: "
                + "; ".join(self.problems)
                + ". Rerun the same `landslide-app chips` command (it rewrites the index from the "
                "finished chips), or rebuild the store with `--overwrite` if store.json itself was changed"
            )
        if self.damaged:
            ids = sorted(self.damaged)
            shown = "; ".join(f"chip {c} {self.damaged[c]}" for c in ids[:5]) + (" ..." if len(ids) > 5 else "")
            parts.append(
                f"{len(ids)} chip(s) of {self.path} are damaged ({shown}): the store is truncated; rebuild it: "
                f"rerun the same `landslide-app chips` command, which rebuilds exactly chips {_ids_text(ids)} "
                f"(or rebuild the store with `--overwrite`; `landslide-app check {self.path}` checks every chip "
                "in full)"
            )
        return " ".join(parts)


def damaged_read_message(path: Path, damaged: dict[int, str]) -> str:
    """The message of a read that met damaged chips (id -> reason): no result is computed from them."""
    ids = sorted(damaged)
    shown = "; ".join(f"chip {c} {damaged[c]}" for c in ids[:5]) + (" ..." if len(ids) > 5 else "")
    one = len(ids) == 1
    return (
        f"chip{'' if one else 's'} {_ids_text(ids)} of {path} {'does' if one else 'do'} not hold the data written "
        f"when the store was built ({shown}), so nothing is computed from {'it' if one else 'them'}. Run "
        f"`landslide-app check {path}` to find every damaged chip, then rerun the same `landslide-app chips` "
        "command: it rebuilds exactly the damaged chips (or rebuild the store with `--overwrite`)"
    )


def _ids_text(ids: Sequence[int], n: int = 20) -> str:
    return ", ".join(map(str, ids[:n])) + (f" and {len(ids) - n} more" if len(ids) > n else "")


def check_store(
    path: Path,
    meta: StoreMeta,
    array: Any,
    index: Any | None,
    kept_records: Callable[[], list[dict[str, Any]]],
    full: bool,
) -> StoreCheck:
    """Compare a store with itself: ``meta`` vs the zarr ``array`` vs the ``index`` (None for a store
    being built), and each kept chip's chunk file vs the size (with ``full``, the CRC-32) recorded
    when it was written: the index's records, or ``kept_records()`` (the done-markers' kept chips)
    when there is no index or it does not match the metadata."""
    check = StoreCheck(path, full=full, checksums=bool(meta.checksums))
    check.problems = meta_problems(meta, array.shape, array.chunks, index)
    if index is not None and not check.problems:
        recs = index[[c for c in ("chip_id", "chunk_bytes", "chunk_crc32") if c in index.columns]]
        rows = zip(*(recs[c].tolist() for c in recs.columns))
        chips = [dict(zip(recs.columns, r)) for r in rows]
    else:
        chips = kept_records()
    check.n_checked = len(chips)
    if meta.checksums:
        check.damaged = chunk_problems(_chunk_paths(array, meta.grid.n_cols, chips), full)
    elif meta.complete:
        log.debug("%s records no chunk checksums (built by an older version): chunks not checked", path)
    return check


def _chunk_paths(array: Any, n_cols: int, recs: Iterable[dict[str, Any]]) -> Iterator[tuple[int, str, int, int]]:
    path_of = chunk_paths(array)
    if path_of is None:  # not a local array: nothing to compare
        return
    for r in recs:
        cid = int(r["chip_id"])
        path = path_of((cid // n_cols, cid % n_cols, 0, 0, 0))
        n_bytes, crc = r.get("chunk_bytes"), r.get("chunk_crc32")
        if n_bytes is None or crc is None or n_bytes != n_bytes or crc != crc:  # none (or NaN) on record
            yield cid, path, -1, -1
        else:
            yield cid, path, int(n_bytes), int(crc)
