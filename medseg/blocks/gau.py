"""Global Attention Upsample, GAU, as a skip gate (Li et al., PAN, BMVC 2018, Sec. 3.2; smp's ``GAUBlock``).

With the skip (low-level) x and the coarser decoder feature (high-level) g:
w = act(conv_1(GAP g)) (C_g -> C_x, bias, per sample and channel); out = CBR_3(x) * w, where
CBR_3 = conv 3x3 (bias) -> BN -> ReLU (C_x -> C_x, the paper's "3x3 conv on the low-level features").
PAN then adds up(g) to ``out``; in medseg's decoders the up-sampled g is concatenated with the gated skip
instead (the decoder block does the fusing), so the gate returns ``out`` only.

``activation="sigmoid"`` (default; smp: channel weights in (0, 1), like the attention gate's) or
``"relu"`` (the paper and JaveyWang's PAN). The paper puts BN between the 1x1 conv and the activation;
smp too, which breaks at batch 1 in training (a 1x1 map has one value per channel, smp issue 342): here
the 1x1 conv keeps its bias and has no norm (robosat's rule for N x C x 1 x 1 tensors).
Not in the registry: it takes two inputs; networks use it for ``skip_gate="gau"``.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import BATCHNORM, CONV, AttentionBlock, broadcast_channels

ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": torch.relu}


class GAU(AttentionBlock):
    def __init__(self, channels: int, gating_channels: int, spatial_dims: int = 2, activation: str = "sigmoid") -> None:
        super().__init__(channels, spatial_dims)
        if activation not in ACTIVATIONS:
            raise ValueError(f"GAU: activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
        if not isinstance(gating_channels, int) or gating_channels < 1:
            raise ValueError(f"GAU: gating_channels must be a positive int, got {gating_channels!r}")
        d = spatial_dims
        self.gating_channels = gating_channels
        self.activation = activation
        self.low = nn.Sequential(CONV[d](channels, channels, 3, padding=1), BATCHNORM[d](channels), nn.ReLU())
        self.weights = nn.Linear(gating_channels, channels)  # a 1x1 conv on the pooled (B, C_g, 1, ...) map

    def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        self.check_input(x, name="skip input x")
        self.check_input(g, self.gating_channels, name="gating signal g")
        if g.shape[0] != x.shape[0]:
            raise ValueError(f"GAU: batch sizes differ: x has {x.shape[0]}, g has {g.shape[0]}")
        w = ACTIVATIONS[self.activation](self.weights(g.flatten(2).mean(-1)))
        w = broadcast_channels(w, x.ndim)
        self.keep(None, w)
        low = self.low(x)
        return low * w.to(low.dtype)
