"""Pyramid split attention, PSA (Zhang et al., EPSANet, ACCV 2022, Sec. 3.2-3.3, Eqs. 1-6).

S = 4 branches F_i = Conv(k_i^d, groups G_i)(X), C -> C/S, k = (3, 5, 7, 9), G = (1, 4, 8, 16), no bias;
each branch reads the whole input, as in the authors' code. Z_i = SEWeight(F_i) with one SE module
(GAP -> 1x1 conv C/S -> C/S/r -> ReLU -> 1x1 conv -> sigmoid, r = 16) shared by all branches;
att_i = softmax_i(Z_i) across branches; out = [F_0 * att_0; ...; F_{S-1} * att_{S-1}] (paper order; the
authors' code concatenates the branches in reverse order, a fixed channel permutation).

Channels: C must be divisible by S. Groups rule: a branch uses gcd(G_i, C/S) groups, so C = 64 keeps the
paper's groups and narrower layers still build (e.g. C = 16: groups 1, 4, 4, 4).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import CONV, AttentionBlock, broadcast_channels, reduced_width
from .registry import register_attention


@register_attention("psa")
class PSA(AttentionBlock):
    def __init__(
        self,
        channels: int,
        spatial_dims: int = 2,
        kernel_sizes: tuple[int, ...] | list[int] = (3, 5, 7, 9),
        groups: tuple[int, ...] | list[int] = (1, 4, 8, 16),
        reduction: int | None = None,
    ) -> None:
        super().__init__(channels, spatial_dims)
        kernel_sizes, groups = tuple(kernel_sizes), tuple(groups)
        if len(kernel_sizes) != len(groups) or not kernel_sizes:
            raise ValueError(
                f"PSA: kernel_sizes and groups must have the same non-zero length, got {kernel_sizes} and {groups}"
            )
        if any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"PSA: kernel_sizes must be odd positive ints, got {kernel_sizes}")
        branches = len(kernel_sizes)
        if channels % branches:
            raise ValueError(
                f"PSA: channels must be divisible by the number of branches {branches}, got channels={channels}"
            )
        split = channels // branches
        self.split = split
        self.groups = tuple(math.gcd(g, split) for g in groups)
        conv = CONV[spatial_dims]
        self.branches = nn.ModuleList(
            conv(channels, split, k, padding=k // 2, groups=g, bias=False) for k, g in zip(kernel_sizes, self.groups)
        )
        hidden = reduced_width("PSA", split, reduction, 16)
        self.se = nn.Sequential(nn.Linear(split, hidden), nn.ReLU(), nn.Linear(hidden, split), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        feats = [branch(x) for branch in self.branches]
        dims = tuple(range(2, x.ndim))
        z = torch.stack([self.se(f.mean(dim=dims)) for f in feats], dim=1)
        att = torch.softmax(z, dim=1)
        self.keep(None, att)
        return torch.cat([f * broadcast_channels(att[:, i], x.ndim).to(f.dtype) for i, f in enumerate(feats)], dim=1)
