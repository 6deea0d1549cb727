"""PSANet's PSAMask in pure PyTorch: the over-complete mask -> the (N x N) point-wise attention, 2D or 3D.

Semantics of the official CPU kernel (hszhao/semseg ``lib/psa/src/cpu/psamask.cpp``, identical in mmcv):
the mask m has shape (B, M, *spatial) with M = prod(mask_size); its channel ``r = (r_1, ..., r_d)`` at
position p refers to the position q with q_a = p_a + r_a - (mask_a - 1) // 2 on each axis a. The output
Y (B, N, N) starts at zero and only in-bounds q are written:
collect (type 0): Y[q, p] = m[r(q - p), p]; distribute (type 1): Y[p, q] = m[r(q - p), p], the transpose.
A relative offset outside the mask leaves Y at 0 (a 0 logit: it still takes exp(0) in the softmax that
follows, as in the released models). Here a precomputed relative-index table drives one ``gather``; autograd
gives the backward pass (a scatter-add), so no compiled op is needed.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Sequence

import torch

PSA_TYPES = ("collect", "distribute")


@lru_cache(maxsize=16)
def relative_index(spatial: tuple[int, ...], mask: tuple[int, ...], device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """(index, valid), both (N, N) over (q, p) on ``device``: the mask channel that position p uses for q,
    and whether the offset q - p lies inside the mask (index clamped to 0 where it does not). Cached per
    (grid, mask, device): 9 N^2 bytes each, built once instead of once per forward."""
    axes = [torch.arange(n) for n in spatial]
    coords = torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(spatial))  # (N, d)
    offset = coords[:, None, :] - coords[None, :, :]  # (q, p, d): q - p
    half = torch.tensor([(m - 1) // 2 for m in mask])
    r = offset + half
    size = torch.tensor(mask)
    valid = ((r >= 0) & (r < size)).all(dim=-1)
    strides = torch.tensor([math.prod(mask[a + 1:]) for a in range(len(mask))])
    index = torch.where(valid, (r * strides).sum(-1), torch.zeros((), dtype=torch.long))
    return index.to(device), valid.to(device)


def psa_mask(m: torch.Tensor, mask_size: Sequence[int], psa_type: str = "collect") -> torch.Tensor:
    """(B, prod(mask_size), *spatial) -> (B, N, N), N = prod(spatial); see the module docstring."""
    if psa_type not in PSA_TYPES:
        raise ValueError(f"psa_mask: psa_type must be one of {', '.join(PSA_TYPES)}, got {psa_type!r}")
    spatial, mask = tuple(m.shape[2:]), tuple(int(s) for s in mask_size)
    if len(mask) != len(spatial) or m.shape[1] != math.prod(mask):
        raise ValueError(f"psa_mask: input {tuple(m.shape)} does not have prod(mask_size={mask}) channels over {len(mask)} axes")
    index, valid = relative_index(spatial, mask, str(m.device))
    n = math.prod(spatial)
    flat = m.reshape(m.shape[0], -1, n)
    y = torch.gather(flat, 1, index.expand(m.shape[0], n, n)) * valid.to(m.dtype)
    return y if psa_type == "collect" else y.transpose(1, 2)
