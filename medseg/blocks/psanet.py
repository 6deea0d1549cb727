"""Point-wise spatial attention, PSANet (Zhao et al., ECCV 2018), bi-directional, as the official PyTorch ``PSA``.

Per branch b in (collect, distribute): x_b = CBR_1(X) (C -> m), shrunk by ``shrink_factor`` s to
h' = (h - 1) // s + 1 per axis (bilinear/trilinear, align_corners=True); logits = conv_1(CBR_1(x_b))
(m -> M = prod(mask_size), no bias); A_b = softmax over dim 1 of PSAMask(logits) (:mod:`.psamask`; collect:
target p gathers from sources q, distribute: its transpose); z_b = x_b A_b / ``normalization_factor``.
proj = CBR_1(cat(z_col, z_dis)) (2m -> C), resized back to X's grid (align_corners=True; the official
(h' - 1) s + 1 equals h when (h - 1) % s == 0); out = fuse(cat(X, proj)) with fuse = CBR_1 (2C -> C), a
1x1 fusion standing in for PSANet's 3x3 head conv so that the block keeps C channels.
CBR_1 = conv 1x1 (no bias) -> BN -> ReLU. Defaults as the released models (hszhao/semseg ``psanet.py``):
m = C / 4 (2048 -> 512), s = 2, softmax on, normalization_factor 1.

``mask_size`` (an int per axis or a tuple): the official rule is 2h' - 1 (the full over-complete mask);
the default 15 is full for shrunk maps up to 8 per axis (a 128^2 slice at a depth-4 bottleneck, 8 x 8
after shrink); smaller masks leave far offsets at 0 logits as the official kernel does. ``compact=True``:
the mask has N = prod(h') channels indexed by absolute position (the official ``compact`` mode, the practical
one in 3D); ``mask_size`` must then equal the shrunk map's size. Memory: each branch holds B N^2 attention
and B M N logits; inputs above ``max_attention_bytes`` (1 GiB, PAM's limit) are refused with an error.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .base import BATCHNORM, CONV, AttentionBlock
from .pam import PAM_MAX_ATTENTION_BYTES
from .psamask import psa_mask
from .registry import register_attention

INTERPOLATION = {2: "bilinear", 3: "trilinear"}


def cbr(dims: int, c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(CONV[dims](c_in, c_out, 1, bias=False), BATCHNORM[dims](c_out), nn.ReLU())


def shrunk_size(size: Sequence[int], factor: int) -> tuple[int, ...]:
    """The official (h - 1) // s + 1 per axis."""
    return tuple((n - 1) // factor + 1 for n in size)


@register_attention("psanet", group="self-attention")
class PSANet(AttentionBlock):
    def __init__(
        self,
        channels: int,
        spatial_dims: int = 2,
        mid_channels: int | None = None,
        shrink_factor: int = 2,
        mask_size: int | Sequence[int] = 15,
        compact: bool = False,
        softmax: bool = True,
        normalization_factor: float = 1.0,
        max_attention_bytes: int = PAM_MAX_ATTENTION_BYTES,
    ) -> None:
        super().__init__(channels, spatial_dims)
        mid = max(1, channels // 4) if mid_channels is None else mid_channels
        if isinstance(mid, bool) or not isinstance(mid, int) or mid < 1:
            raise ValueError(f"PSANet: mid_channels must be a positive int, got {mid_channels!r}")
        if isinstance(shrink_factor, bool) or not isinstance(shrink_factor, int) or shrink_factor < 1:
            raise ValueError(f"PSANet: shrink_factor must be a positive int, got {shrink_factor!r}")
        mask = (mask_size,) * spatial_dims if isinstance(mask_size, int) else tuple(mask_size)
        if len(mask) != spatial_dims or not all(isinstance(s, int) and s >= 1 for s in mask):
            raise ValueError(f"PSANet: mask_size must be a positive int or {spatial_dims} positive ints, got {mask_size!r}")
        if normalization_factor <= 0:
            raise ValueError(f"PSANet: normalization_factor must be positive, got {normalization_factor!r}")
        d, m, n_mask = spatial_dims, mid, math.prod(mask)
        self.mid_channels, self.shrink_factor, self.mask_size = mid, shrink_factor, mask
        self.compact, self.softmax, self.normalization_factor = compact, softmax, float(normalization_factor)
        self.max_attention_bytes = max_attention_bytes
        self.reduce_collect, self.reduce_distribute = cbr(d, channels, m), cbr(d, channels, m)
        self.attention_collect = nn.Sequential(cbr(d, m, m), CONV[d](m, n_mask, 1, bias=False))
        self.attention_distribute = nn.Sequential(cbr(d, m, m), CONV[d](m, n_mask, 1, bias=False))
        self.proj = cbr(d, 2 * m, channels)
        self.fuse = cbr(d, 2 * channels, channels)

    def check_memory(self, x: torch.Tensor, size: tuple[int, ...]) -> None:
        n = math.prod(size)
        itemsize = torch.empty((), dtype=torch.get_autocast_dtype(x.device.type)
                               if torch.is_autocast_enabled(x.device.type) else x.dtype).element_size()
        needed = x.shape[0] * n * (n + math.prod(self.mask_size)) * itemsize
        if needed > self.max_attention_bytes:
            raise ValueError(
                f"PSANet: input {tuple(x.shape)} shrinks to {size} (N = {n}), so each branch's B x N x N attention "
                f"and B x M x N mask logits (M = {math.prod(self.mask_size)}) need {needed / 2**30:.2f} GiB, above the "
                f"limit max_attention_bytes = {self.max_attention_bytes / 2**30:.2f} GiB (memory is O(N^2)); "
                "raise shrink_factor, place it at a coarser site, or pass a larger max_attention_bytes"
            )
        if self.compact and size != self.mask_size:
            raise ValueError(f"PSANet: compact mode needs mask_size equal to the shrunk map size {size}, got {self.mask_size}")

    def attention(self, logits: torch.Tensor, psa_type: str) -> torch.Tensor:
        """(B, M, *shrunk) logits -> (B, N, N) attention Y, normalised over dim 1 (softmax as released)."""
        if self.compact:
            y = logits.flatten(2)
            y = y if psa_type == "collect" else y.transpose(1, 2)
        else:
            y = psa_mask(logits, self.mask_size, psa_type)
        return torch.softmax(y, dim=1) if self.softmax else y

    def branch(self, x: torch.Tensor, reduce: nn.Module, attend: nn.Module, psa_type: str, size: tuple[int, ...]) -> torch.Tensor:
        feats = reduce(x)
        if size != tuple(x.shape[2:]):
            feats = F.interpolate(feats, size=size, mode=INTERPOLATION[self.spatial_dims], align_corners=True)
        a = self.attention(attend(feats), psa_type)
        if psa_type == "collect":
            centre = a[:, :, a.shape[-1] // 2]  # the sources the central target gathers from
            self.keep("collect_centre", centre.reshape(centre.shape[0], 1, *size))
        z = torch.bmm(feats.flatten(2), a.to(feats.dtype)) / self.normalization_factor
        return z.reshape(feats.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        size = shrunk_size(x.shape[2:], self.shrink_factor)
        self.check_memory(x, size)
        z_col = self.branch(x, self.reduce_collect, self.attention_collect, "collect", size)
        z_dis = self.branch(x, self.reduce_distribute, self.attention_distribute, "distribute", size)
        out = self.proj(torch.cat([z_col, z_dis], dim=1))
        if out.shape[2:] != x.shape[2:]:
            out = F.interpolate(out, size=x.shape[2:], mode=INTERPOLATION[self.spatial_dims], align_corners=True)
        return self.fuse(torch.cat([x, out.to(x.dtype)], dim=1))
