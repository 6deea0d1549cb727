"""Convolutional Block Attention Module, CBAM (Woo et al., ECCV 2018, Sec. 3, Eqs. 1-3).

M_c = sigmoid(sum_p MLP(Pool_p F)) over ``pool_types`` p in {avg, max} (spatial pooling, shared MLP
C -> C/r -> C with ReLU, r = 16); F' = M_c * F.
M_s = sigmoid(f^{k x k}([mean_c F'; max_c F'])), a k^d conv 2 -> 1 (k = 7); F'' = M_s * F'.
Channel then spatial, and no residual (the paper's Eq. 1; some re-implementations add one).
The authors' code follows the spatial conv with BatchNorm; the paper's Eq. 3 has none, nor has this.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import CONV, AttentionBlock, broadcast_channels, reduced_width
from .registry import register_attention

POOL_TYPES = ("avg", "max")


@register_attention("cbam")
class CBAM(AttentionBlock):
    def __init__(
        self,
        channels: int,
        spatial_dims: int = 2,
        reduction: int | None = None,
        kernel_size: int = 7,
        pool_types: tuple[str, ...] | list[str] = ("avg", "max"),
        bias: bool = True,
    ) -> None:
        super().__init__(channels, spatial_dims)
        pool_types = tuple(pool_types)
        unknown = [p for p in pool_types if p not in POOL_TYPES]
        if not pool_types or unknown or len(set(pool_types)) != len(pool_types):
            raise ValueError(
                f"CBAM: pool_types must be distinct values from {POOL_TYPES}, got {pool_types!r}"
            )
        if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"CBAM: kernel_size must be an odd positive int, got {kernel_size!r}")
        hidden = reduced_width("CBAM", channels, reduction, 16)
        self.pool_types = pool_types
        self.mlp = nn.Sequential(
            nn.Linear(channels, hidden, bias=bias), nn.ReLU(), nn.Linear(hidden, channels, bias=bias)
        )
        self.spatial_conv = CONV[spatial_dims](2, 1, kernel_size, padding=kernel_size // 2, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        dims = tuple(range(2, x.ndim))
        pooled = {"avg": lambda: x.mean(dim=dims), "max": lambda: x.amax(dim=dims)}
        m_c = torch.sigmoid(sum(self.mlp(pooled[p]()) for p in self.pool_types))
        x = x * broadcast_channels(m_c, x.ndim).to(x.dtype)
        descriptor = torch.cat([x.mean(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)], dim=1)
        m_s = torch.sigmoid(self.spatial_conv(descriptor))
        self.keep("channel", m_c)
        self.keep("spatial", m_s)
        return x * m_s.to(x.dtype)
