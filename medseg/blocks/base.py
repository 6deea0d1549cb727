"""Shared plumbing for attention blocks: input checks, the reduction rule and layer factories."""

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
        if spatial_dims not in (2, 3):
            raise ValueError(f"{type(self).__name__}: spatial_dims must be 2 or 3, got {spatial_dims!r}")
        self.channels = channels
        self.out_channels = channels
        self.spatial_dims = spatial_dims
        self.keep_attention = False
        self.attention_map: torch.Tensor | dict[str, torch.Tensor] | None = None

    def check_input(self, x: torch.Tensor, channels: int | None = None, name: str = "input") -> None:
        """Raise if ``x`` is not ``(B, channels, *spatial)`` with ``spatial_dims`` spatial axes."""
        channels = self.channels if channels is None else channels
        if x.ndim != self.spatial_dims + 2:
            raise ValueError(
                f"{type(self).__name__}: expected a {self.spatial_dims + 2}D {name} (B, C, *spatial) "
                f"for spatial_dims={self.spatial_dims}, got shape {tuple(x.shape)}"
            )
        if x.shape[1] != channels:
            raise ValueError(
                f"{type(self).__name__}: expected {channels} channels in the {name}, got {x.shape[1]} "
                f"(shape {tuple(x.shape)})"
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


def reduced_width(block: str, channels: int, reduction: int | None, default: int) -> int:
    """Hidden width ``channels // reduction`` of a bottleneck MLP.

    Rule: ``reduction=None`` means the paper's value ``default``, capped at ``channels`` so that narrow
    layers still build (hidden width ``max(1, C // default)``); an explicit ``reduction`` larger than
    ``channels`` is an error naming the block, the allowed range and the value given.
    """
    if reduction is None:
        return max(1, channels // default)
    if isinstance(reduction, bool) or not isinstance(reduction, int) or reduction < 1:
        raise ValueError(f"{block}: reduction must be a positive int, got {reduction!r}")
    if reduction > channels:
        raise ValueError(
            f"{block}: reduction must be at most the number of channels ({channels}), got reduction={reduction}"
        )
    return channels // reduction


def broadcast_channels(weights: torch.Tensor, ndim: int) -> torch.Tensor:
    """(B, C) -> (B, C, 1, ..., 1) to scale a (B, C, *spatial) tensor."""
    return weights.reshape(list(weights.shape[:2]) + [1] * (ndim - 2))
