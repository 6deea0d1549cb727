"""Loop references for the pooling and interpolation the PAN/PSANet tests need (float64, autograd-able)."""

from __future__ import annotations

import math

import torch


def max_pool_ceil(x: torch.Tensor) -> torch.Tensor:
    """2x max-pool with ceil mode, one spatial axis at a time, by explicit windows."""
    for axis in range(2, x.ndim):
        n = x.shape[axis]
        x = torch.stack([x.narrow(axis, 2 * i, min(2, n - 2 * i)).amax(axis) for i in range(math.ceil(n / 2))], axis)
    return x


def linear_weights(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) weights of 1D linear interpolation with align_corners=True: src = i (n_in - 1) / (n_out - 1)."""
    w = torch.zeros(n_out, n_in, dtype=torch.float64)
    for i in range(n_out):
        src = 0.0 if n_out == 1 else i * (n_in - 1) / (n_out - 1)
        lo = min(int(math.floor(src)), n_in - 1)
        hi = min(lo + 1, n_in - 1)
        frac = src - lo
        w[i, lo] += 1 - frac
        w[i, hi] += frac
    return w


def resize_align_corners(x: torch.Tensor, size) -> torch.Tensor:
    """Separable (bi/tri)linear resize with align_corners=True, as weight matrices per axis."""
    for axis, n_out in zip(range(2, x.ndim), size):
        w = linear_weights(x.shape[axis], n_out).to(x.dtype)
        x = torch.movedim(torch.tensordot(x, w, dims=([axis], [1])), -1, axis)
    return x
