"""Cross-prediction protocol of the paper (§3 "Experimental setup") and a spatially blocked variant.

Both splits produce two folds, A and B:

* the chips are divided into two halves;
* within each half, 80 % of the chips train (40 % of all chips) and 20 % validate (10 %); the
  validation chips serve model selection only;
* fold A trains on half A and predicts half B (its *test* set); fold B the other way round, so
  the two test sets together cover every chip exactly once (the island-wide map).

``random_split`` (the paper): halves and validation chips drawn at random (seeded). With the
chips' density ``classes`` (what :func:`resolve_split` passes), the draw is **stratified**: each
class is dealt to the halves in turn (a class of ``n`` chips gives ``n // 2`` or ``n // 2 + 1`` to
each half) and each half's validation chips take each class's share of the validation quota
(largest remainders), so no fold trains without a class-2 chip while the store has two or more.

``blocked_split``: chips are grouped into square blocks of ``block_size x block_size`` chips by
their grid row/column; whole blocks are assigned to the halves, in random order, each to the half
where it least unbalances the chip count and (with ``classes``) the class counts. The validation
chips of a half are drawn from its chips exactly as in the random split (same count, stratified):
validation only selects the epoch and calibrates the class probabilities, so it need not be a
block of its own, and the training share is the random split's (40 % of all chips per fold);
the comparison of the two splits then measures spatial dependence alone, not also a smaller
training set. With ``buffer=b > 0`` (default 0), a chip of a half that lies within ``b`` chips
(Chebyshev distance on the chip grid) of a chip of the other half is left out of that half's
train/validation sets (listed in ``Fold.excluded``; the training share is then smaller); it is
still predicted, as a test chip, by the other fold.

Block size. :data:`DEFAULT_BLOCK_SIZE` = 6 chips (7.7 km with 128-px chips at 10 m) is the median
practical range of the chip-level log landslide density on the demo scene: an exponential fit to
its empirical semivariogram (``benchmarks/bench_scene.py``, :mod:`landslide_app.model.variogram`)
gives 6.7, 7.5, 7.8, 16.5 and 21.0 km on seeds 0-4 (the two long ones follow the storm's
rain band across the whole scene). Blocks at least as wide as the autocorrelation range keep
most training chips out of reach of the chips they predict (Roberts et al. 2017, Ecography 40:
913-929, "Cross-validation strategies for data with temporal, spatial, hierarchical, or
phylogenetic structure"). :func:`block_size_for_km` converts a block edge in km (``--block-km``).

:class:`ProtocolSplit.validate` asserts the invariants (disjointness, coverage). :class:`Fold` and
:class:`ProtocolSplit`, with the steps both splits share, live in :mod:`landslide_app.model.folds` and
are importable from here too.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from landslide_app.core.vocabulary import SPLITS, SplitKind
from landslide_app.errors import ConfigError, InputError
from landslide_app.model.folds import (
    Fold,
    ProtocolSplit,
    check_classes,
    check_fraction,
    check_ids,
    class_counts,
    make_folds,
    n_val,
    stratified_val,
)

__all__ = [
    "DEFAULT_BLOCK_KM",
    "DEFAULT_BLOCK_SIZE",
    "DEFAULT_BUFFER",
    "DEFAULT_VAL_FRACTION",
    "Fold",
    "ProtocolSplit",
    "block_size_for_km",
    "blocked_split",
    "make_split",
    "random_split",
    "resolve_split",
    "train_val_positions",
]

logger = logging.getLogger(__name__)

DEFAULT_VAL_FRACTION: float = 0.2
#: Block edge in chips (see the module docstring for the variogram behind it).
DEFAULT_BLOCK_SIZE: int = 6
#: Block edge in km (6 chips of 1.28 km); what ``--block-km`` defaults to.
DEFAULT_BLOCK_KM: float = 7.68
DEFAULT_BUFFER: int = 0


def train_val_positions(n: int, seed: int, val_fraction: float = DEFAULT_VAL_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """``(train, validation)`` positions of ``n`` chips for a single run (``landslide-app train``, any kind of
    model): a seeded random permutation, the validation share ``val_fraction`` (at least one chip)."""
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, int(round(val_fraction * n)))
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def _deal(members: np.ndarray, member_classes: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """Two halves of ``members``, each class dealt evenly (an odd chip to the smaller half so far)."""
    halves: list[list[np.ndarray]] = [[], []]
    counts = [0, 0]
    for k in np.unique(member_classes):
        mine = rng.permutation(members[member_classes == k])
        first = 0 if counts[0] <= counts[1] else 1
        n_first = (len(mine) + 1) // 2
        halves[first].append(mine[:n_first])
        halves[1 - first].append(mine[n_first:])
        counts[first] += n_first
        counts[1 - first] += len(mine) - n_first
    return [np.concatenate(h) if h else np.empty(0, dtype=np.int64) for h in halves]


def random_split(
    ids: np.ndarray, seed: int = 0, val_fraction: float = DEFAULT_VAL_FRACTION, *, classes: np.ndarray | None = None
) -> ProtocolSplit:
    """The paper's split: random halves, each 80/20 train/validation (40/10 % of all chips).

    Args:
        ids: unique chip ids.
        seed: seed of the permutation.
        val_fraction: validation share of each half (0.2 -> 10 % of all chips).
        classes: density class of each chip (aligned with ``ids``): stratify halves and validation
            chips by class. None: plain random (the paper's wording).
    """
    arr = check_ids(ids)
    vf = check_fraction(val_fraction)
    cls = check_classes(classes, arr)
    rng = np.random.default_rng(seed)
    of = dict(zip(arr.tolist(), cls.tolist()))
    halves = _deal(arr, cls, rng)
    vals = []
    for h in halves:
        h_cls = np.array([of[int(i)] for i in h], dtype=np.int64)
        vals.append(stratified_val(h, h_cls, n_val(len(h), vf)))
    empty = np.empty(0, dtype=np.int64)
    split = ProtocolSplit(
        kind="random",
        folds=make_folds(halves, vals, [empty, empty]),
        seed=int(seed),
        params={"val_fraction": vf, "stratified": classes is not None},
    )
    split.validate(arr)
    logger.info(
        "Random split of %d chips: fold A train/val/test %d/%d/%d, fold B %d/%d/%d.",
        len(arr),
        *(len(s) for f in split.folds for s in (f.train, f.val, f.test)),
    )
    if classes is not None:
        logger.debug("Class counts per fold: %s", class_counts(split, arr, cls))
    return split


def block_size_for_km(block_km: float, chip_km: float) -> int:
    """Block edge in whole chips for a block edge in km (rounded, at least 1 chip)."""
    if not (np.isfinite(block_km) and block_km > 0):
        raise ConfigError(f"--block-km must be a positive distance in km, got {block_km}.")
    if not chip_km > 0:
        raise ConfigError(f"chip size must be positive, got {chip_km} km.")
    return max(1, int(round(block_km / chip_km)))


def _check_positions(arr: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Grid rows and columns as int64, one distinct position per chip id."""
    r = np.asarray(rows, dtype=np.int64)
    c = np.asarray(cols, dtype=np.int64)
    if r.shape != arr.shape or c.shape != arr.shape:
        raise InputError("rows and cols must give one grid position per chip id.")
    if len(set(zip(r.tolist(), c.tolist()))) != len(arr):
        raise InputError("Two chips share a grid position (row, col).")
    return r, c


def _assign_blocks(
    r: np.ndarray, c: np.ndarray, cls: np.ndarray, block_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """The half (0 or 1) of each chip, and the number of blocks: blocks in random order, each to the
    half it least unbalances (per class; totals without classes)."""
    block_of = (r // block_size) * (int(c.max()) // block_size + 1) + c // block_size
    blocks, inverse = np.unique(block_of, return_inverse=True)
    if len(blocks) < 2:
        raise InputError(
            f"All {len(r)} chips fall into one {block_size}x{block_size} block; "
            "use a smaller block size (--block-km) for the blocked split."
        )
    n_cls = int(cls.max()) + 1
    comp = np.zeros((len(blocks), n_cls), dtype=np.int64)
    np.add.at(comp, (inverse, cls), 1)
    half_of_block = np.empty(len(blocks), dtype=np.int64)
    counts = np.zeros((2, n_cls), dtype=np.int64)
    for b in rng.permutation(len(blocks)):
        cost = [float((((counts[h] + comp[b]) - counts[1 - h]) ** 2).sum()) for h in (0, 1)]
        h = 0 if cost[0] < cost[1] or (cost[0] == cost[1] and counts[0].sum() <= counts[1].sum()) else 1
        half_of_block[b] = h
        counts[h] += comp[b]
    return half_of_block[inverse], len(blocks)


def _near_other_half(r: np.ndarray, c: np.ndarray, half: np.ndarray, buffer: int) -> np.ndarray:
    """Chips within ``buffer`` chips (Chebyshev distance) of a chip of the other half."""
    pos_half = {(int(rr), int(cc)): int(hh) for rr, cc, hh in zip(r, c, half)}
    near_other = np.zeros(len(r), dtype=bool)
    if buffer > 0:
        offsets = [(dr, dc) for dr in range(-buffer, buffer + 1) for dc in range(-buffer, buffer + 1)]
        for i, (rr, cc, hh) in enumerate(zip(r.tolist(), c.tolist(), half.tolist())):
            near_other[i] = any(pos_half.get((rr + dr, cc + dc), hh) != hh for dr, dc in offsets)
    return near_other


def _blocked_halves(
    arr: np.ndarray,
    cls: np.ndarray,
    half: np.ndarray,
    near_other: np.ndarray,
    buffer: int,
    vf: float,
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """Per half: its chips, its validation chips (drawn from its usable chips as in the random split)
    and its excluded chips (within the buffer of the other half)."""
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
                f"the {buffer}-chip buffer; use a larger block size or a smaller buffer."
            )
        order = rng.permutation(np.flatnonzero(usable))
        vals.append(stratified_val(arr[order], cls[order], n_val(n_usable, vf)))
    return halves, vals, excluded


def blocked_split(
    ids: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    seed: int = 0,
    *,
    block_size: int = DEFAULT_BLOCK_SIZE,
    val_fraction: float = DEFAULT_VAL_FRACTION,
    buffer: int = DEFAULT_BUFFER,
    classes: np.ndarray | None = None,
) -> ProtocolSplit:
    """Spatially blocked split (see the module docstring).

    Args:
        ids: unique chip ids.
        rows, cols: grid row / column of each chip (same length as ``ids``).
        seed: seed of the block assignment.
        block_size: block edge in chips.
        val_fraction: validation share of each half's usable chips.
        buffer: chips within this Chebyshev distance of the other half leave train/validation.
        classes: density class of each chip: balance the halves' class counts and stratify the
            validation chips.
    """
    arr = check_ids(ids)
    vf = check_fraction(val_fraction)
    cls = check_classes(classes, arr)
    r, c = _check_positions(arr, rows, cols)
    if block_size < 1:
        raise ConfigError(f"block_size must be >= 1 chip, got {block_size}.")
    if buffer < 0:
        raise ConfigError(f"buffer must be >= 0 chips, got {buffer}.")
    rng = np.random.default_rng(seed)
    half, n_blocks = _assign_blocks(r, c, cls, block_size, rng)
    near_other = _near_other_half(r, c, half, buffer)
    halves, vals, excluded = _blocked_halves(arr, cls, half, near_other, buffer, vf, rng)
    split = ProtocolSplit(
        kind="blocked",
        folds=make_folds(halves, vals, excluded),
        seed=int(seed),
        params={
            "val_fraction": vf,
            "block_size": int(block_size),
            "buffer": int(buffer),
            "stratified": classes is not None,
        },
    )
    split.validate(arr)
    logger.info(
        "Blocked split (%dx%d blocks, buffer %d) of %d chips in %d blocks: fold A train/val/test/"
        "excluded %d/%d/%d/%d, fold B %d/%d/%d/%d.",
        block_size,
        block_size,
        buffer,
        len(arr),
        n_blocks,
        *(len(s) for f in split.folds for s in (f.train, f.val, f.test, f.excluded)),
    )
    if classes is not None:
        logger.debug("Class counts per fold: %s", class_counts(split, arr, cls))
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
    split: ProtocolSplit | SplitKind,
    ids: np.ndarray,
    seed: int,
    reader: Any,
    rows: np.ndarray | None = None,
    cols: np.ndarray | None = None,
    *,
    classes: np.ndarray | None = None,
    block_size: int | None = None,
    buffer: int | None = None,
) -> ProtocolSplit:
    """The protocol split over ``ids``, built exactly as the CNN pipeline builds it.

    ``classes``: the chips' density classes (aligned with ``ids``) to stratify by; when None they
    are read from ``reader.index["density_class"]`` where the reader has one (a labelled chip
    store), else the split is not stratified. ``block_size``/``buffer``: blocked split options
    (defaults :data:`DEFAULT_BLOCK_SIZE`, :data:`DEFAULT_BUFFER`).
    """
    if isinstance(split, ProtocolSplit):
        try:
            split.validate(ids)
        except AssertionError as err:
            raise InputError(f"The split does not fit the chip ids: {err}. Rebuild the split.") from err
        return split
    index = getattr(reader, "index", None)
    columns = set(getattr(index, "columns", ()))
    if split == "blocked" and (rows is None or cols is None):
        if index is None or not {"chip_id", "row", "col"} <= columns:
            raise ConfigError("The blocked split needs the chips' grid rows and cols (pass rows=, cols=).")
        pos = index.set_index("chip_id").loc[ids]
        rows, cols = pos["row"].to_numpy(), pos["col"].to_numpy()
    if classes is None and index is not None and {"chip_id", "density_class"} <= columns:
        classes = index.set_index("chip_id").loc[ids, "density_class"].to_numpy(dtype=np.int64)
    options: dict[str, object] = {"classes": classes}
    if split == "blocked":
        if block_size is not None:
            options["block_size"] = int(block_size)
        if buffer is not None:
            options["buffer"] = int(buffer)
    return make_split(split, ids, seed, rows=rows, cols=cols, **options)
