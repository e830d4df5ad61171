"""The two folds of a protocol split (:class:`Fold`, :class:`ProtocolSplit`) and the steps both
splits of :mod:`landslide_app.model.protocol` share: checked ids and classes, stratified validation
chips, folds from halves."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from landslide_app.core.vocabulary import SplitKind
from landslide_app.errors import ConfigError, InputError


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


def check_ids(ids: np.ndarray) -> np.ndarray:
    """``ids`` as int64 after checking them 1-D, unique and at least 4 (2 halves x train/validation)."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise InputError(f"Chip ids must be 1-D, got shape {arr.shape}.")
    if len(np.unique(arr)) != len(arr):
        raise InputError("Chip ids must be unique.")
    if len(arr) < 4:
        raise InputError(f"The protocol needs at least 4 chips (2 halves x train/validation), got {len(arr)}.")
    return arr.astype(np.int64)


def check_fraction(val_fraction: float) -> float:
    """``val_fraction`` as a float in (0, 1) (ConfigError otherwise)."""
    if not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction}.")
    return float(val_fraction)


def n_val(n: int, val_fraction: float) -> int:
    """Validation size of a half of ``n`` chips: round(fraction * n), at least 1, leaving >= 1 train."""
    return int(min(max(round(val_fraction * n), 1), n - 1))


def check_classes(classes: np.ndarray | None, ids: np.ndarray) -> np.ndarray:
    """Integer classes aligned with ``ids`` (all zeros when None: no stratification)."""
    if classes is None:
        return np.zeros(len(ids), dtype=np.int64)
    c = np.asarray(classes)
    if c.shape != ids.shape:
        raise InputError(f"classes must give one class per chip id ({len(ids)}), got shape {c.shape}.")
    return c.astype(np.int64)


def _quotas(sizes: np.ndarray, target: int) -> np.ndarray:
    """Split ``target`` over groups of ``sizes`` in proportion (largest remainders), each group
    keeping at least one member out (so every class present keeps a training chip)."""
    cap = np.maximum(sizes - 1, 0)
    target = int(min(target, cap.sum()))
    exact = target * sizes / max(int(sizes.sum()), 1)
    out = np.minimum(np.floor(exact).astype(np.int64), cap)
    while out.sum() < target:  # terminates: target <= cap.sum()
        k = int(np.argmax(np.where(out < cap, exact - out, -np.inf)))  # ties: lowest class first
        out[k] += 1
    return out


def stratified_val(half: np.ndarray, half_classes: np.ndarray, target: int) -> np.ndarray:
    """``target`` validation chips of a half (in its given random order), each class its share."""
    ks, sizes = np.unique(half_classes, return_counts=True)
    if len(ks) == 1:
        return half[:target]
    take = _quotas(sizes, target)
    return np.concatenate([half[half_classes == k][:t] for k, t in zip(ks, take)])


def make_folds(halves: list[np.ndarray], vals: list[np.ndarray], excluded: list[np.ndarray]) -> tuple[Fold, Fold]:
    """Folds A and B: each trains on its half less its validation and excluded chips and predicts the other half."""
    folds = []
    for h, name in enumerate(("A", "B")):
        other = halves[1 - h]
        val = np.sort(vals[h])
        exc = np.sort(excluded[h])
        train = np.sort(np.setdiff1d(halves[h], np.concatenate([val, exc])))
        folds.append(Fold(name=name, train=train, val=val, test=np.sort(other), excluded=exc))
    return folds[0], folds[1]


def class_counts(split: ProtocolSplit, ids: np.ndarray, classes: np.ndarray) -> dict[str, dict[str, list[int]]]:
    """Chips per class in each fold's train, validation and test sets (for the log)."""
    n_classes = int(classes.max()) + 1 if len(classes) else 0
    of = dict(zip(ids.tolist(), classes.tolist()))

    def count(sel: np.ndarray) -> list[int]:
        return np.bincount([of[int(i)] for i in sel], minlength=n_classes).astype(int).tolist()

    return {f.name: {"train": count(f.train), "val": count(f.val), "test": count(f.test)} for f in split.folds}
