"""Channel squeeze-and-excitation.

cSE (Roy et al., MICCAI 2018, Sec. 2.1): z = GAP(U); s = sigmoid(W2 relu(W1 z)); out = U * s,
W1 in R^{C/r x C}, W2 in R^{C x C/r}, r = 2. SE (Hu et al., CVPR 2018) is the same block with r = 16.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import AttentionBlock, broadcast_channels, check_reduction
from .registry import register_attention


class ChannelSqueezeExcitation(AttentionBlock):
    def __init__(self, channels: int, spatial_dims: int = 2, reduction: int = 2, bias: bool = True) -> None:
        super().__init__(channels, spatial_dims)
        hidden = check_reduction(type(self).__name__, channels, reduction)
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

    def __init__(self, channels: int, spatial_dims: int = 2, reduction: int = 16, bias: bool = True) -> None:
        super().__init__(channels, spatial_dims, reduction=min(reduction, channels), bias=bias)
