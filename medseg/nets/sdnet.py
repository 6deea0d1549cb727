"""SD-Net (Roy et al., 2017, "Error corrective boosting"), as in the scSE paper (MICCAI 2018, Sec. 3).

QuickNAT's encoder/decoder with a single conv_k -> BN -> ReLU per block: K encoder blocks with 2x max-pool
keeping indices, a bottleneck block, K decoder blocks (max-unpool -> cat skip -> block), 1x1 classifier.
Paper setting: ``features=64``, 7x7 kernels, K = 3.
"""

from __future__ import annotations

from .base import EncoderDecoder
from .layers import ConvNormAct, check_kernel_size
from .gates import SkipGateSpec
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
        skip_gate: SkipGateSpec = False,
    ) -> None:
        super().__init__(in_channels, num_classes, spatial_dims, depth)
        k = check_kernel_size("SDNet", kernel_size)
        f, d = features, spatial_dims
        block = lambda i, o: ConvNormAct(d, i, o, k)  # noqa: E731
        self.build_uniform(block, lambda: block(f, f), f, attention, placement, skip_gate)
