"""Training of the embedding network and model selection (:func:`fit_embedding_model`).

* normalisation statistics are fitted on the training chips only (one streaming pass);
* Adam, the paper's batch loss (:mod:`landslide_app.model.loss`), shuffled batches;
* **model selection**: after every epoch the loss of equation 1 is computed over the whole
  validation set pooled as one batch; the epoch with the lowest validation loss is kept (ties:
  the earliest). When the validation set is empty or holds no positive pixel the loss cannot
  rank epochs and the last epoch is kept (a warning says so). The loss is used rather than a
  forest AUC because it needs no extra pass over the training chips per epoch;
* CUDA when available (or ``device=``), else CPU, with no code change; ``channels_last``
  memory format (about 2x faster convolutions on CPU); on CPU the dilated convolutions train on
  their phase sub-grids (``conv``, :mod:`landslide_app.model.dilated`); ``precision="bf16"`` enables bfloat16
  autocast for the network (the loss is always computed in float32); ``"auto"`` (the default) picks bf16 where
  the device has bf16 units (:func:`landslide_app.model.runtime.resolve_precision`);
* the prepared training and validation tensors are **cached in memory** once when they fit a
  budget (``cache_bytes``, default :data:`~landslide_app.core.memory.DEFAULT_CACHE_BYTES`, at
  most a quarter of the available memory); larger sets stream from the chip source every epoch
  (:mod:`landslide_app.model.batches`). Both paths give bit-identical results;
* seeded (weights, batch order) and deterministic on CPU: the same seed gives bit-identical
  embeddings. Global state (torch RNG, deterministic-algorithm flags) is restored afterwards
  (:func:`landslide_app.model.device.seeded`).

Chip sets are read lazily (:mod:`landslide_app.model.chipsets`); the result is a
:class:`~landslide_app.model.trained.TrainedModel` (embedding, checkpoints).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from landslide_app.core.memory import memory_budget
from landslide_app.core.vocabulary import (
    DEFAULT_LR,
    DEFAULT_TRAIN_CONV,
    PrecisionArg,
    TrainConvArg,
    check_learning_rate,
)
from landslide_app.errors import ConfigError, InputError
from landslide_app.model.batches import PreparedChips, iter_batches, prepare_in_memory
from landslide_app.model.chipsets import ArrayChips, ChipSubset, as_batch_getter, as_subset
from landslide_app.model.device import autocast, resolve_device, seeded
from landslide_app.model.dilated import resolve_train_conv
from landslide_app.model.inputs import ModelConfig, NormStats, fit_norm_stats
from landslide_app.model.loss import LossAccumulator, loss_parts
from landslide_app.model.network import DEFAULT_WIDTH, EmbeddingNet
from landslide_app.model.runtime import resolve_precision, tune_malloc
from landslide_app.model.trained import TrainedModel

# re-exported for callers not yet moved to chipsets / trained (experiments/production.py, a test)
__all__ = [
    "DEFAULT_LR",
    "DEFAULT_PRECISION",
    "ArrayChips",
    "ChipSubset",
    "TrainedModel",
    "as_batch_getter",
    "fit_embedding_model",
]

logger = logging.getLogger(__name__)

#: Default training precision: bf16 where the device has bf16 units (see ``runtime``), else fp32.
DEFAULT_PRECISION: PrecisionArg = "auto"


def _validation_loss(
    model: TrainedModel,
    val: ChipSubset,
    batch_size: int,
    cache: PreparedChips | None = None,
) -> tuple[float, int]:
    acc = LossAccumulator()
    model.net.eval()
    with torch.no_grad():
        for x, label, valid in iter_batches(
            val, cache, model.config, model.stats, batch_size, model.device, "Validation"
        ):
            with autocast(model.device, model.precision):
                emb = model.net(x)
            acc.add(loss_parts(emb.float(), label, valid))
    return acc.loss(), acc.pos_count


def _fit_stats(
    train: ChipSubset, config: ModelConfig, batch_size: int, budget: int
) -> tuple[NormStats, list[tuple[np.ndarray, np.ndarray]] | None]:
    """Normalisation statistics of the training chips in one streaming pass, and the ``(ids, chips)``
    batches read for them when they all fit ``budget`` (kept for the in-memory cache), else None."""
    raw: list[tuple[np.ndarray, np.ndarray]] | None = [] if budget > 0 else None
    held = 0

    def stat_batches() -> Iterator[np.ndarray]:
        nonlocal raw, held
        for ids_b, chips in train.batches(max(batch_size, 32)):
            if raw is not None:
                held += chips.nbytes
                if held <= budget:
                    raw.append((ids_b, chips))
                else:
                    raw = None
            yield chips

    stats = fit_norm_stats(stat_batches(), revisits=config.revisits)
    return stats, raw


def _train_one_epoch(
    model: TrainedModel,
    opt: torch.optim.Optimizer,
    train: ChipSubset,
    cache: PreparedChips | None,
    batch_size: int,
    order: np.ndarray,
    bar: Any,
) -> list[float]:
    """One pass over the training chips in ``order``; the loss of every batch that had valid pixels."""
    net, dev = model.net, model.device
    net.train()
    losses: list[float] = []
    for x, label, valid in iter_batches(
        train, cache, model.config, model.stats, batch_size, dev, "Training", order=order
    ):
        with autocast(dev, model.precision):
            emb = net(x)
        parts = loss_parts(emb.float(), label, valid)
        bar.update(1)
        if parts.pos_count + parts.neg_count == 0:
            continue  # nothing valid to learn from in this batch
        loss = parts.loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses


def _train_and_select(
    model: TrainedModel,
    train: ChipSubset,
    val: ChipSubset,
    caches: tuple[PreparedChips | None, PreparedChips | None],
    epochs: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator,
    progress: bool,
) -> None:
    """Train ``model`` for ``epochs`` and leave it with the weights of the selected epoch (see the
    module docstring), recording each epoch in ``model.history``."""
    net, name = model.net, model.config.name
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    n_batches = -(-len(train) // batch_size)
    best_loss = float("inf")
    best_state: dict[str, torch.Tensor] | None = None
    warned = False
    with tqdm(total=epochs * n_batches, desc=f"train {name}", disable=not progress) as bar:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = rng.permutation(train.ids)
            losses = _train_one_epoch(model, opt, train, caches[0], batch_size, order, bar)
            t_train = time.perf_counter() - t0
            val_loss, val_pos = _validation_loss(model, val, batch_size, caches[1]) if len(val) else (float("nan"), 0)
            train_loss = float(np.mean(losses)) if losses else float("nan")
            model.history.append(
                {
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "val_loss": val_loss,
                    "seconds": time.perf_counter() - t0,
                    "train_seconds": t_train,
                }
            )
            bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
            logger.debug("%s epoch %d: train loss %.4f, validation loss %.4f", name, epoch, train_loss, val_loss)
            selectable = val_pos > 0 and np.isfinite(val_loss)
            if not selectable and not warned:
                logger.warning(
                    "Validation set of %s is empty or holds no landslide pixel; keeping the last epoch.", name
                )
                warned = True
            if selectable and val_loss < best_loss:
                best_loss = val_loss
                model.best_epoch = epoch
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    if best_state is None:  # no selectable epoch: keep the last one
        model.best_epoch = epochs
    else:
        net.load_state_dict(best_state)


def fit_embedding_model(
    chips_train: Any,
    chips_val: Any | None,
    config: ModelConfig,
    epochs: int = 10,
    batch_size: int = 8,
    seed: int = 0,
    device: str | torch.device | None = None,
    progress: bool = True,
    *,
    lr: float = DEFAULT_LR,
    width: int = DEFAULT_WIDTH,
    precision: PrecisionArg = DEFAULT_PRECISION,
    stats: NormStats | None = None,
    cache_bytes: int | None = None,
    conv: TrainConvArg = DEFAULT_TRAIN_CONV,
) -> TrainedModel:
    """Train the embedding network of ``config`` and select the epoch on validation.

    Long only for its documented arguments; the steps are :func:`_fit_stats`, the caches and
    :func:`_train_and_select`.

    Args:
        chips_train: training chips: an array ``(N, 17, H, W)``, a :class:`ChipSubset` or a
            ``(reader, ids)`` pair (read lazily, batch by batch).
        chips_val: validation chips, same forms, or ``None`` (empty or ``None``: the last epoch
            is kept).
        config: inputs and revisits.
        epochs: training epochs (>= 1).
        batch_size: chips per batch (the loss is pooled over a batch, paper eq. 1).
        seed: seeds weights and batch order.
        device: ``"cpu"``, ``"cuda"``, ... (default: CUDA if available).
        progress: show a ``tqdm`` bar.
        lr: Adam learning rate, in (0, 1] (default :data:`~landslide_app.core.vocabulary.DEFAULT_LR`).
        width: hidden channels of the network.
        precision: ``"fp32"``, ``"bf16"`` (autocast) or ``"auto"`` (bf16 where the device has
            bf16 units, else fp32; the resolved value is stored in the model).
        stats: normalisation statistics to use instead of fitting them on ``chips_train``.
        cache_bytes: cap of the in-memory cache of prepared training + validation tensors
            (default 1 GiB, at most a quarter of the available memory; 0: always stream).
        conv: how the dilated convolutions train: ``"auto"`` (the weight gradient on their phase
            sub-grids on CPU in fp32, else the dilated kernel), ``"phase"`` or ``"direct"`` (see
            :mod:`landslide_app.model.dilated`; the resolved value is stored in the model).

    Returns:
        The :class:`TrainedModel` holding the weights of the selected epoch.
    """
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"config must be a ModelConfig, got {type(config).__name__}.")
    if epochs < 1:
        raise ConfigError(f"epochs must be >= 1, got {epochs}.")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
    lr = check_learning_rate(lr)
    train = as_subset(chips_train)
    val = as_subset(chips_val) if chips_val is not None else ChipSubset(train.get_batch, np.empty(0, np.int64))
    if len(train) == 0:
        raise InputError("No training chips: the model cannot be trained.")
    dev = resolve_device(device)
    precision = resolve_precision(precision, dev)
    train_conv = resolve_train_conv(conv, dev, precision)
    tune_malloc()
    t_start = time.perf_counter()
    budget = memory_budget(cache_bytes)  # host memory; batches move to the device as they are used
    raw: list[tuple[np.ndarray, np.ndarray]] | None = None
    if stats is None:  # the chips read for the statistics are kept for the cache when they fit
        stats, raw = _fit_stats(train, config, batch_size, budget)
    stats.check_usable(config)
    rng = np.random.default_rng(seed)
    x_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    train_cache = prepare_in_memory(train, config, stats, budget, x_dtype, "Training", raw=raw)
    raw = None
    val_budget = budget - (train_cache.nbytes if train_cache else 0)
    val_cache = prepare_in_memory(val, config, stats, val_budget, x_dtype, "Validation")

    with seeded(seed, dev):
        # nn.Module.to accepts memory_format at runtime; torch's overload stubs omit it.
        net = EmbeddingNet.for_config(config, width).to(dev)
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        net.set_train_conv(train_conv)
        model = TrainedModel(
            config, stats, net, best_epoch=0, seed=seed, precision=precision, device=dev, train_conv=train_conv
        )
        _train_and_select(model, train, val, (train_cache, val_cache), epochs, batch_size, lr, rng, progress)
    logger.info(
        "Trained %s on %d chips (%d validation) for %d epochs in %.1f s; selected epoch %d.",
        config.name,
        len(train),
        len(val),
        epochs,
        time.perf_counter() - t_start,
        model.best_epoch,
    )
    return model
