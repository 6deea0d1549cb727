"""Bottleneck Attention Module, BAM (Park et al., BMVC 2018, Sec. 3, Eqs. 1-4).

F' = F + F * sigmoid(M_c(F) + M_s(F)), the two branches broadcast to (B, C, *spatial).
M_c(F) = BN(W1 relu(W0 GAP(F))), hidden C/r (r = 16), BatchNorm over the C outputs (Eq. 3).
M_s(F) = BN(f3(f2(f1(f0(F))))) (Eq. 4): f0 1x1 conv C -> C/r; f1, f2 3x3 convs with dilation d = 4;
f3 1x1 conv to one map; BN + ReLU after f0, f1, f2 (the authors' code) and BN on the final map (Eq. 4).
Layers followed by BatchNorm carry no bias (BatchNorm cancels it; the authors' code keeps such biases,
which get no gradient in training). The channel branch's BatchNorm needs a batch of at least 2 in training.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import BATCHNORM, CONV, AttentionBlock, broadcast_channels, reduced_width
from .registry import register_attention


@register_attention("bam")
class BAM(AttentionBlock):
    def __init__(
        self,
        channels: int,
        spatial_dims: int = 2,
        reduction: int | None = None,
        dilation: int = 4,
    ) -> None:
        super().__init__(channels, spatial_dims)
        hidden = reduced_width("BAM", channels, reduction, 16)
        conv, norm = CONV[spatial_dims], BATCHNORM[spatial_dims]
        self.channel_mlp = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(), nn.Linear(hidden, channels, bias=False)
        )
        self.channel_norm = nn.BatchNorm1d(channels)
        layers: list[nn.Module] = [conv(channels, hidden, 1, bias=False), norm(hidden), nn.ReLU()]
        for _ in range(2):
            layers += [conv(hidden, hidden, 3, padding=dilation, dilation=dilation, bias=False), norm(hidden), nn.ReLU()]
        layers += [conv(hidden, 1, 1, bias=False), norm(1)]
        self.spatial = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        if self.training and x.shape[0] < 2:
            raise ValueError(
                "BAM: the channel branch's BatchNorm needs a batch of at least 2 in training, "
                f"got batch size {x.shape[0]} (input shape {tuple(x.shape)})"
            )
        m_c = self.channel_norm(self.channel_mlp(x.mean(dim=tuple(range(2, x.ndim)))))
        m_s = self.spatial(x)
        self.keep("channel", m_c)
        self.keep("spatial", m_s)
        attention = torch.sigmoid(broadcast_channels(m_c, x.ndim) + m_s)
        return x + x * attention.to(x.dtype)
