"""Concurrent spatial and channel SE: scSE (Roy et al., MICCAI 2018 Sec. 2.3; TMI 2019 Sec. III).

out = agg(cSE(U), sSE(U)) with U_c = U * s (per channel) and U_s = U * q (per voxel); agg is addition
(MICCAI 2018), element-wise max (the authors' code and the TMI 2019 preference), multiplication, or
channel concatenation [U_c; U_s] (2C output channels). 'add' is computed as U * (s + q), the same
maths without materialising both full-size products.
"""

from __future__ import annotations

import torch

from .base import AttentionBlock, broadcast_channels, reduced_width
from .cse import ChannelSqueezeExcitation
from .registry import register_attention
from .sse import SSE

AGGREGATIONS = ("add", "max", "mul", "concat")


@register_attention("scse")
class SCSE(AttentionBlock):
    """scSE; ``reduction`` of the cSE branch defaults to 2 (the paper)."""

    default_reduction = ChannelSqueezeExcitation.default_reduction

    def __init__(
        self,
        channels: int,
        spatial_dims: int = 2,
        reduction: int | None = None,
        aggregation: str = "add",
        bias: bool = True,
    ) -> None:
        super().__init__(channels, spatial_dims)
        if aggregation not in AGGREGATIONS:
            raise ValueError(
                f"SCSE: unknown aggregation {aggregation!r}; expected one of {', '.join(AGGREGATIONS)}"
            )
        reduced_width("SCSE", channels, reduction, ChannelSqueezeExcitation.default_reduction)  # errors name SCSE
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
        s = broadcast_channels(s, x.ndim).to(x.dtype)
        q = q.to(x.dtype)
        if self.aggregation == "add":
            return x * (s + q)
        if self.aggregation == "mul":
            return (x * s) * (x * q)
        if self.aggregation == "max":
            return torch.maximum(x * s, x * q)
        return torch.cat([x * s, x * q], dim=1)
