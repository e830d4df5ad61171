"""Cross-prediction protocol of the paper (§3 "Experimental setup") and a spatially blocked variant.

Both splits produce two folds, A and B:

* the chips are divided into two halves;
* within each half, 80 % of the chips train (40 % of all chips) and 20 % validate (10 %); the
  validation chips serve model selection only;
* fold A trains on half A and predicts half B (its *test* set); fold B the other way round, so
  the two test sets together cover every chip exactly once (the island-wide map).

``random_split`` (the paper): halves and validation chips drawn at random (seeded).

``blocked_split``: chips are grouped into square blocks of ``block_size x block_size`` chips by
their grid row/column; whole blocks are assigned to the halves (at random, balancing chip
counts), and the validation chips of a half are whole blocks too (when the half has at least two
blocks; otherwise single chips). With ``buffer=b > 0``, a chip of a half that lies within ``b``
chips (Chebyshev distance on the chip grid) of a chip of the other half is left out of that
half's train/validation sets (listed in ``Fold.excluded``); it is still predicted, as a test chip,
by the other fold. So a model never trains on a direct neighbour of a chip it predicts, and every
chip is still predicted exactly once. There is no buffer between train and validation chips of the
same half (validation only selects the epoch).

:class:`ProtocolSplit.validate` asserts the invariants (disjointness, coverage).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from landslide_app.core.vocabulary import SPLITS, SplitKind
from landslide_app.errors import ConfigError, InputError

logger = logging.getLogger(__name__)

DEFAULT_VAL_FRACTION: float = 0.2
DEFAULT_BLOCK_SIZE: int = 4
DEFAULT_BUFFER: int = 1


@dataclass(frozen=True)
class Fold:
    """One model of the protocol: trains on ``train``, selects on ``val``, predicts ``test``."""

    name: str
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray
    excluded: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (id lists)."""
        return {
            "name": self.name,
            "train": self.train.tolist(),
            "val": self.val.tolist(),
            "test": self.test.tolist(),
            "excluded": self.excluded.tolist(),
        }


@dataclass(frozen=True)
class ProtocolSplit:
    """The two folds of a split plus how it was made."""

    kind: SplitKind
    folds: tuple[Fold, Fold]
    seed: int
    params: dict[str, object] = field(default_factory=dict)

    @property
    def ids(self) -> np.ndarray:
        """All chip ids (sorted)."""
        return np.sort(np.concatenate([f.test for f in self.folds]))

    def validate(self, ids: np.ndarray | None = None) -> None:
        """Check the protocol invariants; raise ``AssertionError`` when one fails (even under -O).

        * within a fold, train / val / test / excluded are pairwise disjoint, without duplicates;
        * no chip a fold predicts (test) is in that fold's train or validation set;
        * the test sets of the folds are disjoint and together cover every chip (``ids`` if given);
        * each fold's train + val + excluded is exactly the other fold's test set.
        """
        tests = [set(f.test.tolist()) for f in self.folds]
        for f in self.folds:
            sets = {
                "train": set(f.train.tolist()),
                "val": set(f.val.tolist()),
                "test": set(f.test.tolist()),
                "excluded": set(f.excluded.tolist()),
            }
            for name, arr in (("train", f.train), ("val", f.val), ("test", f.test), ("excluded", f.excluded)):
                _require(len(sets[name]) == len(arr), f"fold {f.name}: duplicate ids in {name}")
            names = list(sets)
            for i, a in enumerate(names):
                for b in names[i + 1 :]:
                    common = sets[a] & sets[b]
                    _require(not common, f"fold {f.name}: {a} and {b} share ids {sorted(common)[:5]}")
        _require(not (tests[0] & tests[1]), "the two folds predict some chips twice")
        for f, other_test in zip(self.folds, (tests[1], tests[0])):
            own = set(f.train.tolist()) | set(f.val.tolist()) | set(f.excluded.tolist())
            _require(own == other_test, f"fold {f.name}'s train/val/excluded is not the half the other fold predicts")
        if ids is not None:
            _require(tests[0] | tests[1] == set(np.asarray(ids).tolist()), "the test sets do not cover all chips")

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "kind": self.kind,
            "seed": self.seed,
            "params": dict(self.params),
            "folds": [f.to_dict() for f in self.folds],
        }


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def _check_ids(ids: np.ndarray) -> np.ndarray:
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise InputError(f"Chip ids must be 1-D, got shape {arr.shape}.")
    if len(np.unique(arr)) != len(arr):
        raise InputError("Chip ids must be unique.")
    if len(arr) < 4:
        raise InputError(
            f"The protocol needs at least 4 chips (2 halves x train/validation), got {len(arr)}."
        )
    return arr.astype(np.int64)


def _check_fraction(val_fraction: float) -> float:
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction}.")
    return float(val_fraction)


def _n_val(n: int, val_fraction: float) -> int:
    """Validation size of a half of ``n`` chips: round(fraction * n), at least 1, leaving >= 1 train."""
    return int(min(max(round(val_fraction * n), 1), n - 1))


def _make_folds(halves: list[np.ndarray], vals: list[np.ndarray], excluded: list[np.ndarray]) -> tuple[Fold, Fold]:
    folds = []
    for h, name in enumerate(("A", "B")):
        other = halves[1 - h]
        val = np.sort(vals[h])
        exc = np.sort(excluded[h])
        train = np.sort(np.setdiff1d(halves[h], np.concatenate([val, exc])))
        folds.append(Fold(name=name, train=train, val=val, test=np.sort(other), excluded=exc))
    return folds[0], folds[1]


def random_split(ids: np.ndarray, seed: int = 0, val_fraction: float = DEFAULT_VAL_FRACTION) -> ProtocolSplit:
    """The paper's split: random halves, each 80/20 train/validation (40/10 % of all chips).

    Args:
        ids: unique chip ids.
        seed: seed of the permutation.
        val_fraction: validation share of each half (0.2 -> 10 % of all chips).
    """
    arr = _check_ids(ids)
    vf = _check_fraction(val_fraction)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(arr)
    n_a = (len(perm) + 1) // 2
    halves = [perm[:n_a], perm[n_a:]]
    vals = []
    for h in halves:
        vals.append(h[: _n_val(len(h), vf)])  # h is already in random order
    empty = np.empty(0, dtype=np.int64)
    split = ProtocolSplit(
        kind="random", folds=_make_folds(halves, vals, [empty, empty]), seed=int(seed),
        params={"val_fraction": vf},
    )
    split.validate(arr)
    logger.info(
        "Random split of %d chips: fold A train/val/test %d/%d/%d, fold B %d/%d/%d.", len(arr),
        *(len(s) for f in split.folds for s in (f.train, f.val, f.test)),
    )
    return split


def blocked_split(
    ids: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    seed: int = 0,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    buffer: int = DEFAULT_BUFFER,
) -> ProtocolSplit:
    """Spatially blocked split (see the module docstring).

    Args:
        ids: unique chip ids.
        rows, cols: grid row / column of each chip (same length as ``ids``).
        seed: seed of the block assignment.
        block_size: block edge in chips.
        val_fraction: target validation share of each half's usable chips.
        buffer: chips within this Chebyshev distance of the other half leave train/validation.
    """
    arr = _check_ids(ids)
    vf = _check_fraction(val_fraction)
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    if r.shape != arr.shape or c.shape != arr.shape:
        raise InputError("rows and cols must give one grid position per chip id.")
    if len(set(zip(r.tolist(), c.tolist()))) != len(arr):
        raise InputError("Two chips share a grid position (row, col).")
    if block_size < 1:
        raise ConfigError(f"block_size must be >= 1 chip, got {block_size}.")
    if buffer < 0:
        raise ConfigError(f"buffer must be >= 0 chips, got {buffer}.")
    rng = np.random.default_rng(seed)

    block_of = (r // block_size) * (int(c.max()) // block_size + 1) + c // block_size
    blocks, inverse = np.unique(block_of, return_inverse=True)
    if len(blocks) < 2:
        raise InputError(
            f"All {len(arr)} chips fall into one {block_size}x{block_size} block; "
            "use a smaller block_size for the blocked split."
        )
    sizes = np.bincount(inverse)
    # Random order, then each block to the half with fewer chips so far (balanced halves).
    half_of_block = np.empty(len(blocks), dtype=np.int64)
    counts = [0, 0]
    for b in rng.permutation(len(blocks)):
        h = 0 if counts[0] <= counts[1] else 1
        half_of_block[b] = h
        counts[h] += int(sizes[b])
    half = half_of_block[inverse]

    # Buffer: chips of half h within `buffer` chips of a chip of the other half.
    pos_half = {(int(rr), int(cc)): int(hh) for rr, cc, hh in zip(r, c, half)}
    near_other = np.zeros(len(arr), dtype=bool)
    if buffer > 0:
        offsets = [(dr, dc) for dr in range(-buffer, buffer + 1) for dc in range(-buffer, buffer + 1)]
        for i, (rr, cc, hh) in enumerate(zip(r.tolist(), c.tolist(), half.tolist())):
            near_other[i] = any(pos_half.get((rr + dr, cc + dc), hh) != hh for dr, dc in offsets)

    halves, vals, excluded = [], [], []
    for h in (0, 1):
        in_half = half == h
        usable = in_half & ~near_other
        halves.append(arr[in_half])
        excluded.append(arr[in_half & near_other])
        n_usable = int(usable.sum())
        if n_usable < 2:
            raise InputError(
                f"Half {'AB'[h]} of the blocked split keeps {n_usable} chip(s) for training after "
                f"the {buffer}-chip buffer; use a larger block_size or a smaller buffer."
            )
        target = _n_val(n_usable, vf)
        usable_blocks = np.unique(inverse[usable])
        if len(usable_blocks) >= 2:
            val_mask = np.zeros(len(arr), dtype=bool)
            for b in rng.permutation(usable_blocks):
                if val_mask.sum() >= target:
                    break
                cand = usable & (inverse == b)
                if n_usable - val_mask.sum() - cand.sum() < 1:
                    continue  # keep at least one training chip
                val_mask |= cand
            vals.append(arr[val_mask])
        else:
            vals.append(rng.permutation(arr[usable])[:target])
    split = ProtocolSplit(
        kind="blocked", folds=_make_folds(halves, vals, excluded), seed=int(seed),
        params={"val_fraction": vf, "block_size": int(block_size), "buffer": int(buffer)},
    )
    split.validate(arr)
    logger.info(
        "Blocked split (%dx%d blocks, buffer %d) of %d chips in %d blocks: fold A train/val/test/"
        "excluded %d/%d/%d/%d, fold B %d/%d/%d/%d.", block_size, block_size, buffer, len(arr),
        len(blocks), *(len(s) for f in split.folds for s in (f.train, f.val, f.test, f.excluded)),
    )
    return split


def make_split(
    kind: SplitKind,
    ids: np.ndarray,
    seed: int = 0,
    *,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
    **kwargs: object,
) -> ProtocolSplit:
    """Build a split by name (``"random"`` or ``"blocked"``; the latter needs ``rows``/``cols``)."""
    if kind == "random":
        return random_split(ids, seed, **kwargs)  # type: ignore[arg-type]
    if kind == "blocked":
        if rows is None or cols is None:
            raise ConfigError("The blocked split needs the chips' grid rows and cols.")
        return blocked_split(ids, rows, cols, seed, **kwargs)  # type: ignore[arg-type]
    raise ConfigError(f"Unknown split {kind!r}: use one of {', '.join(SPLITS)}.")


def resolve_split(
    split: ProtocolSplit | SplitKind, ids: np.ndarray, seed: int, reader: Any,
    rows: np.ndarray | None = None, cols: np.ndarray | None = None,
) -> ProtocolSplit:
    """The protocol split over ``ids``, built exactly as the CNN pipeline builds it."""
    if isinstance(split, ProtocolSplit):
        try:
            split.validate(ids)
        except AssertionError as err:
            raise InputError(f"The split does not fit the chip ids: {err}. Rebuild the split.") from err
        return split
    if split == "blocked" and (rows is None or cols is None):
        index = getattr(reader, "index", None)
        if index is None or not {"chip_id", "row", "col"} <= set(getattr(index, "columns", ())):
            raise ConfigError("The blocked split needs the chips' grid rows and cols (pass rows=, cols=).")
        pos = index.set_index("chip_id").loc[ids]
        rows, cols = pos["row"].to_numpy(), pos["col"].to_numpy()
    return make_split(split, ids, seed, rows=rows, cols=cols)
