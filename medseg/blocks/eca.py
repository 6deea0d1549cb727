"""Efficient Channel Attention, ECA (Wang et al., CVPR 2020, Sec. 3.3, Eq. 12).

y = GAP(X) in R^C; w = sigmoid(conv1d_k(y)) across channels (no bias, zero padding); out = X * w.
Adaptive kernel k = psi(C) = |log2(C) / gamma + b / gamma|_odd with gamma = 2, b = 1, taken as the
authors' code does: t = int(|(log2 C + b) / gamma|), k = t if t is odd else t + 1 (C = 64 -> k = 3).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import AttentionBlock, broadcast_channels
from .registry import register_attention


def eca_kernel_size(channels: int, gamma: float = 2.0, b: float = 1.0) -> int:
    """psi(C): the odd kernel size of ECA's channel convolution."""
    t = int(abs((math.log2(channels) + b) / gamma))
    return t if t % 2 else t + 1


@register_attention("eca")
class ECA(AttentionBlock):
    """``kernel_size=None`` picks psi(C); an explicit value must be odd."""

    def __init__(
        self, channels: int, spatial_dims: int = 2, kernel_size: int | None = None, gamma: float = 2.0, b: float = 1.0
    ) -> None:
        super().__init__(channels, spatial_dims)
        k = eca_kernel_size(channels, gamma, b) if kernel_size is None else kernel_size
        if not isinstance(k, int) or k < 1 or k % 2 == 0:
            raise ValueError(f"ECA: kernel_size must be an odd positive int, got {k!r}")
        self.kernel_size = k
        self.weight = nn.Parameter(torch.empty(1, 1, k))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        y = x.mean(dim=tuple(range(2, x.ndim)))
        w = torch.sigmoid(F.conv1d(y.unsqueeze(1), self.weight, padding=self.kernel_size // 2).squeeze(1))
        self.keep(None, w)
        return x * broadcast_channels(w, x.ndim).to(x.dtype)
