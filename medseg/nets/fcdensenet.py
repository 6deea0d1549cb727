"""FC-DenseNet, "The One Hundred Layers Tiramisu" (Jegou et al., CVPRW 2017).

Dense layer: BN -> ReLU -> conv_k(growth) -> dropout; a dense block of n layers feeds each layer the
concatenation of all earlier outputs. Down path: stem conv_k(first_features) -> [dense block, output
cat(input, new) = skip; transition down BN -> ReLU -> conv1x1 -> dropout -> 2x max-pool] x K.
Bottleneck dense block (new features only). Up path: [transition up = stride-2 transposed conv_3 on the
new features only; cat skip; dense block (new features only; the last one keeps its input)] x K.
Presets (``layers`` = down blocks then bottleneck, mirrored on the way up): FC-DenseNet56 (4 x 5 + 4,
growth 12), 67 (5 x 6, growth 16), 103 (4, 5, 7, 10, 12, 15, growth 16); paper: 1.5 M, 3.5 M, 9.4 M params.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .base import EncoderDecoder
from .layers import BATCHNORM, MaxPoolDown, TransposedUp, check_kernel_size, conv
from .gates import SkipGateSpec
from .placement import AttentionSpec, PlacementSpec


def dense_layer(spatial_dims: int, in_channels: int, growth: int, kernel_size: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(
        BATCHNORM[spatial_dims](in_channels),
        nn.ReLU(),
        conv(spatial_dims, in_channels, growth, kernel_size),
        nn.Dropout(dropout),
    )


class DenseBlock(nn.Module):
    """``num_layers`` dense layers; returns cat(input, new) if ``keep_input`` else the new features."""

    def __init__(
        self,
        spatial_dims: int,
        in_channels: int,
        num_layers: int,
        growth: int,
        kernel_size: int,
        dropout: float,
        keep_input: bool,
    ) -> None:
        super().__init__()
        self.keep_input = keep_input
        self.layers = nn.ModuleList(
            dense_layer(spatial_dims, in_channels + i * growth, growth, kernel_size, dropout) for i in range(num_layers)
        )
        self.out_channels = num_layers * growth + (in_channels if keep_input else 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))
        return torch.cat(features if self.keep_input else features[1:], dim=1)


class TransitionDown(nn.Module):
    """BN -> ReLU -> conv1x1 -> dropout -> 2x max-pool; returns ``(pooled, None)``."""

    def __init__(self, spatial_dims: int, channels: int, dropout: float) -> None:
        super().__init__()
        self.body = nn.Sequential(
            BATCHNORM[spatial_dims](channels), nn.ReLU(), conv(spatial_dims, channels, channels, 1), nn.Dropout(dropout)
        )
        self.pool = MaxPoolDown(spatial_dims, keep_indices=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, None]:
        return self.pool(self.body(x))


class FCDenseNet(EncoderDecoder):
    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        spatial_dims: int = 2,
        attention: AttentionSpec = None,
        placement: PlacementSpec = "all",
        layers: Sequence[int] = (4, 5, 7, 10, 12, 15),
        growth_rate: int = 16,
        first_features: int = 48,
        kernel_size: int = 3,
        dropout: float = 0.2,
        skip_gate: SkipGateSpec = False,
    ) -> None:
        layers = list(layers)
        if len(layers) < 2 or not all(isinstance(n, int) and n >= 1 for n in layers):
            raise ValueError(f"FCDenseNet: layers must list >= 2 positive ints (down blocks, bottleneck), got {layers!r}")
        depth = len(layers) - 1
        super().__init__(in_channels, num_classes, spatial_dims, depth)
        k = check_kernel_size("FCDenseNet", kernel_size)
        d, g = spatial_dims, growth_rate
        self.stem = conv(d, in_channels, first_features, k)
        skip_channels, channels = [], first_features
        for level in range(depth):
            block = DenseBlock(d, channels, layers[level], g, k, dropout, keep_input=True)
            channels = block.out_channels
            skip_channels.append(channels)
            self.encoders.append(block)
            self.downs.append(TransitionDown(d, channels, dropout))
        self.bottleneck = DenseBlock(d, channels, layers[depth], g, k, dropout, keep_input=False)
        below = [0] * depth  # channels arriving from below at each level
        dec_channels = [0] * depth
        channels = self.bottleneck.out_channels
        ups, decoders = [None] * depth, [None] * depth
        for level in reversed(range(depth)):
            below[level] = channels
            ups[level] = TransposedUp(d, channels, channels, 3)
            decoders[level] = DenseBlock(
                d, channels + skip_channels[level], layers[level], g, k, dropout, keep_input=level == 0
            )
            channels = dec_channels[level] = decoders[level].out_channels
        self.ups.extend(ups)
        self.decoders.extend(decoders)
        self.head = conv(d, channels, num_classes, 1)
        site_channels = skip_channels + [self.bottleneck.out_channels] + dec_channels[::-1] + [channels]
        self.place_attention(site_channels, attention, placement)
        self.gate_skips(skip_channels, below, skip_gate)
