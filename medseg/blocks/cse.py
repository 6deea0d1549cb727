"""Channel squeeze-and-excitation.

cSE (Roy et al., MICCAI 2018, Sec. 2.1): z = GAP(U); s = sigmoid(W2 relu(W1 z)); out = U * s,
W1 in R^{C/r x C}, W2 in R^{C x C/r}, r = 2. SE (Hu et al., CVPR 2018) is the same block with r = 16.
Reduction rule (``base.reduced_width``): the default r is capped at C (hidden width >= 1); an explicit
r > C raises.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import AttentionBlock, broadcast_channels, reduced_width
from .registry import register_attention


class ChannelSqueezeExcitation(AttentionBlock):
    """cSE/SE; ``reduction=None`` uses ``default_reduction`` (2 for cSE, 16 for SE)."""

    default_reduction = 2

    def __init__(self, channels: int, spatial_dims: int = 2, reduction: int | None = None, bias: bool = True) -> None:
        super().__init__(channels, spatial_dims)
        hidden = reduced_width(type(self).__name__, channels, reduction, self.default_reduction)
        self.fc1 = nn.Linear(channels, hidden, bias=bias)
        self.fc2 = nn.Linear(hidden, channels, bias=bias)

    def channel_weights(self, x: torch.Tensor) -> torch.Tensor:
        """s in (0, 1)^{B x C}."""
        z = x.mean(dim=tuple(range(2, x.ndim)))
        return torch.sigmoid(self.fc2(torch.relu(self.fc1(z))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        s = self.channel_weights(x)
        self.keep(None, s)
        return x * broadcast_channels(s, x.ndim).to(x.dtype)


@register_attention("cse")
class CSE(ChannelSqueezeExcitation):
    """cSE, reduction 2 by default (the scSE paper)."""


@register_attention("se")
class SE(ChannelSqueezeExcitation):
    """SE (Hu et al.), reduction 16 by default."""

    default_reduction = 16
