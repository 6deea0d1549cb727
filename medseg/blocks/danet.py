"""Dual attention, DANet (Fu et al., CVPR 2019, Sec. 3.4): position and channel attention summed.

The DANet head sums the outputs of its PAM and CAM branches (each wrapped in network-level 3x3
conv-BN-ReLU layers, which are not part of this block). As a block we sum the two attention terms onto
one residual: out = X + gamma_p * PAM_term(X) + gamma_c * CAM_term(X) = PAM(X) + CAM(X) - X, so the
block starts as the identity (gamma_p = gamma_c = 0) like its parts; summing PAM(X) + CAM(X) as they
stand would start at 2X. PAM's O(N^2) memory limit applies (``max_attention_bytes``).
"""

from __future__ import annotations

import torch

from .base import AttentionBlock, reduced_width
from .cam import CAM
from .pam import PAM, PAM_MAX_ATTENTION_BYTES
from .registry import register_attention


@register_attention("danet", group="self-attention")
class DANet(AttentionBlock):
    def __init__(
        self,
        channels: int,
        spatial_dims: int = 2,
        reduction: int | None = None,
        max_attention_bytes: int = PAM_MAX_ATTENTION_BYTES,
    ) -> None:
        super().__init__(channels, spatial_dims)
        reduced_width("DANet", channels, reduction, 8)  # errors name DANet
        self.pam = PAM(channels, spatial_dims, reduction=reduction, max_attention_bytes=max_attention_bytes)
        self.cam = CAM(channels, spatial_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        position, a_p = self.pam.attend(x)
        channel, a_c = self.cam.attend(x)
        self.keep("position", a_p)
        self.keep("channel", a_c)
        return x + position.to(x.dtype) + channel.to(x.dtype)
