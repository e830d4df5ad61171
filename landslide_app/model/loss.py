"""The paper's batch loss on per-pixel embeddings (paper §3, equation 1).

For a batch, ``E+`` gathers the embedding values of all valid pixels holding at least one
landslide head (label > 0) and ``E-`` those of all other valid pixels; the loss is

    L = (1 - mean(E+)) + mean(E-)

over the whole batch (not per chip). Masked pixels (``valid`` False, or a NaN label) belong to
neither set: they never enter the loss, and their embedding values (which may be anything,
NaN included) receive no gradient.

Empty sets (documented choice):

* no positive pixel in the batch: the ``(1 - mean(E+))`` term is **0**, so ``L = mean(E-)``
  (the batch can only teach "keep negatives low");
* no negative pixel: the ``mean(E-)`` term is 0;
* no valid pixel at all: ``L = 0`` with zero gradient.

:class:`LossAccumulator` computes the same loss over many batches as if they were one batch
(sums of ``E+`` / ``E-`` and their counts), which is how the validation loss used for model
selection is defined.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["LossAccumulator", "LossParts", "embedding_loss", "loss_parts"]


@dataclass(frozen=True)
class LossParts:
    """Sums and counts of one batch: ``sum(E+)``, ``|E+|``, ``sum(E-)``, ``|E-|``."""

    pos_sum: torch.Tensor
    pos_count: int
    neg_sum: torch.Tensor
    neg_count: int

    def loss(self) -> torch.Tensor:
        """Equation 1 with the empty-set rules of the module docstring."""
        zero = self.pos_sum * 0.0 + self.neg_sum * 0.0
        pos_term = 1.0 - self.pos_sum / self.pos_count if self.pos_count else zero
        neg_term = self.neg_sum / self.neg_count if self.neg_count else zero
        return pos_term + neg_term


def _squeeze(t: torch.Tensor, name: str) -> torch.Tensor:
    if t.ndim == 4:
        if t.shape[1] != 1:
            raise ValueError(f"{name} must have one channel, got shape {tuple(t.shape)}")
        t = t[:, 0]
    if t.ndim != 3:
        raise ValueError(f"{name} must be (N, H, W) or (N, 1, H, W), got shape {tuple(t.shape)}")
    return t


def loss_parts(embedding: torch.Tensor, label: torch.Tensor, valid: torch.Tensor | None = None) -> LossParts:
    """Sums and counts of ``E+`` and ``E-`` for one batch.

    Args:
        embedding: ``(N, 1, H, W)`` or ``(N, H, W)`` values in [0, 1].
        label: head counts, same spatial shape; NaN marks a masked pixel.
        valid: optional bool mask, same spatial shape; False marks a masked pixel.
    """
    emb = _squeeze(embedding, "embedding").float()
    lab = _squeeze(label, "label").to(emb.device)
    if lab.shape != emb.shape:
        raise ValueError(f"label shape {tuple(lab.shape)} != embedding shape {tuple(emb.shape)}")
    ok = torch.isfinite(lab)
    if valid is not None:
        v = _squeeze(valid, "valid").to(device=emb.device, dtype=torch.bool)
        if v.shape != emb.shape:
            raise ValueError(f"valid shape {tuple(v.shape)} != embedding shape {tuple(emb.shape)}")
        ok = ok & v
    pos = ok & (lab > 0)
    neg = ok & ~(lab > 0)
    zero = torch.zeros((), dtype=emb.dtype, device=emb.device)
    # torch.where (not multiplication) so NaN/inf on masked pixels cannot leak into the sums.
    pos_sum = torch.where(pos, emb, zero).sum()
    neg_sum = torch.where(neg, emb, zero).sum()
    return LossParts(pos_sum, int(pos.sum().item()), neg_sum, int(neg.sum().item()))


def embedding_loss(embedding: torch.Tensor, label: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Batch loss ``(1 - mean(E+)) + mean(E-)`` over the valid pixels of the whole batch.

    See the module docstring for masking and the empty-set rules.
    """
    return loss_parts(embedding, label, valid).loss()


class LossAccumulator:
    """Loss of several batches pooled as one batch (no gradient; for validation)."""

    def __init__(self) -> None:
        self.pos_sum = 0.0
        self.pos_count = 0
        self.neg_sum = 0.0
        self.neg_count = 0

    def add(self, parts: LossParts) -> None:
        """Add one batch's sums and counts."""
        self.pos_sum += float(parts.pos_sum.detach())
        self.pos_count += parts.pos_count
        self.neg_sum += float(parts.neg_sum.detach())
        self.neg_count += parts.neg_count

    def loss(self) -> float:
        """Pooled equation-1 loss (same empty-set rules)."""
        pos_term = 1.0 - self.pos_sum / self.pos_count if self.pos_count else 0.0
        neg_term = self.neg_sum / self.neg_count if self.neg_count else 0.0
        return pos_term + neg_term
