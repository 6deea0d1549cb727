"""Shared plumbing for attention blocks: input checks and layer factories indexed by ``spatial_dims``."""

from __future__ import annotations

import torch
from torch import nn

CONV = {2: nn.Conv2d, 3: nn.Conv3d}
BATCHNORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}


class AttentionBlock(nn.Module):
    """Base class: ``(B, C, *spatial) -> (B, out_channels, *spatial)``.

    Subclasses store the last attention map(s) in ``self.attention_map`` when ``keep_attention`` is
    True (off by default, so training keeps no extra tensors alive), for visualisation.
    """

    def __init__(self, channels: int, spatial_dims: int) -> None:
        super().__init__()
        self.channels = channels
        self.out_channels = channels
        self.spatial_dims = spatial_dims
        self.keep_attention = False
        self.attention_map: torch.Tensor | dict[str, torch.Tensor] | None = None

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != self.spatial_dims + 2:
            raise ValueError(
                f"{type(self).__name__}: expected a {self.spatial_dims + 2}D input (B, C, *spatial) "
                f"for spatial_dims={self.spatial_dims}, got shape {tuple(x.shape)}"
            )
        if x.shape[1] != self.channels:
            raise ValueError(
                f"{type(self).__name__}: expected {self.channels} channels, got {x.shape[1]} "
                f"(input shape {tuple(x.shape)})"
            )

    def keep(self, name: str | None, value: torch.Tensor) -> None:
        """Record an attention map (detached) when ``keep_attention`` is on."""
        if not self.keep_attention:
            return
        value = value.detach()
        if name is None:
            self.attention_map = value
        else:
            if not isinstance(self.attention_map, dict):
                self.attention_map = {}
            self.attention_map[name] = value


def check_reduction(block: str, channels: int, reduction: int) -> int:
    """Hidden width ``channels // reduction``; errors name the block and both values."""
    if not isinstance(reduction, int) or reduction < 1:
        raise ValueError(f"{block}: reduction must be a positive int, got {reduction!r}")
    if reduction > channels:
        raise ValueError(f"{block}: reduction {reduction} is larger than the number of channels {channels}")
    return max(1, channels // reduction)


def broadcast_channels(weights: torch.Tensor, ndim: int) -> torch.Tensor:
    """(B, C) -> (B, C, 1, ..., 1) to scale a (B, C, *spatial) tensor."""
    return weights.view(list(weights.shape[:2]) + [1] * (ndim - 2))
