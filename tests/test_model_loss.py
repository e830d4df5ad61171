"""The paper's batch loss on hand-made tensors (values worked out by hand)."""

from __future__ import annotations

import math

import pytest
import torch

from landslide_app.model.loss import LossAccumulator, embedding_loss, loss_parts


def t(rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_single_chip_by_hand():
    emb = t([[[0.9, 0.2], [0.4, 0.1]]])
    lab = t([[[1, 0], [2, 0]]])  # head counts: 2 positive pixels
    # E+ = {0.9, 0.4} -> mean 0.65; E- = {0.2, 0.1} -> mean 0.15; L = 0.35 + 0.15
    assert embedding_loss(emb, lab).item() == pytest.approx(0.5)
    # (N, 1, H, W) layout gives the same
    assert embedding_loss(emb[:, None], lab[:, None]).item() == pytest.approx(0.5)


def test_pooled_over_the_batch_not_per_chip():
    emb = t([[[0.8, 0.2], [0.2, 0.2]], [[0.6, 0.4], [0.2, 0.0]]])
    lab = t([[[1, 0], [0, 0]], [[1, 3], [1, 0]]])
    # E+ = {0.8, 0.6, 0.4, 0.2} mean 0.5; E- = {0.2, 0.2, 0.2, 0.0} mean 0.15 -> 0.65
    # (per-chip losses would be 0.4 and 0.6, mean 0.5: not what the paper defines)
    assert embedding_loss(emb, lab).item() == pytest.approx(0.65)


def test_masked_pixels_are_excluded_and_get_no_gradient():
    emb = t([[[0.9, 0.2, float("nan")], [0.4, 0.1, 0.7]]]).requires_grad_(True)
    lab = t([[[1, 0, 1], [2, 0, float("nan")]]])
    valid = torch.tensor([[[True, True, False], [True, True, True]]])
    loss = embedding_loss(emb, lab, valid)
    assert loss.item() == pytest.approx(0.5)  # same as the unmasked 2x2 example
    loss.backward()
    g = emb.grad[0]
    assert torch.isfinite(g).all()
    assert g[0, 2].item() == 0.0 and g[1, 2].item() == 0.0
    # dL/de+ = -1/|E+| = -0.5, dL/de- = 1/|E-| = 0.5
    assert g[0, 0].item() == pytest.approx(-0.5) and g[1, 0].item() == pytest.approx(-0.5)
    assert g[0, 1].item() == pytest.approx(0.5) and g[1, 1].item() == pytest.approx(0.5)


def test_no_positive_pixel_loss_is_mean_of_negatives():
    emb = t([[[0.2, 0.4]]]).requires_grad_(True)
    lab = t([[[0, 0]]])
    loss = embedding_loss(emb, lab)
    assert loss.item() == pytest.approx(0.3)
    loss.backward()
    assert emb.grad.tolist() == [[[0.5, 0.5]]]


def test_no_negative_pixel_loss_is_one_minus_mean_of_positives():
    assert embedding_loss(t([[[0.2, 0.6]]]), t([[[1, 4]]])).item() == pytest.approx(0.6)


def test_no_valid_pixel_is_zero_with_zero_gradient():
    emb = t([[[0.2, 0.6]]]).requires_grad_(True)
    loss = embedding_loss(emb, t([[[math.nan, math.nan]]]))
    assert loss.item() == 0.0
    loss.backward()
    assert emb.grad.abs().sum().item() == 0.0


def test_accumulator_equals_one_big_batch():
    emb = t([[[0.8, 0.2], [0.2, 0.2]], [[0.6, 0.4], [0.2, 0.0]]])
    lab = t([[[1, 0], [0, 0]], [[1, 3], [1, 0]]])
    acc = LossAccumulator()
    acc.add(loss_parts(emb[:1], lab[:1]))
    acc.add(loss_parts(emb[1:], lab[1:]))
    assert acc.loss() == pytest.approx(0.65)
    assert (acc.pos_count, acc.neg_count) == (4, 4)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        embedding_loss(t([[[0.1, 0.2]]]), t([[[0.0, 0.0, 1.0]]]))
