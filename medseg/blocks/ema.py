"""Expectation-maximisation attention unit, EMA (Li et al., EMANet, ICCV 2019, Sec. 3.2-3.3).

X = conv1x1(U) flattened to (B, C, N); K bases mu (C x K, unit columns, K = 64). T = 3 EM steps:
E: Z = softmax_k(X^T mu) (N x K); M: mu = l2normalise_c(X Z / sum_n Z). Reconstruction
X~ = mu Z^T; out = relu(U + BN(conv1x1(relu(X~)))) as in the authors' EMAU.

Gradients: the bases mu are stop-gradient (computed without autograd, as in the paper and the
authors' code); the last E-step's Z keeps its gradient so that the first conv is trained (the authors'
code detaches Z too, which leaves that conv untrained). Forward values are the authors'.
Bases maintenance (Sec. 3.3): in training, after each forward the buffer mu0 is updated as
mu0 <- momentum * mu0 + (1 - momentum) * l2normalise(mean_b mu^(T)), momentum 0.9 (the authors'
em_mom); in eval mode the buffer is fixed.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .base import BATCHNORM, CONV, AttentionBlock
from .registry import register_attention


@register_attention("ema", group="self-attention")
class EMA(AttentionBlock):
    def __init__(
        self, channels: int, spatial_dims: int = 2, bases: int = 64, stages: int = 3, momentum: float = 0.9
    ) -> None:
        super().__init__(channels, spatial_dims)
        if not isinstance(bases, int) or bases < 1:
            raise ValueError(f"EMA: bases must be a positive int, got {bases!r}")
        if not isinstance(stages, int) or stages < 1:
            raise ValueError(f"EMA: stages must be a positive int, got {stages!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"EMA: momentum must be in [0, 1], got {momentum!r}")
        self.stages = stages
        self.momentum = momentum
        conv = CONV[spatial_dims]
        self.conv_in = conv(channels, channels, 1)
        self.conv_out = conv(channels, channels, 1, bias=False)
        self.norm = BATCHNORM[spatial_dims](channels)
        mu = torch.randn(1, channels, bases) * math.sqrt(2.0 / bases)
        self.register_buffer("mu", F.normalize(mu, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        feats = self.conv_in(x).flatten(2)
        mu = self.mu.to(feats.dtype).expand(x.shape[0], -1, -1)
        with torch.no_grad():
            plain = feats.detach()
            for _ in range(self.stages - 1):
                z = torch.softmax(torch.bmm(plain.transpose(1, 2), mu), dim=2)
                mu = F.normalize(torch.bmm(plain, F.normalize(z, p=1, dim=1)), dim=1)
        z = torch.softmax(torch.bmm(feats.transpose(1, 2), mu), dim=2)
        with torch.no_grad():
            mu = F.normalize(torch.bmm(plain, F.normalize(z.detach(), p=1, dim=1)), dim=1)
            if self.training:
                batch_mu = F.normalize(mu.float().mean(dim=0, keepdim=True), dim=1)
                self.mu.mul_(self.momentum).add_(batch_mu.to(self.mu.dtype), alpha=1 - self.momentum)
        self.keep(None, z.transpose(1, 2).reshape(x.shape[0], -1, *x.shape[2:]))
        recon = torch.bmm(mu, z.transpose(1, 2)).reshape(x.shape)
        return torch.relu(x + self.norm(self.conv_out(torch.relu(recon))))
