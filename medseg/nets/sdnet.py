"""SD-Net (Roy et al., 2017, "Error corrective boosting"), as in the scSE paper (MICCAI 2018, Sec. 3).

QuickNAT's encoder/decoder with a single conv_k -> BN -> ReLU per block: K encoder blocks with 2x max-pool
keeping indices, a bottleneck block, K decoder blocks (max-unpool -> cat skip -> block), 1x1 classifier.
Paper setting: ``features=64``, 7x7 kernels, K = 3.
"""

from __future__ import annotations

from .base import EncoderDecoder
from .layers import ConvNormAct, MaxPoolDown, MaxUnpoolUp, check_kernel_size, conv
from .placement import AttentionSpec, PlacementSpec


class SDNet(EncoderDecoder):
    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        spatial_dims: int = 2,
        attention: AttentionSpec = None,
        placement: PlacementSpec = "all",
        features: int = 64,
        kernel_size: int = 7,
        depth: int = 3,
        skip_gate: bool = False,
    ) -> None:
        super().__init__(in_channels, num_classes, spatial_dims, depth)
        k = check_kernel_size("SDNet", kernel_size)
        f, d = features, spatial_dims
        for level in range(depth):
            self.encoders.append(ConvNormAct(d, in_channels if level == 0 else f, f, k))
            self.downs.append(MaxPoolDown(d))
            self.ups.append(MaxUnpoolUp(d))
            self.decoders.append(ConvNormAct(d, 2 * f, f, k))
        self.bottleneck = ConvNormAct(d, f, f, k)
        self.head = conv(d, f, num_classes, 1)
        self.place_attention([f] * (2 * depth + 2), attention, placement)
        if skip_gate:
            self.gate_skips([f] * depth, [f] * depth)
