"""Shared test helpers: random weights, small inputs and functional convolutions for reference code."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from medseg.blocks import build_attention

# small, non-cubic grids so that swapped axes show up
SPATIAL = {2: (6, 5), 3: (4, 5, 3)}
DIMS = (2, 3)


def randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter and BatchNorm statistic a random value (gammas included, so none is 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen, dtype=torch.float64) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen, dtype=torch.float64) + 0.5)
    return module


def block(name: str, channels: int, dims: int, seed: int = 0, **options) -> nn.Module:
    """A randomised float64 block in eval mode."""
    return randomise(build_attention(name, channels, dims, **options), seed).double().eval()


def sample(channels: int, dims: int, batch: int = 2, seed: int = 1, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((batch, channels, *SPATIAL[dims]), generator=gen, dtype=dtype)


def conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
    """F.conv2d or F.conv3d by the input's rank."""
    return (F.conv2d if x.ndim == 4 else F.conv3d)(x, weight, bias, **kwargs)


def bn(x: torch.Tensor, norm: nn.Module, training: bool = False) -> torch.Tensor:
    """Batch norm of x with norm's affine weights and (in eval) running statistics."""
    if training:
        return F.batch_norm(x, None, None, norm.weight, norm.bias, training=True, eps=norm.eps)
    return F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight, norm.bias, eps=norm.eps)


def gap(x: torch.Tensor) -> torch.Tensor:
    """Global average pool (B, C, *spatial) -> (B, C)."""
    return x.flatten(2).mean(-1)


def per_channel(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B, C) -> (B, C, 1, ..., 1) like x."""
    return w[(...,) + (None,) * (x.ndim - 2)]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
