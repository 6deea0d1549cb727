"""Feature Pyramid Attention, FPA (Li et al., PAN, BMVC 2018, Sec. 3.1; smp's ``FPABlock``).

With X (B, C, *spatial) and ``down`` a 2x down-sampling:
x1 = CR_7(down X) (C -> m), x2 = CR_5(down x1), x3 = CR_3(CR_3(down x2));
y = up(up(up(x3) + CR_5(x2)) + CR_7(x1)) to X's grid (bilinear/trilinear, align_corners=True, as smp);
master = CBR_1(X) (C -> C); g = relu(conv_1(GAP X)) (C -> C, broadcast over space);
out = y * master + g (``global_branch="add"``), or conv_1(cat(y * master, g)) (``"concat"``, 2C -> C).
CR_k = conv k x k (bias) -> ReLU; CBR = conv 1x1 -> BatchNorm -> ReLU.

Choices where the sources disagree (reference/pan-psanet-encnet.md Sec. 1.3):
- ``downsample="maxpool"`` (default; smp, and the paper's MAX > AVE ablation) or ``"stride"``: stride-2
  convolutions in place of pool + conv (JaveyWang's PAN). Pooling uses ceil mode, so every input size
  builds (a 1-voxel level stays 1 voxel).
- ``mid_channels=1`` (default; smp: one pixel-attention map broadcast over the C channels) or m > 1:
  an m-wide pyramid ending in a 1x1 conv m -> C, a per-channel attention (JaveyWang uses m = C/4).
- ``global_branch="add"`` (default; smp, JaveyWang and robosat) or ``"concat"`` (the paper's wording).
Normalisation (the paper's BN breaks at batch 1 on 1x1 maps, smp issue 342): the global branch has no
norm (robosat's rule for N x C x 1 x 1 tensors), and neither have the pyramid levels, which reach a single
voxel on small maps (smp has BN there; any norm of one value per sample and channel fails at batch 1).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import BATCHNORM, CONV, AttentionBlock
from .registry import register_attention

DOWNSAMPLE = ("maxpool", "stride")
GLOBAL_BRANCH = ("add", "concat")
INTERPOLATION = {2: "bilinear", 3: "trilinear"}
MAX_POOL = {2: F.max_pool2d, 3: F.max_pool3d}


def upsample(x: torch.Tensor, size: torch.Size) -> torch.Tensor:
    mode = INTERPOLATION[x.ndim - 2]
    return x if x.shape[2:] == size else F.interpolate(x, size=size, mode=mode, align_corners=True)


class ConvRelu(nn.Sequential):
    def __init__(self, dims: int, c_in: int, c_out: int, kernel: int, stride: int = 1) -> None:
        super().__init__(CONV[dims](c_in, c_out, kernel, stride=stride, padding=kernel // 2), nn.ReLU())


class PyramidLevel(nn.Module):
    """down-sample by 2 then conv k x k (``"maxpool"``: ceil-mode max-pool + conv; ``"stride"``: one stride-2 conv)."""

    def __init__(self, dims: int, c_in: int, c_out: int, kernel: int, downsample: str) -> None:
        super().__init__()
        self.pool = downsample == "maxpool"
        self.conv = ConvRelu(dims, c_in, c_out, kernel, stride=1 if self.pool else 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool:
            x = MAX_POOL[x.ndim - 2](x, 2, 2, ceil_mode=True)
        return self.conv(x)


@register_attention("fpa", group="recalibration")
class FPA(AttentionBlock):
    def __init__(
        self,
        channels: int,
        spatial_dims: int = 2,
        mid_channels: int = 1,
        downsample: str = "maxpool",
        global_branch: str = "add",
    ) -> None:
        super().__init__(channels, spatial_dims)
        if downsample not in DOWNSAMPLE:
            raise ValueError(f"FPA: downsample must be one of {', '.join(DOWNSAMPLE)}, got {downsample!r}")
        if global_branch not in GLOBAL_BRANCH:
            raise ValueError(f"FPA: global_branch must be one of {', '.join(GLOBAL_BRANCH)}, got {global_branch!r}")
        if isinstance(mid_channels, bool) or not isinstance(mid_channels, int) or mid_channels < 1:
            raise ValueError(f"FPA: mid_channels must be a positive int, got {mid_channels!r}")
        d, c, m = spatial_dims, channels, mid_channels
        self.global_branch = global_branch
        self.master = nn.Sequential(CONV[d](c, c, 1), BATCHNORM[d](c), nn.ReLU())
        self.pooled = CONV[d](c, c, 1)
        self.down1 = PyramidLevel(d, c, m, 7, downsample)
        self.down2 = PyramidLevel(d, m, m, 5, downsample)
        self.down3 = nn.Sequential(PyramidLevel(d, m, m, 3, downsample), ConvRelu(d, m, m, 3))
        self.lateral1 = ConvRelu(d, m, m, 7)
        self.lateral2 = ConvRelu(d, m, m, 5)
        self.expand = CONV[d](m, c, 1) if m > 1 else None
        self.fuse = CONV[d](2 * c, c, 1) if global_branch == "concat" else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x1 = self.down1(x)
        x2 = self.down2(x1)
        x3 = self.down3(x2)
        y = upsample(x3, x2.shape[2:]) + self.lateral2(x2)
        y = upsample(y, x1.shape[2:]) + self.lateral1(x1)
        y = upsample(y, x.shape[2:])
        if self.expand is not None:
            y = self.expand(y)
        self.keep(None, y)
        g = torch.relu(self.pooled(x.mean(dim=tuple(range(2, x.ndim)), keepdim=True)))
        attended = y * self.master(x)
        if self.fuse is None:
            return attended + g
        return self.fuse(torch.cat([attended, g.expand_as(attended)], dim=1))
