"""The paper's cross-prediction protocol and the spatially blocked split."""

from __future__ import annotations

import numpy as np
import pytest

from landslide_app.errors import ConfigError, InputError
from landslide_app.model.protocol import (
    DEFAULT_BLOCK_KM,
    DEFAULT_BLOCK_SIZE,
    Fold,
    ProtocolSplit,
    block_size_for_km,
    blocked_split,
    make_split,
    random_split,
    resolve_split,
)


def predicted_once(split, ids):
    tests = np.concatenate([f.test for f in split.folds])
    assert sorted(tests.tolist()) == sorted(np.asarray(ids).tolist())


def no_leak(split):
    for f in split.folds:
        held_out = set(f.test.tolist())
        assert not held_out & set(f.train.tolist())
        assert not held_out & set(f.val.tolist())
        assert not set(f.train.tolist()) & set(f.val.tolist())


def test_random_split_sizes_and_invariants():
    ids = np.arange(1000, 1100)
    s = random_split(ids, seed=3)
    predicted_once(s, ids)
    no_leak(s)
    for f in s.folds:
        assert (len(f.train), len(f.val), len(f.test)) == (40, 10, 50)  # 40 / 10 / 50 %
    a, b = s.folds
    assert set(a.train) | set(a.val) == set(b.test)
    np.testing.assert_array_equal(random_split(ids, seed=3).folds[0].train, a.train)
    assert not np.array_equal(random_split(ids, seed=4).folds[0].train, a.train)


def test_random_split_odd_and_small():
    ids = np.arange(7)
    s = random_split(ids, seed=0)
    predicted_once(s, ids)
    no_leak(s)
    assert all(len(f.train) >= 1 and len(f.val) >= 1 for f in s.folds)
    with pytest.raises(InputError):
        random_split(np.arange(3))
    with pytest.raises(InputError):
        random_split(np.array([1, 1, 2, 3]))


def grid(n_rows=12, n_cols=10):
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    ids = 1000 + rows * 100 + cols
    return ids, rows, cols


def test_blocked_split_whole_blocks_buffer_and_coverage():
    ids, rows, cols = grid()
    s = blocked_split(ids, rows, cols, seed=1, block_size=4, buffer=1)
    predicted_once(s, ids)
    no_leak(s)
    assert s.params["buffer"] == 1
    half_of = {}
    for f, other in zip(s.folds, ("B", "A")):
        for i in f.test:
            half_of[int(i)] = other  # fold A predicts half B
    block = {int(i): (r // 4, c // 4) for i, r, c in zip(ids, rows, cols)}
    by_block = {}
    for i, b in block.items():
        by_block.setdefault(b, set()).add(half_of[i])
    assert all(len(h) == 1 for h in by_block.values())  # whole blocks per half
    pos = {int(i): (int(r), int(c)) for i, r, c in zip(ids, rows, cols)}
    for f in s.folds:
        test_pos = [pos[int(i)] for i in f.test]
        for i in np.concatenate([f.train, f.val]):
            r, c = pos[int(i)]
            assert min(max(abs(r - tr), abs(c - tc)) for tr, tc in test_pos) > 1  # buffer respected
        assert len(f.excluded) > 0 and len(f.val) > 0 and len(f.train) > len(f.val)
    s0 = blocked_split(ids, rows, cols, seed=1, block_size=4, buffer=0)
    assert all(len(f.excluded) == 0 for f in s0.folds)
    predicted_once(s0, ids)


def test_validate_catches_leaks():
    ids = np.arange(20)
    s = random_split(ids, seed=0)
    a, b = s.folds
    leaky = Fold("A", np.r_[a.train, a.test[:1]], a.val, a.test)
    with pytest.raises(AssertionError):
        ProtocolSplit("random", (leaky, b), 0).validate(ids)
    with pytest.raises(AssertionError):
        s.validate(np.arange(21))


def test_make_split():
    ids, rows, cols = grid(8, 8)
    assert make_split("random", ids, 0).kind == "random"
    assert make_split("blocked", ids, 0, rows=rows, cols=cols, block_size=2).kind == "blocked"
    with pytest.raises(ConfigError):
        make_split("blocked", ids, 0)
    with pytest.raises(ConfigError):
        make_split("spatial", ids, 0)  # type: ignore[arg-type]


def _class_counts(ids, classes, sel):
    of = dict(zip(ids.tolist(), classes.tolist()))
    return np.bincount([of[int(i)] for i in sel], minlength=3)


def test_random_split_is_stratified_by_class():
    ids = np.arange(200)
    classes = np.r_[np.zeros(50), np.ones(140), np.full(10, 2)].astype(int)
    for seed in range(20):
        s = random_split(ids, seed=seed, classes=classes)
        predicted_once(s, ids)
        no_leak(s)
        for f in s.folds:
            assert (len(f.train), len(f.val), len(f.test)) == (80, 20, 100)  # shares unchanged
            np.testing.assert_array_equal(_class_counts(ids, classes, f.test), [25, 70, 5])
            # validation: 20 of 100 chips, each class its share (5 / 14 / 1)
            np.testing.assert_array_equal(_class_counts(ids, classes, f.val), [5, 14, 1])
            np.testing.assert_array_equal(_class_counts(ids, classes, f.train), [20, 56, 4])
    assert s.params["stratified"] is True


def test_random_split_with_rare_class_trains_on_it_in_both_folds():
    ids = np.arange(30)
    classes = np.r_[np.zeros(10), np.ones(18), np.full(2, 2)].astype(int)
    for seed in range(50):  # an unstratified draw puts both class-2 chips in one half ~half the time
        s = random_split(ids, seed=seed, classes=classes)
        for f in s.folds:
            assert _class_counts(ids, classes, f.train)[2] == 1


def test_unstratified_random_split_is_the_old_draw():
    """Without classes the split is the paper's plain random draw (same permutation as before)."""
    ids = np.arange(1000, 1100)
    s = random_split(ids, seed=3)
    perm = np.random.default_rng(3).permutation(ids)
    np.testing.assert_array_equal(np.sort(s.folds[1].test), np.sort(perm[:50]))
    np.testing.assert_array_equal(np.sort(s.folds[0].val), np.sort(perm[:10]))
    assert s.params["stratified"] is False


def test_blocked_split_has_the_random_split_training_share():
    ids, rows, cols = grid(20, 20)
    classes = (rows * 7 + cols * 3) % 5 // 2  # 0, 1, 2 in shares 2/5, 2/5, 1/5
    rnd = random_split(ids, seed=0, classes=classes)
    for seed in range(5):
        blk = blocked_split(ids, rows, cols, seed=seed, block_size=5, classes=classes)
        predicted_once(blk, ids)
        no_leak(blk)
        assert blk.params["buffer"] == 0
        for fb, fr in zip(blk.folds, rnd.folds):
            half = len(fb.train) + len(fb.val)
            assert len(fb.excluded) == 0
            assert len(fb.val) == round(0.2 * half)
            assert abs(len(fb.train) - len(fr.train)) <= 8  # halves balanced to within a 5x5 block's spread
            tc = _class_counts(ids, classes, fb.train)
            assert np.all(tc > 0)
        total = sum(len(f.train) for f in blk.folds)
        assert total == sum(len(f.train) for f in rnd.folds)  # 40 % of all chips per fold on average


def test_blocked_split_balances_classes_over_halves():
    ids, rows, cols = grid(24, 24)
    classes = np.where(rows < 6, 2, np.where(cols < 12, 1, 0))  # class 2 only in the top band of blocks
    s = blocked_split(ids, rows, cols, seed=2, block_size=6, classes=classes)
    for f in s.folds:
        counts = _class_counts(ids, classes, np.concatenate([f.train, f.val]))
        assert counts[2] >= 24  # each half gets class-2 blocks (4 blocks of 36 chips in all)
        assert _class_counts(ids, classes, f.val)[2] >= 1


def test_block_size_for_km():
    assert DEFAULT_BLOCK_SIZE == 6 and block_size_for_km(DEFAULT_BLOCK_KM, 1.28) == 6
    assert block_size_for_km(5.0, 1.28) == 4
    assert block_size_for_km(0.3, 1.28) == 1
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ConfigError, match="block-km"):
            block_size_for_km(bad, 1.28)


class _Reader:
    def __init__(self, index):
        self.index = index


def test_resolve_split_reads_classes_and_block_size_from_the_reader():
    import pandas as pd

    ids, rows, cols = grid(12, 12)
    classes = (rows + cols) % 3
    reader = _Reader(pd.DataFrame({"chip_id": ids, "row": rows, "col": cols, "density_class": classes}))
    s = resolve_split("random", ids, 0, reader)
    assert s.params["stratified"] is True
    assert s.to_dict() == random_split(ids, 0, classes=classes).to_dict()
    b = resolve_split("blocked", ids, 0, reader, block_size=3)
    assert b.params["block_size"] == 3 and b.params["stratified"] is True
    plain = resolve_split("random", ids, 0, object())
    assert plain.params["stratified"] is False


def test_block_km_reaches_the_ablation_and_its_cache_key():
    from types import SimpleNamespace

    from landslide_app.experiments import ablation

    store = SimpleNamespace(grid=SimpleNamespace(chip_size=128, resolution=10.0))
    s = ablation.AblationSettings(block_km=5.0)
    assert ablation._block_size(store, s) == 4  # type: ignore[arg-type]
    assert ablation._split_key(store, "blocked", s) == {"block_size": 4}  # type: ignore[arg-type]
    assert ablation._split_key(store, "random", s) == {}  # type: ignore[arg-type]  random caches unchanged
    assert ablation._block_size(store, ablation.AblationSettings()) == DEFAULT_BLOCK_SIZE  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="block-km"):
        ablation.AblationSettings(block_km=0.0)
