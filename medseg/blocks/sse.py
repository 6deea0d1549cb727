"""Spatial squeeze, channel excitation: sSE (Roy et al., MICCAI 2018, Sec. 2.2).

q = sigmoid(W_s * U) with W_s a 1x1(x1) convolution C -> 1; out = U * q per voxel.
W_s is held as a convolution and applied as the equivalent channel contraction (einsum), whose backward
is about twice as fast on CPU as the 1x1 convolution's.
"""

from __future__ import annotations

import torch

from .base import CONV, AttentionBlock
from .registry import register_attention


@register_attention("sse")
class SSE(AttentionBlock):
    def __init__(self, channels: int, spatial_dims: int = 2, bias: bool = True) -> None:
        super().__init__(channels, spatial_dims)
        self.conv = CONV[spatial_dims](channels, 1, kernel_size=1, bias=bias)

    def spatial_weights(self, x: torch.Tensor) -> torch.Tensor:
        """q in (0, 1)^{B x 1 x spatial}."""
        q = torch.einsum("bc...,c->b...", x, self.conv.weight.flatten().to(x.dtype)).unsqueeze(1)
        return torch.sigmoid(q if self.conv.bias is None else q + self.conv.bias.to(q.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        q = self.spatial_weights(x)
        self.keep(None, q)
        return x * q
