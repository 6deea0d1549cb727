"""``none``: the identity, so "no attention" is a registry entry like any other."""

from __future__ import annotations

import torch

from .base import AttentionBlock
from .registry import register_attention


@register_attention("none", group="identity")
class NoAttention(AttentionBlock):
    """Returns its input unchanged (the same tensor object), after the same input check as every block."""

    def __init__(self, channels: int, spatial_dims: int = 2) -> None:
        super().__init__(channels, spatial_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return x
