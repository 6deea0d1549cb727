"""QuickNAT (Roy et al., NeuroImage 2019; the authors' MatConvNet definition).

Dense block: o1 = conv_k(ReLU(BN(x))); o2 = conv_k(ReLU(BN(cat(x, o1)))); out = conv_1(ReLU(BN(cat(x, o1, o2)))),
each ``features`` wide. Encoder: dense block -> 2x max-pool keeping indices (x K). Bottleneck: conv_k + BN.
Decoder: max-unpool with those indices -> cat skip -> dense block (x K). Classifier: 1x1 conv.
Paper setting: ``features=64``, 5x5 kernels, K = 4.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import EncoderDecoder
from .layers import BATCHNORM, check_kernel_size, conv
from .placement import AttentionSpec, PlacementSpec


def pre_act(spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int) -> nn.Sequential:
    """BN -> ReLU -> conv."""
    return nn.Sequential(
        BATCHNORM[spatial_dims](in_channels), nn.ReLU(), conv(spatial_dims, in_channels, out_channels, kernel_size)
    )


class QuickNATDenseBlock(nn.Module):
    def __init__(self, spatial_dims: int, in_channels: int, features: int, kernel_size: int) -> None:
        super().__init__()
        self.conv1 = pre_act(spatial_dims, in_channels, features, kernel_size)
        self.conv2 = pre_act(spatial_dims, in_channels + features, features, kernel_size)
        self.conv3 = pre_act(spatial_dims, in_channels + 2 * features, features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        o1 = self.conv1(x)
        o2 = self.conv2(torch.cat([x, o1], dim=1))
        return self.conv3(torch.cat([x, o1, o2], dim=1))


class QuickNAT(EncoderDecoder):
    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        spatial_dims: int = 2,
        attention: AttentionSpec = None,
        placement: PlacementSpec = "all",
        features: int = 64,
        kernel_size: int = 5,
        depth: int = 4,
        skip_gate: bool = False,
    ) -> None:
        super().__init__(in_channels, num_classes, spatial_dims, depth)
        k = check_kernel_size("QuickNAT", kernel_size)
        f, d = features, spatial_dims
        block = lambda i, o: QuickNATDenseBlock(d, i, o, k)  # noqa: E731
        bottleneck = lambda: nn.Sequential(conv(d, f, f, k), BATCHNORM[d](f))  # noqa: E731
        self.build_uniform(block, bottleneck, f, attention, placement, skip_gate)
