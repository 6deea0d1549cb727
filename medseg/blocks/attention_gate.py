"""Additive attention gate for skip connections (Oktay et al., Attention U-Net, MIDL 2018, Eqs. 1-2).

q = psi^T relu(W_x^T x + W_g^T g + b_g) + b_psi; alpha = sigmoid(q); out = x * alpha.
W_x (no bias), W_g and psi are 1x1(x1) convolutions to F_int, F_int and 1 channels. The gating signal g
(coarser decoder feature) is brought to x's grid by (bi/tri)linear interpolation (align_corners=False)
after W_g, which equals interpolating g first since both maps are linear and interpolation weights sum
to 1. (The authors' code instead computes alpha on g's grid and upsamples alpha.) Not in the registry: it
takes two inputs; networks use it for ``skip_gate=True``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .base import CONV, AttentionBlock

INTERPOLATION = {2: "bilinear", 3: "trilinear"}


class AttentionGate(AttentionBlock):
    """``inter_channels`` (F_int) defaults to max(1, channels // 2), as in the authors' code."""

    def __init__(self, channels: int, gating_channels: int, spatial_dims: int = 2, inter_channels: int | None = None) -> None:
        super().__init__(channels, spatial_dims)
        inter = max(1, channels // 2) if inter_channels is None else inter_channels
        if not isinstance(inter, int) or inter < 1:
            raise ValueError(f"AttentionGate: inter_channels must be a positive int, got {inter!r}")
        if not isinstance(gating_channels, int) or gating_channels < 1:
            raise ValueError(f"AttentionGate: gating_channels must be a positive int, got {gating_channels!r}")
        self.gating_channels = gating_channels
        self.inter_channels = inter
        conv = CONV[spatial_dims]
        self.w_x = conv(channels, inter, 1, bias=False)
        self.w_g = conv(gating_channels, inter, 1)
        self.psi = conv(inter, 1, 1)

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        self.check_input(x, name="skip input x")
        self.check_input(g, self.gating_channels, name="gating signal g")
        if g.shape[0] != x.shape[0]:
            raise ValueError(f"AttentionGate: batch sizes differ: x has {x.shape[0]}, g has {g.shape[0]}")
        gate = self.w_g(g)
        if gate.shape[2:] != x.shape[2:]:
            gate = F.interpolate(gate, size=x.shape[2:], mode=INTERPOLATION[self.spatial_dims], align_corners=False)
        alpha = torch.sigmoid(self.psi(torch.relu(self.w_x(x) + gate)))
        self.keep(None, alpha)
        return x * alpha.to(x.dtype)
