"""Layer factories indexed by ``spatial_dims`` and the small layers every network shares."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

CONV = {2: nn.Conv2d, 3: nn.Conv3d}
CONV_TRANSPOSE = {2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
BATCHNORM = {2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
DROPOUT = {2: nn.Dropout2d, 3: nn.Dropout3d}  # whole channels
MAX_POOL = {2: F.max_pool2d, 3: F.max_pool3d}
MAX_UNPOOL = {2: F.max_unpool2d, 3: F.max_unpool3d}


def check_kernel_size(network: str, kernel_size: int) -> int:
    if not isinstance(kernel_size, int) or kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"{network}: kernel_size must be a positive odd int ('same' padding), got {kernel_size!r}")
    return kernel_size


def conv(spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True) -> nn.Module:
    """Convolution with 'same' padding (odd kernel)."""
    return CONV[spatial_dims](in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=bias)


class ConvNormAct(nn.Sequential):
    """conv -> BN -> ReLU (post-activation, as U-Net and SD-Net)."""

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int, act: bool = True):
        layers = [conv(spatial_dims, in_channels, out_channels, kernel_size), BATCHNORM[spatial_dims](out_channels)]
        super().__init__(*layers, *([nn.ReLU(inplace=True)] if act else []))


def fit_to(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Zero-pad at the end or crop each spatial axis of ``x`` to ``size`` (skip alignment for odd sizes)."""
    pads: list[int] = []
    for have, want in zip(reversed(x.shape[2:]), reversed(tuple(size))):
        pads += [0, want - have]
    return F.pad(x, pads) if any(pads) else x


class MaxPoolDown(nn.Module):
    """2x max-pool (floor); returns ``(pooled, indices)`` so decoders can unpool with them."""

    def __init__(self, spatial_dims: int, keep_indices: bool = True) -> None:
        super().__init__()
        self.spatial_dims = spatial_dims
        self.keep_indices = keep_indices

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.keep_indices:
            return MAX_POOL[self.spatial_dims](x, 2, 2, return_indices=True)
        return MAX_POOL[self.spatial_dims](x, 2, 2), None


class MaxUnpoolUp(nn.Module):
    """Max-unpool with the encoder's indices; ``output_size`` restores odd sizes exactly (no padding)."""

    def __init__(self, spatial_dims: int) -> None:
        super().__init__()
        self.spatial_dims = spatial_dims

    def forward(self, x: torch.Tensor, indices: torch.Tensor | None, size: Sequence[int]) -> torch.Tensor:
        return MAX_UNPOOL[self.spatial_dims](x, indices, 2, 2, output_size=list(size))


class TransposedUp(nn.Module):
    """Stride-2 transposed convolution to ``2 * floor(s / 2)``, then padded to the skip's size ``s``."""

    def __init__(self, spatial_dims: int, in_channels: int, out_channels: int, kernel_size: int = 2) -> None:
        super().__init__()
        pad = (kernel_size - 1) // 2
        # (h - 1) * 2 - 2 * pad + kernel_size + output_padding == 2 * h
        self.conv = CONV_TRANSPOSE[spatial_dims](
            in_channels, out_channels, kernel_size, stride=2, padding=pad, output_padding=2 - kernel_size + 2 * pad
        )

    def forward(self, x: torch.Tensor, indices: torch.Tensor | None, size: Sequence[int]) -> torch.Tensor:
        return fit_to(self.conv(x), size)
