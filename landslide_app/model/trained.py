"""The trained embedding network: applying it to chips, and its checkpoint file.

:class:`TrainedModel` holds the network of the selected epoch with its configuration and
normalisation statistics, embeds chips through an inference runtime
(:mod:`landslide_app.model.inference`), and saves / loads its checkpoint.

Checkpoints hold only tensors and plain values (``torch.save`` of a dict with the state dict,
configuration, normalisation statistics, history) and load with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import logging
import pickle
import re
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from landslide_app.atomic import atomic_path
from landslide_app.errors import ConfigError, InputError, ModelFileError, UntrustedFileError
from landslide_app.model.chipsets import as_subset
from landslide_app.model.device import Precision, check_precision, resolve_device
from landslide_app.model.dilated import TrainConv, resolve_train_conv
from landslide_app.model.inference import (
    EmbeddingRuntime,
    RuntimeArg,
    make_runtime,
    requested_runtime,
    weights_signature,
)
from landslide_app.model.inputs import ModelConfig, NormStats
from landslide_app.model.network import EmbeddingNet
from landslide_app.model.runtime import tune_malloc

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT: str = "landslide-app-embedding/1"

#: Compiled (OpenVINO) runtimes kept alive at once, process-wide: each holds ~100 MB of buffers, and
#: an ablation keeps 18 models; a model whose runtime was dropped rebuilds it on its next use.
MAX_LIVE_RUNTIMES: int = 2
_live: OrderedDict[int, weakref.ref[TrainedModel]] = OrderedDict()
_live_lock = threading.Lock()
#: minimums asked for by the :func:`live_runtimes` blocks now open
_live_minimums: list[int] = []


@contextmanager
def live_runtimes(n: int) -> Iterator[None]:
    """Keep at least ``n`` compiled runtimes alive inside the block, where ``n`` models are used in turn
    (an ensemble run's members embed every batch one after the other: with the usual cap of
    :data:`MAX_LIVE_RUNTIMES` each would drop the next one's runtime, and every batch would compile
    them again, measured 4.2x the single model's predict time for 3 members instead of about 3x)."""
    with _live_lock:
        _live_minimums.append(int(n))
    try:
        yield
    finally:
        with _live_lock:
            _live_minimums.remove(int(n))


def _keep_live(model: TrainedModel) -> None:
    """Mark ``model``'s compiled runtime as the most recently used; drop the oldest beyond the cap
    (:data:`MAX_LIVE_RUNTIMES`, or more inside :func:`live_runtimes`)."""
    with _live_lock:
        _live.pop(id(model), None)
        _live[id(model)] = weakref.ref(model)
        while len(_live) > max([MAX_LIVE_RUNTIMES, *_live_minimums]):
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
        train_conv: how its dilated convolutions were trained (:mod:`landslide_app.model.dilated`;
            ``"direct"`` for checkpoints written before the phase split existed).
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
    train_conv: TrainConv = "direct"
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
            "train_conv": self.train_conv,
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
        ckpt = read_checkpoint(path)
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
            precision=check_precision(str(ckpt.get("precision", "fp32"))),
            device=dev,
            train_conv=resolve_train_conv(str(ckpt.get("train_conv", "direct")), dev),
        )


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint dict at ``path``, read with ``torch.load(weights_only=True)`` and checked to be a
    landslide_app embedding checkpoint with every key :meth:`TrainedModel.load` needs.

    Raises ModelFileError (missing, damaged, another format) or UntrustedFileError (a pickle asking
    for anything but tensors and plain containers; nothing of it was run).
    """
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
    return ckpt
