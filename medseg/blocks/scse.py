"""Concurrent spatial and channel SE: scSE (Roy et al., MICCAI 2018 Sec. 2.3; TMI 2019 Sec. III).

out = agg(cSE(U), sSE(U)); agg is addition (MICCAI 2018), element-wise max (the authors' code and the
TMI 2019 preference), multiplication, or channel concatenation (2C output channels).
"""

from __future__ import annotations

import torch

from .base import AttentionBlock, broadcast_channels
from .cse import ChannelSqueezeExcitation
from .registry import register_attention
from .sse import SSE

AGGREGATIONS = ("add", "max", "mul", "concat")


@register_attention("scse")
class SCSE(AttentionBlock):
    def __init__(
        self, channels: int, spatial_dims: int = 2, reduction: int = 2, aggregation: str = "add", bias: bool = True
    ) -> None:
        super().__init__(channels, spatial_dims)
        if aggregation not in AGGREGATIONS:
            raise ValueError(f"SCSE: unknown aggregation {aggregation!r}; expected one of {', '.join(AGGREGATIONS)}")
        self.aggregation = aggregation
        self.cse = ChannelSqueezeExcitation(channels, spatial_dims, reduction=reduction, bias=bias)
        self.sse = SSE(channels, spatial_dims, bias=bias)
        self.out_channels = 2 * channels if aggregation == "concat" else channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        s = self.cse.channel_weights(x)
        q = self.sse.spatial_weights(x)
        self.keep("channel", s)
        self.keep("spatial", q)
        u_c = x * broadcast_channels(s, x.ndim).to(x.dtype)
        u_s = x * q
        if self.aggregation == "add":
            return u_c + u_s
        if self.aggregation == "max":
            return torch.maximum(u_c, u_s)
        if self.aggregation == "mul":
            return u_c * u_s
        return torch.cat([u_c, u_s], dim=1)
