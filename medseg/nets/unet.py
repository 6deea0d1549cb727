"""U-Net (Ronneberger et al., MICCAI 2015) as used in the scSE paper (Roy et al., MICCAI 2018, Sec. 3).

Block = two (conv k x k -> BN -> ReLU); K encoder blocks with 2x max-pool, a bottleneck block, K decoder
blocks on cat(upsampled, skip). The ``roy2018`` preset: ``features=64`` at every block, 5x5 kernels,
K = 4, max-unpool with the pooling indices: 2,157,276 parameters for 1 -> 28 classes (the paper's
"~2.1 M"; ``upsample="transpose"``, 2x2 up-convolutions as in the original U-Net, gives 2.22 M).
"""

from __future__ import annotations

from torch import nn

from .base import EncoderDecoder
from .layers import ConvNormAct, TransposedUp, check_kernel_size
from .gates import SkipGateSpec
from .placement import AttentionSpec, PlacementSpec

UPSAMPLE = ("unpool", "transpose")


class UNetBlock(nn.Sequential):
    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(
            ConvNormAct(spatial_dims, in_channels, out_channels, kernel_size),
            ConvNormAct(spatial_dims, out_channels, out_channels, kernel_size),
        )


class UNet(EncoderDecoder):
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
        upsample: str = "unpool",
        skip_gate: SkipGateSpec = False,
    ) -> None:
        super().__init__(in_channels, num_classes, spatial_dims, depth)
        k = check_kernel_size("UNet", kernel_size)
        if upsample not in UPSAMPLE:
            raise ValueError(f"UNet: upsample must be one of {', '.join(UPSAMPLE)}, got {upsample!r}")
        f, d = features, spatial_dims
        up = None if upsample == "unpool" else (lambda: TransposedUp(d, f, f, 2))
        block = lambda i, o: UNetBlock(d, i, o, k)  # noqa: E731
        self.build_uniform(block, lambda: block(f, f), f, attention, placement, skip_gate, up)
