"""Training of the embedding network, model selection, inference and checkpoints.

Data access is lazy: chips are read batch by batch through a *batch getter*, a callable
``get_batch(ids) -> np.ndarray (len(ids), 17, H, W)`` (see :func:`as_batch_getter`: a chip store
with ``read_many``, any callable, or an in-memory array via :class:`ArrayChips`), so a large store
is never loaded whole. A :class:`ChipSubset` pairs a getter with the ids of a set.

Training (:func:`fit_embedding_model`):

* normalisation statistics are fitted on the training chips only (one streaming pass);
* Adam, the paper's batch loss (:mod:`landslide_app.model.loss`), shuffled batches;
* **model selection**: after every epoch the loss of equation 1 is computed over the whole
  validation set pooled as one batch; the epoch with the lowest validation loss is kept (ties:
  the earliest). When the validation set is empty or holds no positive pixel the loss cannot
  rank epochs and the last epoch is kept (a warning says so). The loss is used rather than a
  forest AUC because it needs no extra pass over the training chips per epoch;
* CUDA when available (or ``device=``), else CPU, with no code change; ``channels_last``
  memory format (about 2x faster convolutions on CPU); ``precision="bf16"`` enables bfloat16
  autocast for the network (the loss is always computed in float32); ``"auto"`` (the default) picks bf16 where
  the device has bf16 units (:func:`landslide_app.model.runtime.resolve_precision`);
* the prepared training and validation tensors are **cached in memory** once when they fit a
  budget (``cache_bytes``, default :data:`~landslide_app.core.memory.DEFAULT_CACHE_BYTES`, at
  most a quarter of the available memory); larger sets stream from the chip source every epoch.
  Both paths give bit-identical results;
* seeded (weights, batch order) and deterministic on CPU: the same seed gives bit-identical
  embeddings. Global state (torch RNG, deterministic-algorithm flags) is restored afterwards.

Checkpoints hold only tensors and plain values (``torch.save`` of a dict with the state dict,
configuration, normalisation statistics, history) and load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import re
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from tqdm.auto import tqdm

from landslide_app.atomic import atomic_path
from landslide_app.core.memory import memory_budget
from landslide_app.core.vocabulary import PrecisionArg
from landslide_app.errors import ConfigError, InputError, ModelFileError, UntrustedFileError
from landslide_app.model.inference import (
    EmbeddingRuntime,
    RuntimeArg,
    make_runtime,
    requested_runtime,
    weights_signature,
)
from landslide_app.model.inputs import ModelConfig, NormStats, fit_norm_stats, prepare_inputs
from landslide_app.model.loss import LossAccumulator, loss_parts
from landslide_app.model.network import DEFAULT_WIDTH, EmbeddingNet
from landslide_app.model.runtime import resolve_precision, tune_malloc

logger = logging.getLogger(__name__)

BatchGetter = Callable[[np.ndarray], np.ndarray]
Precision = Literal["fp32", "bf16"]
#: Default training precision: bf16 where the device has bf16 units (see ``runtime``), else fp32.
DEFAULT_PRECISION: PrecisionArg = "auto"
CHECKPOINT_FORMAT: str = "landslide-app-embedding/1"
DEFAULT_LR: float = 3e-3


# ---- data access -------------------------------------------------------------------------------
class ArrayChips:
    """Batch getter over an in-memory (or memory-mapped) chip array.

    Args:
        chips: ``(N, 17, H, W)``.
        ids: chip id of each row (default ``0..N-1``).
    """

    def __init__(self, chips: np.ndarray, ids: Sequence[int] | np.ndarray | None = None) -> None:
        self.chips = chips
        self.ids = np.arange(len(chips), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        if len(self.ids) != len(chips):
            raise InputError(f"{len(self.ids)} ids for {len(chips)} chips.")
        self._row = {int(i): k for k, i in enumerate(self.ids)}
        if len(self._row) != len(self.ids):
            raise InputError("Chip ids must be unique.")

    def __call__(self, ids: np.ndarray) -> np.ndarray:
        try:
            rows = [self._row[int(i)] for i in np.asarray(ids).ravel()]
        except KeyError as err:
            raise InputError(f"Unknown chip id {err}.") from None
        return np.asarray(self.chips[rows], dtype=np.float32)


def _id_list_reader(method: Callable[[list[int]], Any]) -> BatchGetter:
    """Wrap ``method(list_of_int_ids)`` as a :data:`BatchGetter` returning float32 chips."""

    def get_batch(ids: np.ndarray) -> np.ndarray:
        return np.asarray(method([int(i) for i in np.asarray(ids).ravel()]), dtype=np.float32)

    return get_batch


def as_batch_getter(reader: Any) -> BatchGetter:
    """Turn a chip source into ``get_batch(ids) -> (n, 17, H, W)``.

    Accepts an array (rows are ids ``0..N-1``), an object with ``read_many(ids)`` (the chip
    store) or ``get_batch(ids)``, or any callable.
    """
    if isinstance(reader, np.ndarray):
        return ArrayChips(reader)
    for name in ("read_many", "get_batch"):
        method = getattr(reader, name, None)
        if callable(method):
            return _id_list_reader(method)
    if callable(reader):
        return reader
    raise InputError(
        f"Cannot read chips from a {type(reader).__name__}: pass a chip store, an array or a callable get_batch(ids)."
    )


@dataclass(frozen=True)
class ChipSubset:
    """A set of chips: a batch getter and the ids it should read."""

    get_batch: BatchGetter
    ids: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def batches(self, batch_size: int, order: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Yield ``(ids, chips)`` batches in ``order`` (default: stored order)."""
        ids = self.ids if order is None else order
        for start in range(0, len(ids), batch_size):
            sel = ids[start : start + batch_size]
            yield sel, self.get_batch(sel)


def as_subset(chips: Any, ids: Sequence[int] | np.ndarray | None = None) -> ChipSubset:
    """Build a :class:`ChipSubset` from an array, a ``ChipSubset``, a ``(getter, ids)`` pair or a
    reader plus ``ids``."""
    if isinstance(chips, ChipSubset):
        return chips if ids is None else ChipSubset(chips.get_batch, np.asarray(ids, dtype=np.int64))
    if isinstance(chips, tuple) and len(chips) == 2 and ids is None:
        return ChipSubset(as_batch_getter(chips[0]), np.asarray(chips[1], dtype=np.int64))
    if isinstance(chips, np.ndarray) and ids is None:
        return ChipSubset(ArrayChips(chips), np.arange(len(chips), dtype=np.int64))
    if ids is None:
        raise InputError("Give the chip ids to read from this chip source.")
    return ChipSubset(as_batch_getter(chips), np.asarray(ids, dtype=np.int64))


# ---- devices, determinism -------------------------------------------------------------------------
def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``device`` if given, else CUDA when available, else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ConfigError(f"Unknown device {device!r}; use 'cpu', 'cuda' or 'cuda:N'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"Device {device!r} was requested but CUDA is not available; use device='cpu'.")
    return dev


@contextlib.contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch and switch on deterministic algorithms; restore all global state afterwards.

    Deterministic mode would also fill every new tensor's memory with NaN
    (``torch.utils.deterministic.fill_uninitialized_memory``), a debugging aid that cost 11 % of
    the CPU training time (3,500 ``fill_`` calls per fit in the profile) and changes no result:
    every op here writes its whole output, so it is switched off while training.
    """
    det_utils: Any = torch.utils.deterministic
    prev_det = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_fill = det_utils.fill_uninitialized_memory
    prev_bench = torch.backends.cudnn.benchmark
    prev_cudnn_det = torch.backends.cudnn.deterministic
    devices = [device.index or 0] if device.type == "cuda" else []
    try:
        torch.use_deterministic_algorithms(True, warn_only=True)
        det_utils.fill_uninitialized_memory = False
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
    finally:
        torch.use_deterministic_algorithms(prev_det, warn_only=prev_warn)
        det_utils.fill_uninitialized_memory = prev_fill
        torch.backends.cudnn.benchmark = prev_bench
        torch.backends.cudnn.deterministic = prev_cudnn_det


def _autocast(device: torch.device, precision: Precision) -> contextlib.AbstractContextManager[Any]:
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _check_precision(precision: str) -> Precision:
    if precision not in ("fp32", "bf16"):
        raise ConfigError(f"precision must be 'fp32' or 'bf16', got {precision!r}.")
    return precision  # type: ignore[return-value]


# ---- the trained model ---------------------------------------------------------------------------
#: Compiled (OpenVINO) runtimes kept alive at once, process-wide: each holds ~100 MB of buffers, and
#: an ablation keeps 18 models; a model whose runtime was dropped rebuilds it on its next use.
MAX_LIVE_RUNTIMES: int = 2
_live: OrderedDict[int, weakref.ref[TrainedModel]] = OrderedDict()
_live_lock = threading.Lock()


def _keep_live(model: TrainedModel) -> None:
    """Mark ``model``'s compiled runtime as the most recently used; drop the oldest beyond the cap."""
    with _live_lock:
        _live.pop(id(model), None)
        _live[id(model)] = weakref.ref(model)
        while len(_live) > MAX_LIVE_RUNTIMES:
            _, ref = _live.popitem(last=False)
            old = ref()
            if old is not None:
                old._runtime_cache = None


@dataclass
class TrainedModel:
    """A trained embedding network with everything needed to apply it.

    Attributes:
        config: the configuration it was trained for.
        stats: normalisation statistics (fitted on its training chips).
        net: the network (weights of the selected epoch), on ``device``.
        best_epoch: the selected epoch (1-based).
        history: per epoch ``{"epoch", "train_loss", "val_loss", "seconds"}``.
        seed, precision, device: as trained.
    """

    config: ModelConfig
    stats: NormStats
    net: EmbeddingNet
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)
    seed: int = 0
    precision: Precision = "fp32"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    #: inference runtime: ``"auto"`` (OpenVINO when installed, else eager), ``"eager"`` or ``"openvino"``
    #: (see :mod:`landslide_app.model.inference`).
    runtime: RuntimeArg = "auto"
    _runtime_cache: tuple[tuple[Any, ...], EmbeddingRuntime] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def width(self) -> int:
        """Hidden channels of the network."""
        return self.net.width

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_runtime_cache"] = None  # a compiled runtime is rebuilt where the model is used
        return state

    def inference_runtime(self) -> EmbeddingRuntime:
        """The runtime that embeds chips (built once, rebuilt when the weights, statistics,
        configuration, precision, device, runtime choice or torch thread count change)."""
        # the statistics by identity (NaN != NaN); the cached runtime holds them, so the id is not reused
        key = (
            id(self.net),
            weights_signature(self.net),
            id(self.stats),
            self.config,
            self.precision,
            self.device,
            requested_runtime(self.runtime),
            torch.get_num_threads(),
        )
        cached = self._runtime_cache
        if cached is None or cached[0] != key:
            rt = make_runtime(self.net, self.config, self.stats, self.device, self.precision, self.runtime)
            logger.debug("%s embeds with the %s runtime", self.config.name, rt.name)
            cached = self._runtime_cache = (key, rt)
        if cached[1].name != "eager":
            _keep_live(self)
        return cached[1]

    def embed_batch(self, chips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Embeddings of one batch, with :meth:`inference_runtime`.

        Returns:
            ``(embedding, valid)``: float32 ``(n, H, W)`` with NaN on masked pixels, and the bool
            validity mask ``(n, H, W)``.
        """
        return self.inference_runtime().embed(chips)

    def iter_embeddings(
        self, chips: Any, batch_size: int = 8, progress: bool = False, desc: str = "embed"
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Yield ``(ids, embedding, valid)`` batch by batch over a chip set (lazy)."""
        subset = as_subset(chips)
        tune_malloc()
        with tqdm(total=len(subset), desc=desc, disable=not progress, leave=False) as bar:
            for ids, batch in subset.batches(batch_size):
                emb, valid = self.embed_batch(batch)
                bar.update(len(ids))
                yield ids, emb, valid

    def embed(self, chips: Any, batch_size: int = 8, progress: bool = False) -> np.ndarray:
        """Embeddings ``(N, H, W)`` (NaN on masked pixels) of a whole chip set, in its id order."""
        parts = [emb for _, emb, _ in self.iter_embeddings(chips, batch_size, progress)]
        if not parts:
            raise InputError("No chips to embed.")
        return np.concatenate(parts)

    # ---- checkpoints ---------------------------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """The checkpoint dict (tensors and plain values only)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "width": self.width,
            "stats": self.stats.to_dict(),
            "state_dict": {k: v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()},
            "best_epoch": int(self.best_epoch),
            "history": [dict(h) for h in self.history],
            "seed": int(self.seed),
            "precision": self.precision,
        }

    def save(self, path: str | Path) -> Path:
        """Write the checkpoint with ``torch.save`` (atomically)."""
        path = Path(path)
        with atomic_path(path) as tmp:
            torch.save(self.checkpoint(), tmp)
        return path

    @classmethod
    def load(
        cls, path: str | Path, config: ModelConfig | None = None, device: str | torch.device | None = None
    ) -> TrainedModel:
        """Load a checkpoint with ``torch.load(weights_only=True)``.

        Args:
            path: checkpoint file.
            config: when given, the configuration the caller expects; a checkpoint trained for
                another configuration raises :class:`ConfigError`.
            device: where to put the network (default: CUDA if available, else CPU).
        """
        path = Path(path)
        dev = resolve_device(device)
        if not path.exists():
            raise ModelFileError(f"No checkpoint at {path}; train the model first.")
        try:
            # weights_only: the unpickler accepts tensors and plain containers only and refuses
            # any other global (a pickle payload) before it could run
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as err:
            m = re.search(r"GLOBAL\s+([\w.]+)", str(err))
            why = f" (it asks to import GLOBAL {m.group(1)})" if m else ""
            raise UntrustedFileError(
                f"{path} was refused: it is not a plain-tensor checkpoint{why}. It may hold code; "
                "nothing from it was run. Use a checkpoint written by landslide_app "
                "(`landslide-app train`), or retrain."
            ) from None
        except Exception as err:  # noqa: BLE001 - damaged files fail in many ways
            first = str(err).strip().splitlines()[0].split(". ")[0] if str(err).strip() else type(err).__name__
            raise ModelFileError(
                f"{path} is not a readable checkpoint ({first[:200]}): it is truncated or damaged; "
                "retrain the model or copy the file again."
            ) from err
        if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
            raise ModelFileError(
                f"{path} is not a landslide_app embedding checkpoint ({CHECKPOINT_FORMAT}); retrain the model."
            )
        missing = [k for k in ("config", "width", "stats", "state_dict", "best_epoch") if k not in ckpt]
        if missing:
            raise ModelFileError(f"Checkpoint {path} lacks {', '.join(missing)}; it is damaged, retrain the model.")
        saved = ModelConfig.from_dict(ckpt["config"])
        if config is not None and saved != config:
            raise ConfigError(
                f"Checkpoint {path} was trained for inputs={saved.inputs!r}, revisits={saved.revisits}, "
                f"but inputs={config.inputs!r}, revisits={config.revisits} was requested; train this "
                "configuration or load its own checkpoint."
            )
        net = EmbeddingNet.for_config(saved, int(ckpt["width"]))
        try:
            net.load_state_dict(ckpt["state_dict"])
        except RuntimeError as err:
            raise ConfigError(
                f"Checkpoint {path} does not fit the {saved.name} network ({err}); it was written by "
                "another version of landslide_app. Retrain the model."
            ) from err
        # nn.Module.to accepts memory_format at runtime; torch's overload stubs omit it.
        net = net.to(dev).to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        return cls(
            config=saved,
            stats=NormStats.from_dict(ckpt["stats"]),
            net=net,
            best_epoch=int(ckpt["best_epoch"]),
            history=list(ckpt.get("history", [])),
            seed=int(ckpt.get("seed", 0)),
            precision=_check_precision(str(ckpt.get("precision", "fp32"))),
            device=dev,
        )


# ---- training ------------------------------------------------------------------------------------
@dataclass
class _PreparedChips:
    """Network-ready tensors of a chip set held in memory (filled once, read every epoch).

    ``x`` is stored ``(N, H, W, C)`` so that a gathered batch, permuted to ``(n, C, H, W)``, is
    already ``channels_last``; under bf16 autocast it is stored as bfloat16 (autocast would cast
    it to exactly these values before the first convolution).
    """

    x: torch.Tensor
    label: torch.Tensor
    valid: torch.Tensor
    row: dict[int, int]

    @property
    def nbytes(self) -> int:
        return sum(t.element_size() * t.numel() for t in (self.x, self.label, self.valid))

    def batch(self, ids: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        rows = torch.as_tensor([self.row[int(i)] for i in ids], dtype=torch.int64)
        return self.x[rows].permute(0, 3, 1, 2), self.label[rows], self.valid[rows]


def _prepare_in_memory(
    subset: ChipSubset,
    config: ModelConfig,
    stats: NormStats,
    budget: int,
    x_dtype: torch.dtype,
    what: str,
    batch_size: int = 32,
    raw: list[tuple[np.ndarray, np.ndarray]] | None = None,
) -> _PreparedChips | None:
    """Read and prepare ``subset`` once into memory, or ``None`` when it does not fit ``budget``.

    ``raw``: the subset's chips already read, as ``(ids, chips)`` batches in stored order; they
    are consumed (the list is emptied batch by batch, so raw and prepared copies do not pile up).
    """
    n = len(subset)
    if n == 0 or budget <= 0:
        return None
    cache: _PreparedChips | None = None
    k = 0

    def batches() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if raw is None:
            yield from subset.batches(batch_size)
            return
        while raw:
            yield raw.pop(0)

    for ids, chips in batches():
        prep = prepare_inputs(chips, config, stats)
        if prep.label is None:
            raise InputError(f"{what} chips have no label channel.")
        if cache is None:
            _, c, h, w = prep.x.shape
            per_chip = h * w * (c * torch.empty((), dtype=x_dtype).element_size() + 4 + 1)
            if per_chip * n > budget:
                logger.debug(
                    "%s chips need %.0f MB > cache budget %.0f MB: streaming them.",
                    what,
                    per_chip * n / 2**20,
                    budget / 2**20,
                )
                return None
            cache = _PreparedChips(
                x=torch.empty((n, h, w, c), dtype=x_dtype),
                label=torch.empty((n, h, w), dtype=torch.float32),
                valid=torch.empty((n, h, w), dtype=torch.bool),
                row={int(i): j for j, i in enumerate(subset.ids)},
            )
        m = len(ids)
        cache.x[k : k + m] = torch.from_numpy(prep.x).permute(0, 2, 3, 1)
        cache.label[k : k + m] = torch.from_numpy(prep.label)
        cache.valid[k : k + m] = torch.from_numpy(prep.valid)
        k += m
    return cache


def _iter_batches(
    subset: ChipSubset,
    cache: _PreparedChips | None,
    config: ModelConfig,
    stats: NormStats,
    batch_size: int,
    device: torch.device,
    what: str,
    order: np.ndarray | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(x, label, valid)`` tensors batch by batch, ``x`` channels_last on ``device``."""
    ids = subset.ids if order is None else order
    for start in range(0, len(ids), batch_size):
        sel = ids[start : start + batch_size]
        if cache is not None:
            x, label, valid = cache.batch(sel)
        else:
            prep = prepare_inputs(subset.get_batch(sel), config, stats)
            if prep.label is None:
                raise InputError(f"{what} chips have no label channel.")
            x, label, valid = torch.from_numpy(prep.x), torch.from_numpy(prep.label), torch.from_numpy(prep.valid)
        yield x.to(device).contiguous(memory_format=torch.channels_last), label, valid


def _validation_loss(
    model: TrainedModel,
    val: ChipSubset,
    batch_size: int,
    cache: _PreparedChips | None = None,
) -> tuple[float, int]:
    acc = LossAccumulator()
    model.net.eval()
    with torch.no_grad():
        for x, label, valid in _iter_batches(
            val, cache, model.config, model.stats, batch_size, model.device, "Validation"
        ):
            with _autocast(model.device, model.precision):
                emb = model.net(x)
            acc.add(loss_parts(emb.float(), label, valid))
    return acc.loss(), acc.pos_count


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
) -> TrainedModel:
    """Train the embedding network of ``config`` and select the epoch on validation.

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
        lr: Adam learning rate.
        width: hidden channels of the network.
        precision: ``"fp32"``, ``"bf16"`` (autocast) or ``"auto"`` (bf16 where the device has
            bf16 units, else fp32; the resolved value is stored in the model).
        stats: normalisation statistics to use instead of fitting them on ``chips_train``.
        cache_bytes: cap of the in-memory cache of prepared training + validation tensors
            (default 1 GiB, at most a quarter of the available memory; 0: always stream).

    Returns:
        The :class:`TrainedModel` holding the weights of the selected epoch.
    """
    if not isinstance(config, ModelConfig):
        raise ConfigError(f"config must be a ModelConfig, got {type(config).__name__}.")
    if epochs < 1:
        raise ConfigError(f"epochs must be >= 1, got {epochs}.")
    if batch_size < 1:
        raise ConfigError(f"batch_size must be >= 1, got {batch_size}.")
    train = as_subset(chips_train)
    val = as_subset(chips_val) if chips_val is not None else ChipSubset(train.get_batch, np.empty(0, np.int64))
    if len(train) == 0:
        raise InputError("No training chips: the model cannot be trained.")
    dev = resolve_device(device)
    precision = resolve_precision(precision, dev)
    tune_malloc()
    t_start = time.perf_counter()
    budget = memory_budget(cache_bytes)  # host memory; batches move to the device as they are used
    raw: list[tuple[np.ndarray, np.ndarray]] | None = None
    if stats is None:
        # one streaming pass; the chips read for the statistics are kept for the cache when they fit
        raw = [] if budget > 0 else None
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
    stats.check_usable(config)
    rng = np.random.default_rng(seed)
    x_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    train_cache = _prepare_in_memory(train, config, stats, budget, x_dtype, "Training", raw=raw)
    raw = None
    val_cache = _prepare_in_memory(
        val, config, stats, budget - (train_cache.nbytes if train_cache else 0), x_dtype, "Validation"
    )

    with seeded(seed, dev):
        # nn.Module.to accepts memory_format at runtime; torch's overload stubs omit it.
        net = EmbeddingNet.for_config(config, width).to(dev)
        net = net.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        model = TrainedModel(config, stats, net, best_epoch=0, seed=seed, precision=precision, device=dev)
        opt = torch.optim.Adam(net.parameters(), lr=lr)
        n_batches = -(-len(train) // batch_size)
        best_loss = float("inf")
        best_state: dict[str, torch.Tensor] | None = None
        warned = False
        with tqdm(total=epochs * n_batches, desc=f"train {config.name}", disable=not progress) as bar:
            for epoch in range(1, epochs + 1):
                t0 = time.perf_counter()
                net.train()
                losses: list[float] = []
                for x, label, valid in _iter_batches(
                    train, train_cache, config, stats, batch_size, dev, "Training", order=rng.permutation(train.ids)
                ):
                    with _autocast(dev, precision):
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
                t_train = time.perf_counter() - t0
                if len(val):
                    val_loss, val_pos = _validation_loss(model, val, batch_size, val_cache)
                else:
                    val_loss, val_pos = float("nan"), 0
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
                logger.debug(
                    "%s epoch %d: train loss %.4f, validation loss %.4f", config.name, epoch, train_loss, val_loss
                )
                selectable = val_pos > 0 and np.isfinite(val_loss)
                if not selectable and not warned:
                    logger.warning(
                        "Validation set of %s is empty or holds no landslide pixel; keeping the last epoch.",
                        config.name,
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
