"""Context Encoding Module, EncNet (Zhang et al., CVPR 2018, Sec. 3), as the official ``EncModule``.

F = ReLU(BN(conv_1(X))) (C -> C, no bias) flattened to x_i (N x C); Encoding with K codewords d_k and
smoothing factors s_k: a_ik = softmax_k(s_k ||x_i - d_k||^2), e_k = sum_i a_ik (x_i - d_k) (B x K x C);
en = mean_k ReLU(BN_K(e)) (B x C; BN over the K codewords); gamma = sigmoid(FC(en)); out = ReLU(X + X gamma).
Sign convention as the official code (zhanghang1989/PyTorch-Encoding ``encoding.py``, confirmed by its
maintainer, issue 384): +s_k with s initialised in U(-1, 0) (the paper writes exp(-s_k ...) with s > 0);
codewords in U(-1/sqrt(KC), 1/sqrt(KC)). The paper sums over k, the code takes the mean (used here).
Memory-free form (no B x N x K x C tensor): ||x - d||^2 = ||x||^2 - 2 x.d + ||d||^2 and
e_k = (A^T X)_k - (sum_i a_ik) d_k.

Semantic Encoding loss: :meth:`build_auxiliary` adds ``se = FC(en)`` (C -> classes), the logits of which
classes are present in the sample; with ``emit_auxiliary`` on, the forward stores them in
``self.auxiliary["se"]`` for the loss (:func:`medseg.engine.losses.se_loss`).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import BATCHNORM, CONV, AttentionBlock, broadcast_channels
from .registry import register_attention


def encode(x: torch.Tensor, codewords: torch.Tensor, smoothing: torch.Tensor) -> torch.Tensor:
    """(B, N, C) features, (K, C) codewords, (K,) smoothing -> (B, K, C) residual encodings e_k."""
    distance = (x * x).sum(-1, keepdim=True) - 2.0 * x @ codewords.t() + (codewords * codewords).sum(-1)
    a = torch.softmax(distance * smoothing, dim=2)  # (B, N, K)
    return a.transpose(1, 2) @ x - a.sum(1).unsqueeze(-1) * codewords


@register_attention("encnet", group="recalibration")
class EncNet(AttentionBlock):
    auxiliary_kind = "presence"

    def __init__(self, channels: int, spatial_dims: int = 2, codes: int = 32) -> None:
        super().__init__(channels, spatial_dims)
        if isinstance(codes, bool) or not isinstance(codes, int) or codes < 1:
            raise ValueError(f"EncNet: codes must be a positive int, got {codes!r}")
        c, d = channels, spatial_dims
        self.features = nn.Sequential(CONV[d](c, c, 1, bias=False), BATCHNORM[d](c), nn.ReLU())
        bound = 1.0 / math.sqrt(codes * c)
        self.codewords = nn.Parameter(torch.empty(codes, c).uniform_(-bound, bound))
        self.smoothing = nn.Parameter(torch.empty(codes).uniform_(-1.0, 0.0))
        self.code_norm = nn.BatchNorm1d(codes)
        self.fc = nn.Linear(c, c)
        self.se: nn.Linear | None = None
        self.emit_auxiliary = False
        self.auxiliary: dict[str, torch.Tensor] = {}

    def build_auxiliary(self, num_classes: int) -> None:
        """Add the SE-loss head FC: C -> ``num_classes`` (once)."""
        if self.se is None:
            self.se = nn.Linear(self.channels, num_classes).to(self.fc.weight.device)

    @property
    def has_auxiliary(self) -> bool:
        return self.se is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        feats = self.features(x).flatten(2).transpose(1, 2)  # (B, N, C)
        e = encode(feats, self.codewords.to(feats.dtype), self.smoothing.to(feats.dtype))
        en = torch.relu(self.code_norm(e)).mean(dim=1)  # (B, C)
        gamma = torch.sigmoid(self.fc(en))
        self.keep(None, gamma)
        if self.emit_auxiliary and self.se is not None:
            self.auxiliary["se"] = self.se(en)
        return torch.relu(x + x * broadcast_channels(gamma, x.ndim).to(x.dtype))
