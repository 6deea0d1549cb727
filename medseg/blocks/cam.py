"""Channel attention module, CAM (Fu et al., DANet, CVPR 2019, Sec. 3.3, Eqs. 3-4).

With X flattened to (B, C, N): E = X X^T (C x C); A = softmax_j(max_j(E_i) - E_ij) (the authors' code
subtracts from the row maximum, which the paper leaves out); out = gamma * (A X) + X, gamma a scalar
initialised to 0. No convolutions: gamma is the only parameter. Memory O(C^2 + C N).
E and A are computed in at least float32 even under autocast: E sums N products, and bf16 rounding of
such large energies swings the softmax.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import AttentionBlock
from .registry import register_attention


@register_attention("cam", group="self-attention")
class CAM(AttentionBlock):
    def __init__(self, channels: int, spatial_dims: int = 2) -> None:
        super().__init__(channels, spatial_dims)
        self.gamma = nn.Parameter(torch.zeros(1))

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gamma * A X reshaped like x, A): the term CAM adds to its input, and the (B, C, C) map."""
        flat = x.flatten(2)
        with torch.autocast(x.device.type, enabled=False):
            wide = flat.to(torch.promote_types(flat.dtype, torch.float32))
            energy = torch.bmm(wide, wide.transpose(1, 2))
            a = torch.softmax(energy.amax(dim=-1, keepdim=True) - energy, dim=-1)
        return self.gamma * torch.bmm(a, flat.to(a.dtype)).reshape(x.shape), a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        term, a = self.attend(x)
        self.keep(None, a)
        return x + term.to(x.dtype)
