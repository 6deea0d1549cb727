"""Position attention module, PAM (Fu et al., DANet, CVPR 2019, Sec. 3.2, Eq. 1-2).

Q, K = 1x1 convs C -> C/r (r = 8), V = 1x1 conv C -> C, flattened to (B, *, N) over the N voxels.
A = softmax_j(Q_i . K_j) (N x N); E_i = gamma * sum_j A_ij V_j + X_i, gamma a scalar initialised to 0
(so the block starts as the identity).

Memory is O(N^2): the attention matrix takes B * N^2 * itemsize bytes (128^2 -> 1 GiB in float32, 32^3
-> 4 GiB). Inputs whose matrix would exceed ``max_attention_bytes`` (default ``PAM_MAX_ATTENTION_BYTES``
= 1 GiB) are refused with an error; downsample, or raise the limit explicitly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import CONV, AttentionBlock, reduced_width
from .registry import register_attention

PAM_MAX_ATTENTION_BYTES = 2**30


def position_attention_bytes(x: torch.Tensor) -> int:
    """Bytes of the (B, N, N) attention matrix PAM would build for ``x``."""
    n = math.prod(x.shape[2:])
    device = x.device.type
    dtype = torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else x.dtype
    return x.shape[0] * n * n * torch.empty((), dtype=dtype).element_size()


@register_attention("pam", group="self-attention")
class PAM(AttentionBlock):
    def __init__(
        self,
        channels: int,
        spatial_dims: int = 2,
        reduction: int | None = None,
        max_attention_bytes: int = PAM_MAX_ATTENTION_BYTES,
    ) -> None:
        super().__init__(channels, spatial_dims)
        hidden = reduced_width("PAM", channels, reduction, 8)
        conv = CONV[spatial_dims]
        self.query = conv(channels, hidden, 1)
        self.key = conv(channels, hidden, 1)
        self.value = conv(channels, channels, 1)
        self.gamma = nn.Parameter(torch.zeros(1))
        self.max_attention_bytes = max_attention_bytes

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gamma * V A^T reshaped like x, A): the term PAM adds to its input, and the (B, N, N) map."""
        needed = position_attention_bytes(x)
        if needed > self.max_attention_bytes:
            n = math.prod(x.shape[2:])
            raise ValueError(
                f"PAM: input {tuple(x.shape)} has N = {n} voxels, so its B x N x N attention matrix needs "
                f"{needed / 2**30:.2f} GiB, above the limit max_attention_bytes = "
                f"{self.max_attention_bytes / 2**30:.2f} GiB (PAM memory is O(N^2)); downsample the input "
                "or pass a larger max_attention_bytes"
            )
        q = self.query(x).flatten(2)
        k = self.key(x).flatten(2)
        v = self.value(x).flatten(2)
        a = torch.softmax(torch.bmm(q.transpose(1, 2), k), dim=-1)
        return self.gamma * torch.bmm(v, a.transpose(1, 2)).reshape(x.shape), a

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        term, a = self.attend(x)
        self.keep(None, a)
        return x + term.to(x.dtype)
