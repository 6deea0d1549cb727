"""QuickNAT (Roy et al., NeuroImage 2019), in two presets: the MatConvNet release and the PyTorch code.

Dense block: o1 = conv_k(a(BN(x))); o2 = conv_k(a(BN(cat(x, o1)))); out = conv_1(a(BN(cat(x, o1, o2)))),
each ``features`` wide, a = ReLU, or (``activation="prelu"``) one PReLU whose single slope (init 0.25) the
block's three pre-activations share. Encoder: dense block -> site -> dropout -> 2x max-pool keeping indices
(x K; the skip is taken after the dropout). Bottleneck: conv_k + BN, or (``bottleneck="dense"``) a dense
block. Decoder: max-unpool with those indices -> cat skip -> dense block -> site -> dropout (x K).
Classifier: 1x1 conv. Dropout (``dropout`` > 0) drops whole channels (Dropout2d/3d).

Presets: ``roy2019`` (MatConvNet): ReLU, conv bottleneck, no dropout. ``aimed`` (ai-med/quickNAT_pytorch
with nn-common-modules 1.3): PReLU, dense bottleneck, Dropout2d(0.2), attention after the encoder and
decoder blocks only. Both: ``features=64``, 5x5 kernels, K = 4.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import EncoderDecoder
from .layers import BATCHNORM, DROPOUT, check_kernel_size, conv
from .gates import SkipGateSpec
from .placement import AttentionSpec, PlacementSpec

ACTIVATIONS = ("relu", "prelu")
BOTTLENECKS = ("conv", "dense")


def pre_act(spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int, act: nn.Module) -> nn.Sequential:
    """BN -> act -> conv."""
    return nn.Sequential(BATCHNORM[spatial_dims](in_channels), act, conv(spatial_dims, in_channels, out_channels, kernel_size))


class QuickNATDenseBlock(nn.Module):
    def __init__(
        self, spatial_dims: int, in_channels: int, features: int, kernel_size: int, activation: str = "relu"
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"QuickNAT: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        shared = nn.PReLU(num_parameters=1, init=0.25) if activation == "prelu" else None
        act = lambda: shared if shared is not None else nn.ReLU()  # noqa: E731
        self.conv1 = pre_act(spatial_dims, in_channels, features, kernel_size, act())
        self.conv2 = pre_act(spatial_dims, in_channels + features, features, kernel_size, act())
        self.conv3 = pre_act(spatial_dims, in_channels + 2 * features, features, 1, act())

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
        skip_gate: SkipGateSpec = False,
        activation: str = "relu",
        bottleneck: str = "conv",
        dropout: float = 0.0,
    ) -> None:
        super().__init__(in_channels, num_classes, spatial_dims, depth)
        k = check_kernel_size("QuickNAT", kernel_size)
        if bottleneck not in BOTTLENECKS:
            raise ValueError(f"QuickNAT: bottleneck must be one of {', '.join(BOTTLENECKS)}, got {bottleneck!r}")
        if not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"QuickNAT: dropout must be a probability in [0, 1), got {dropout!r}")
        f, d = features, spatial_dims
        block = lambda i, o: QuickNATDenseBlock(d, i, o, k, activation)  # noqa: E731
        if bottleneck == "dense":
            middle = lambda: block(f, f)  # noqa: E731
        else:
            middle = lambda: nn.Sequential(conv(d, f, f, k), BATCHNORM[d](f))  # noqa: E731
        self.build_uniform(block, middle, f, attention, placement, skip_gate)
        if dropout > 0:
            self.dropout = DROPOUT[d](dropout)
