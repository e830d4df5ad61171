"""The paper's cross-prediction protocol and the spatially blocked split."""

from __future__ import annotations

import numpy as np
import pytest

from landslide_app.errors import ConfigError, InputError
from landslide_app.model.protocol import Fold, ProtocolSplit, blocked_split, make_split, random_split


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
