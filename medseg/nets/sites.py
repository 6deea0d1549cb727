"""Building the module at one attention site.

A block whose ``out_channels`` differs from its input (scSE with ``aggregation="concat"``, 2C) is followed
by a 1x1 conv back to C (:class:`ProjectedAttention`), so every layer's width is independent of the
placement and max-unpool indices always match. The projection's parameters count as attention overhead.
"""

from __future__ import annotations

import torch
from torch import nn

from medseg.blocks import build_attention

from .layers import conv
from .placement import AttentionSpec


class ProjectedAttention(nn.Module):
    """``block`` (C -> C') then a 1x1 conv C' -> C."""

    def __init__(self, block: nn.Module, channels: int, spatial_dims: int) -> None:
        super().__init__()
        self.block = block
        self.proj = conv(spatial_dims, block.out_channels, channels, 1)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.block(x))


def is_none(spec: AttentionSpec) -> bool:
    name = spec.get("name") if isinstance(spec, dict) else spec
    return name is None or (isinstance(name, str) and name.lower() == "none")


def build_site(spec: AttentionSpec, channels: int, spatial_dims: int, site: str = "?") -> nn.Module:
    """``nn.Identity`` for no attention, else a fresh block (own weights) for ``channels`` channels."""
    if is_none(spec):
        return nn.Identity()
    try:
        block = build_attention(dict(spec) if isinstance(spec, dict) else spec, channels, spatial_dims)
    except (ValueError, TypeError) as err:
        raise ValueError(f"attention site {site!r} ({channels} channels): {err}") from err
    if getattr(block, "out_channels", channels) != channels:
        return ProjectedAttention(block, channels, spatial_dims)
    return block
