"""A loop transcription of the official PSAMask CPU kernel (hszhao/semseg lib/psa/src/cpu/psamask.cpp,
``psamask_collect_forward`` / ``psamask_distribute_forward``), extended to 3D with one more loop."""

from __future__ import annotations

import itertools

import torch


def psa_mask_loops(mask: torch.Tensor, mask_size, psa_type: str) -> torch.Tensor:
    """(B, prod(mask_size), *spatial) -> (B, N, N); writes like the kernel, so autograd sees every copy."""
    b, spatial = mask.shape[0], tuple(mask.shape[2:])
    n = 1
    for s in spatial:
        n *= s
    half = [(m - 1) // 2 for m in mask_size]
    strides = [1] * len(mask_size)
    for a in range(len(mask_size) - 2, -1, -1):
        strides[a] = strides[a + 1] * mask_size[a + 1]
    fstrides = [1] * len(spatial)
    for a in range(len(spatial) - 2, -1, -1):
        fstrides[a] = fstrides[a + 1] * spatial[a + 1]
    out = torch.zeros(b, n, n, dtype=mask.dtype)
    for batch in range(b):
        for p in itertools.product(*map(range, spatial)):
            # effective mask region [start, end) per axis, mask-indexed
            ranges = [range(max(0, half[a] - p[a]), min(mask_size[a], spatial[a] + half[a] - p[a])) for a in range(len(p))]
            p_flat = sum(i * s for i, s in zip(p, fstrides))
            for r in itertools.product(*ranges):
                q_flat = sum((r[a] + p[a] - half[a]) * fstrides[a] for a in range(len(p)))
                channel = sum(i * s for i, s in zip(r, strides))
                if psa_type == "collect":
                    out[batch, q_flat, p_flat] = mask[(batch, channel) + p]
                else:
                    out[batch, p_flat, q_flat] = mask[(batch, channel) + p]
    return out
