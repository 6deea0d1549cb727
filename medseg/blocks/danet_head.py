"""DANet's head as its authors wire it (Fu et al., CVPR 2019, Sec. 3.4; junfu1115/DANet ``DANetHead``).

With m = C / 4: p = CBR_3(PAM(CBR_3(X))) and c = CBR_3(CAM(CBR_3(X))), each branch with its own two
3x3 conv-BN-ReLU layers (C -> m -> m, no conv bias) around its attention module; fused = p + c.
The authors classify fused, p and c each with Dropout(0.1) + a 1x1 conv and supervise all three
(their loss sums the three cross-entropies). As a block the fused map goes back to C channels by a
1x1 conv (out = proj(p + c)), so the network's classifier takes the fused path; :meth:`build_auxiliary`
adds the three classifiers (``fused``, ``position``, ``channel``) whose logits, at the block's grid, the
training loss supervises (:mod:`medseg.engine.auxiliary_loss`, weight ``model.loss.aux_weight`` each).
PAM's O(N^2) memory limit applies (``max_attention_bytes``): place it at a coarse site (the bottleneck),
as the authors put it on the stride-8 backbone output.
"""

from __future__ import annotations

import torch
from torch import nn

from .base import BATCHNORM, CONV, AttentionBlock
from .cam import CAM
from .pam import PAM, PAM_MAX_ATTENTION_BYTES
from .registry import register_attention

DROPOUT = {2: nn.Dropout2d, 3: nn.Dropout3d}


def cbr3(dims: int, c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(CONV[dims](c_in, c_out, 3, padding=1, bias=False), BATCHNORM[dims](c_out), nn.ReLU())


@register_attention("danet_head", group="self-attention")
class DANetHead(AttentionBlock):
    auxiliary_kind = "segmentation"
    BRANCHES = ("fused", "position", "channel")

    def __init__(
        self,
        channels: int,
        spatial_dims: int = 2,
        reduction: int | None = None,
        max_attention_bytes: int = PAM_MAX_ATTENTION_BYTES,
        dropout: float = 0.1,
    ) -> None:
        super().__init__(channels, spatial_dims)
        d, m = spatial_dims, max(1, channels // 4)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"DANetHead: dropout must be a probability in [0, 1), got {dropout!r}")
        self.mid_channels, self.dropout = m, dropout
        self.position_in, self.channel_in = cbr3(d, channels, m), cbr3(d, channels, m)
        self.pam = PAM(m, d, reduction=reduction, max_attention_bytes=max_attention_bytes)
        self.cam = CAM(m, d)
        self.position_out, self.channel_out = cbr3(d, m, m), cbr3(d, m, m)
        self.proj = CONV[d](m, channels, 1)
        self.classifiers: nn.ModuleDict | None = None
        self.emit_auxiliary = False
        self.auxiliary: dict[str, torch.Tensor] = {}

    def build_auxiliary(self, num_classes: int) -> None:
        """The authors' three classifiers, Dropout(0.1) + 1x1 conv m -> classes, on fused, p and c (once)."""
        if self.classifiers is None:
            d = self.spatial_dims
            self.classifiers = nn.ModuleDict(
                {k: nn.Sequential(DROPOUT[d](self.dropout), CONV[d](self.mid_channels, num_classes, 1)) for k in self.BRANCHES}
            ).to(self.proj.weight.device)

    @property
    def has_auxiliary(self) -> bool:
        return self.classifiers is not None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        f_p = self.position_in(x)
        term_p, a_p = self.pam.attend(f_p)
        p = self.position_out(f_p + term_p.to(f_p.dtype))
        f_c = self.channel_in(x)
        term_c, a_c = self.cam.attend(f_c)
        c = self.channel_out(f_c + term_c.to(f_c.dtype))
        self.keep("position", a_p)
        self.keep("channel", a_c)
        fused = p + c
        if self.emit_auxiliary and self.classifiers is not None:
            for key, feats in zip(self.BRANCHES, (fused, p, c)):
                self.auxiliary[key] = self.classifiers[key](feats)
        return self.proj(fused)
