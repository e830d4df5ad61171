"""Training loop: lazy data access, model selection, determinism, checkpoints."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from landslide_app.errors import ConfigError, InputError
from landslide_app.model.chipsets import ArrayChips, ChipSubset, as_batch_getter
from landslide_app.model.device import resolve_device
from landslide_app.model.inputs import ModelConfig
from landslide_app.model.train import fit_embedding_model
from landslide_app.model.trained import TrainedModel

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def make_chips(n, size=16, seed=0, patch=5):
    """Chips whose landslide heads sit on steep, VH-darkened patches (the label follows the inputs)."""
    rng = np.random.default_rng(seed)
    ch = np.empty((n, 17, size, size), np.float32)
    ch[:, 0] = rng.normal(500, 50, (n, size, size))
    ch[:, 1] = rng.uniform(0, 20, (n, size, size))
    ch[:, 2] = rng.normal(0, 1, (n, size, size))
    ch[:, 3] = rng.uniform(0, 360, (n, size, size))
    ch[:, 4:16] = rng.gamma(4.0, 0.0125, (n, 12, size, size))
    ch[:, 16] = 0.0
    h = patch // 2
    for i in range(n):
        for _ in range((0, 1, 4)[i % 3]):
            r, c = rng.integers(h, size - h, 2)
            ch[i, 16, r, c] += 1
            ch[i, 1, r - h : r + h + 1, c - h : c + h + 1] += 25
            ch[i, 11:16:2, r - h : r + h + 1, c - h : c + h + 1] *= 0.25
    ch[:, :, 0, :2] = np.nan  # masked pixels
    return ch


CHIPS = make_chips(24)
CFG = ModelConfig("fused", 2)


def fit(seed=0, epochs=2, **kw):
    return fit_embedding_model(
        CHIPS[:16], CHIPS[16:], CFG, epochs=epochs, batch_size=4, seed=seed, progress=False, **kw
    )


def test_training_learns_and_selects_best_validation_epoch():
    m = fit(epochs=8)  # the default rate (1e-3) needs about 6 epochs on these 16 chips; 3e-3 needed 3
    losses = [h["val_loss"] for h in m.history]
    assert len(losses) == 8 and all(np.isfinite(losses))
    assert m.best_epoch == int(np.argmin(losses)) + 1
    assert min(losses) < losses[0] < 1.0
    emb = m.embed(CHIPS)
    assert emb.shape == (24, 16, 16)
    assert np.isnan(emb[:, 0, :2]).all() and np.isfinite(emb[:, 1:]).all()
    assert np.nanmin(emb) >= 0 and np.nanmax(emb) <= 1
    # heads (label > 0) score higher than the rest on average
    lab = CHIPS[:, 16]
    assert np.nanmean(emb[lab > 0]) > np.nanmean(emb[lab == 0]) + 0.2


def test_deterministic_on_cpu_and_global_state_restored():
    torch.manual_seed(123)
    expected_next = torch.rand(3)
    torch.manual_seed(123)
    det_before = torch.are_deterministic_algorithms_enabled()
    fill_before = torch.utils.deterministic.fill_uninitialized_memory
    a = fit(seed=7).embed(CHIPS)
    assert torch.equal(torch.rand(3), expected_next)  # caller's RNG stream untouched
    assert torch.are_deterministic_algorithms_enabled() == det_before
    assert torch.utils.deterministic.fill_uninitialized_memory == fill_before  # switched off only while training
    b = fit(seed=7).embed(CHIPS)
    np.testing.assert_array_equal(a, b)
    c = fit(seed=8).embed(CHIPS)
    assert not np.array_equal(a, c, equal_nan=True)


def _recording_chips():
    """Chip ids 100..123 over CHIPS, and the list of id batches read from them."""
    requested: list[list[int]] = []
    store = ArrayChips(CHIPS, ids=np.arange(100, 124))

    def get_batch(ids):
        requested.append([int(i) for i in ids])
        return store(ids)

    return get_batch, requested


def test_lazy_access_reads_only_train_and_val_in_batches():
    get_batch, requested = _recording_chips()
    train_ids, val_ids = np.arange(100, 112), np.arange(112, 118)
    fit_embedding_model(
        ChipSubset(get_batch, train_ids),
        ChipSubset(get_batch, val_ids),
        CFG,
        epochs=1,
        batch_size=4,
        seed=0,
        progress=False,
        cache_bytes=0,
    )
    seen = {i for batch in requested for i in batch}
    assert seen == set(train_ids) | set(val_ids)  # held-out chips 118..123 never read
    assert max(len(b) for b in requested[1:]) <= 4  # training / validation batches


def test_in_memory_cache_reads_once_and_matches_streaming():
    get_batch, requested = _recording_chips()
    train_ids, val_ids = np.arange(100, 112), np.arange(112, 118)
    for precision in ("fp32", "bf16"):
        requested.clear()
        cached = fit_embedding_model(
            ChipSubset(get_batch, train_ids),
            ChipSubset(get_batch, val_ids),
            CFG,
            epochs=3,
            batch_size=4,
            seed=0,
            progress=False,
            precision=precision,
        )
        n_reads = sum(len(b) for b in requested)
        assert n_reads == len(train_ids) + len(val_ids)  # one pass (statistics + cache), not per epoch
        streamed = fit_embedding_model(
            ChipSubset(get_batch, train_ids),
            ChipSubset(get_batch, val_ids),
            CFG,
            epochs=3,
            batch_size=4,
            seed=0,
            progress=False,
            precision=precision,
            cache_bytes=0,
        )
        assert sum(len(b) for b in requested) - n_reads > 3 * (len(train_ids) + len(val_ids))
        assert [h["val_loss"] for h in cached.history] == [h["val_loss"] for h in streamed.history]
        np.testing.assert_array_equal(cached.embed(CHIPS), streamed.embed(CHIPS))


def test_empty_validation_keeps_last_epoch(caplog):
    with caplog.at_level(logging.WARNING):
        m = fit_embedding_model(CHIPS[:8], CHIPS[:0], CFG, epochs=2, batch_size=4, seed=0, progress=False)
    assert m.best_epoch == 2
    assert "keeping the last epoch" in caplog.text


def test_checkpoint_round_trip_weights_only(tmp_path):
    m = fit(epochs=1)
    path = m.save(tmp_path / "model.pt")
    raw = torch.load(path, weights_only=True)  # plain tensors and values only
    assert raw["config"] == {"inputs": "fused", "revisits": 2}
    back = TrainedModel.load(path, config=CFG, device="cpu")
    np.testing.assert_array_equal(back.embed(CHIPS), m.embed(CHIPS))
    assert back.stats == m.stats and back.best_epoch == m.best_epoch and back.history == m.history
    with pytest.raises(ConfigError, match="inputs='sar', revisits=2 was requested"):
        TrainedModel.load(path, config=ModelConfig("sar", 2))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"garbage")
    with pytest.raises(InputError):
        TrainedModel.load(bad)


def test_bf16_path_runs():
    m = fit(epochs=1, precision="bf16")
    emb = m.embed(CHIPS[:4])
    assert emb.dtype == np.float32 and np.nanmax(emb) <= 1 and np.nanmin(emb) >= 0


def test_bad_arguments():
    with pytest.raises(ConfigError):
        fit(epochs=0)
    with pytest.raises(ConfigError):
        fit(precision="fp8")
    with pytest.raises(InputError):
        fit_embedding_model(CHIPS[:0], CHIPS[:2], CFG, epochs=1, progress=False)
    with pytest.raises(InputError):
        as_batch_getter(42)
    assert resolve_device(None).type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError):
            resolve_device("cuda")
