"""Two-branch, full-resolution CNN that maps a chip to a per-pixel embedding in [0, 1].

Architecture (paper §3, Figure 4), for ``width`` w (default 16):

* DEM branch (5 input channels, if used): 3 x [3x3 conv (dilation 1, 2, 4) + ReLU], w channels.
* SAR branch (``2 * (3 + revisits)`` input channels, if used): the same stack, own weights.
* Fusion: concatenate the branch outputs (2w or w channels), 2 x [3x3 conv (dilation 1, 2) +
  ReLU], then a 1x1 conv to one channel and a sigmoid -> ``(N, 1, H, W)`` embedding.

Every convolution has stride 1 and "same" padding (``padding = dilation``), so every activation
keeps the chip's ``H x W`` (128 x 128 for real chips; any size works, tests use small chips). In
training on CPU the dilated convolutions run on their phase sub-grids (:mod:`landslide_app.model.dilated`,
the same function, faster weight gradients; :meth:`EmbeddingNet.set_train_conv`).
Receptive field: 1 + 2 * (1 + 2 + 4 + 1 + 2) = 21 pixels (210 m). No normalisation layers: they
cost about half the CPU speed here and make a chip's embedding depend on its batch in training
mode; inputs are standardised instead (:mod:`landslide_app.model.inputs`). Under bfloat16 autocast
the output 1x1 convolution and the sigmoid still run in float32.

The network takes one tensor ``x`` holding the DEM network channels first and then the SAR ones
(the layout of :func:`landslide_app.model.inputs.prepare_inputs`) and splits it; a DEM-only or
SAR-only configuration builds only that branch, so the other modality cannot influence it.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from landslide_app.errors import ConfigError
from landslide_app.model.dilated import DilatedConv2d, TrainConv
from landslide_app.model.inputs import ModelConfig

logger = logging.getLogger(__name__)

#: Dilations of the three convolutions of each branch.
BRANCH_DILATIONS: tuple[int, ...] = (1, 2, 4)
#: Dilations of the fusion convolutions (before the 1x1 output convolution).
FUSION_DILATIONS: tuple[int, ...] = (1, 2)
DEFAULT_WIDTH: int = 16


def _conv_stack(in_ch: int, width: int, dilations: tuple[int, ...]) -> nn.Sequential:
    layers: list[nn.Module] = []
    ch = in_ch
    for d in dilations:
        layers.append(DilatedConv2d(ch, width, d))
        layers.append(nn.ReLU(inplace=True))
        ch = width
    return nn.Sequential(*layers)


class EmbeddingNet(nn.Module):
    """The two-branch embedding network.

    Args:
        n_dem: DEM input channels (0: no DEM branch).
        n_sar: SAR input channels (0: no SAR branch).
        width: channels of every hidden layer.
    """

    def __init__(self, n_dem: int, n_sar: int, width: int = DEFAULT_WIDTH) -> None:
        super().__init__()
        if n_dem < 0 or n_sar < 0 or n_dem + n_sar == 0:
            raise ConfigError(f"The network needs DEM or SAR inputs (got n_dem={n_dem}, n_sar={n_sar}).")
        if width < 1:
            raise ConfigError(f"Network width must be >= 1, got {width}.")
        self.n_dem = int(n_dem)
        self.n_sar = int(n_sar)
        self.width = int(width)
        self.dem_branch = _conv_stack(n_dem, width, BRANCH_DILATIONS) if n_dem else None
        self.sar_branch = _conv_stack(n_sar, width, BRANCH_DILATIONS) if n_sar else None
        n_branches = int(bool(n_dem)) + int(bool(n_sar))
        self.fusion = _conv_stack(n_branches * width, width, FUSION_DILATIONS)
        self.head = nn.Conv2d(width, 1, kernel_size=1)
        self.out = nn.Sigmoid()
        self._init_weights()

    @classmethod
    def for_config(cls, cfg: ModelConfig, width: int = DEFAULT_WIDTH) -> EmbeddingNet:
        """Build the network for a :class:`ModelConfig`."""
        return cls(cfg.n_dem, cfg.n_sar, width)

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        # Start from a small output (embeddings near sigmoid(-2) ~ 0.12): the loss is dominated
        # by the many negative pixels, so this is close to where training ends up anyway.
        nn.init.normal_(self.head.weight, std=1e-2)
        assert self.head.bias is not None  # every convolution here has a bias
        nn.init.constant_(self.head.bias, -2.0)

    def set_train_conv(self, conv: TrainConv) -> None:
        """How the dilated convolutions compute while autograd records: ``"phase"`` (on their phase
        sub-grids) or ``"direct"`` (the dilated kernel); forward-only passes always use the latter."""
        for m in self.modules():
            if isinstance(m, DilatedConv2d):
                m.phase_split = conv == "phase"

    @property
    def in_channels(self) -> int:
        """Expected channels of ``x``."""
        return self.n_dem + self.n_sar

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed a batch.

        Args:
            x: ``(N, n_dem + n_sar, H, W)``, DEM channels first.

        Returns:
            ``(N, 1, H, W)`` embedding in [0, 1].
        """
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ConfigError(
                f"Network input has shape {tuple(x.shape)}; expected (N, {self.in_channels}, H, W) "
                f"({self.n_dem} DEM + {self.n_sar} SAR channels)."
            )
        feats: list[torch.Tensor] = []
        if self.dem_branch is not None:
            feats.append(self.dem_branch(x[:, : self.n_dem]))
        if self.sar_branch is not None:
            feats.append(self.sar_branch(x[:, self.n_dem :]))
        h = feats[0] if len(feats) == 1 else torch.cat(feats, dim=1)
        h = self.fusion(h)
        # The 1x1 head and the sigmoid always run in float32 (cheap), so that under bfloat16
        # autocast the embedding values are not quantised to 8 mantissa bits.
        with torch.autocast(device_type=h.device.type, enabled=False):
            return self.out(self.head(h.float()))


def count_parameters(net: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in net.parameters() if p.requires_grad)
