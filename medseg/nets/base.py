"""The encoder-decoder skeleton every network shares, with an attention site after each block.

forward: stem -> [enc_k -> site enc_k -> dropout -> skip_k; down_k] x K -> bottleneck -> site ->
[up_k(x, indices_k, size of skip_k); dec_k(cat(up, gate_k(skip_k, x))) -> site dec_k -> dropout] for k = K..1 ->
site classifier -> 1x1 conv. :meth:`forward_with_auxiliary` also returns the auxiliary outputs
(:mod:`.auxiliary`) for the training loss. ``dropout`` is ``nn.Identity`` unless a subclass sets it (QuickNAT ``aimed``).
Subclasses fill the module lists and call :meth:`place_attention`.
Skips keep their exact size, so any input of at least ``min_input_size`` (2**K) per axis works.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Callable, Sequence

import torch
from torch import nn

from .auxiliary import AuxiliaryOutputs, auxiliary_blocks
from .gates import SkipGateSpec, build_skip_gates
from .layers import MaxPoolDown, MaxUnpoolUp, conv
from .placement import AttentionSpec, PlacementSpec, resolve_placement, site_names
from .sites import build_site


class EncoderDecoder(nn.Module):
    def __init__(self, in_channels: int, num_classes: int, spatial_dims: int, depth: int) -> None:
        super().__init__()
        name = type(self).__name__
        if spatial_dims not in (2, 3):
            raise ValueError(f"{name}: spatial_dims must be 2 or 3, got {spatial_dims!r}")
        if not isinstance(depth, int) or depth < 1:
            raise ValueError(f"{name}: depth must be a positive int, got {depth!r}")
        for key, value in (("in_channels", in_channels), ("num_classes", num_classes)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: {key} must be a positive int, got {value!r}")
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.spatial_dims = spatial_dims
        self.depth = depth
        self.min_input_size = 2**depth
        self.stem: nn.Module = nn.Identity()
        self.encoders = nn.ModuleList()
        self.downs = nn.ModuleList()
        self.bottleneck: nn.Module = nn.Identity()
        self.ups = nn.ModuleList()  # index k-1 serves level k
        self.decoders = nn.ModuleList()
        self.gates: nn.ModuleList | None = None
        self.sites = nn.ModuleDict()
        self.placement: PlacementSpec = None  # as given to place_attention
        self.dropout: nn.Module = nn.Identity()  # no weights: shared by every encoder and decoder level
        self.head: nn.Module = nn.Identity()
        self.site_channels: dict[str, int] = {}
        self.deep_heads = nn.ModuleDict()  # deep supervision: "dec2".. -> 1x1 classifier (add_deep_supervision)

    def build_uniform(
        self,
        block: Callable[[int, int], nn.Module],
        bottleneck: Callable[[], nn.Module],
        features: int,
        attention: AttentionSpec,
        placement: PlacementSpec,
        skip_gate: SkipGateSpec,
        up: Callable[[], nn.Module] | None = None,
    ) -> None:
        """Fill a network that is ``features`` wide at every level (U-Net, SD-Net, QuickNAT):
        encoder ``block(in, f)`` + 2x max-pool; decoder ``up`` (default max-unpool with the pooling
        indices) -> cat skip -> ``block(2f, f)``; ``bottleneck()``; 1x1 classifier; attention at
        every site; optional gates on the skips (:mod:`.gates`)."""
        f, d = features, self.spatial_dims
        for level in range(self.depth):
            self.encoders.append(block(self.in_channels if level == 0 else f, f))
            self.downs.append(MaxPoolDown(d, keep_indices=up is None))
            self.ups.append(MaxUnpoolUp(d) if up is None else up())
            self.decoders.append(block(2 * f, f))
        self.bottleneck = bottleneck()  # built after the levels: the seeded initialisation order is kept
        self.head = conv(d, f, self.num_classes, 1)
        self.place_attention([f] * (2 * self.depth + 2), attention, placement)
        self.gate_skips([f] * self.depth, [f] * self.depth, skip_gate)

    def place_attention(
        self,
        site_channels: Sequence[int],
        attention: AttentionSpec,
        placement: PlacementSpec,
    ) -> None:
        """Build one module per site; ``site_channels`` follows :func:`site_names` order."""
        names = site_names(self.depth)
        self.placement = placement
        if len(site_channels) != len(names):
            raise ValueError(f"{type(self).__name__}: {len(site_channels)} site widths for sites {names}")
        specs = resolve_placement(placement, attention, names)
        self.site_channels = dict(zip(names, site_channels))
        for site, channels in zip(names, site_channels):
            self.sites[site] = build_site(specs[site], channels, self.spatial_dims, site)

    def gate_skips(self, skip_channels: Sequence[int], gating_channels: Sequence[int], spec: SkipGateSpec) -> None:
        """Skip gates (``skip_gate``: attention_gate | gau, :mod:`.gates`); index k-1 gates level k."""
        self.gates = build_skip_gates(spec, skip_channels, gating_channels, self.spatial_dims)

    def add_deep_supervision(self, levels: int) -> None:
        """1x1 classifiers after the decoder sites dec2..dec``levels`` (dec1's is the network's own head)."""
        if isinstance(levels, bool) or not isinstance(levels, int) or not 1 <= levels <= self.depth:
            raise ValueError(
                f"{type(self).__name__}: deep supervision needs 1..{self.depth} levels (one weight per decoder "
                f"level dec1..dec{self.depth}, the first for the main output), got {levels!r}"
            )
        device = next(self.head.parameters()).device
        for k in range(2, levels + 1):
            if f"dec{k}" not in self.deep_heads:
                self.deep_heads[f"dec{k}"] = conv(self.spatial_dims, self.site_channels[f"dec{k}"], self.num_classes, 1).to(device)

    @property
    def attention_sites(self) -> "OrderedDict[str, nn.Module]":
        """Site name -> module at that site (``nn.Identity`` where none), in forward order."""
        return OrderedDict(self.sites.items())

    def check_input(self, x: torch.Tensor) -> None:
        name = type(self).__name__
        if x.ndim != self.spatial_dims + 2 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{name}: expected input (B, {self.in_channels}, *{self.spatial_dims} spatial axes), "
                f"got shape {tuple(x.shape)}"
            )
        if min(x.shape[2:]) < self.min_input_size:
            raise ValueError(
                f"{name}: input spatial size {tuple(x.shape[2:])} is too small for depth {self.depth}: "
                f"every axis needs at least {self.min_input_size} (2**depth) voxels"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._forward(x, None)

    def forward_with_auxiliary(self, x: torch.Tensor) -> tuple[torch.Tensor, AuxiliaryOutputs]:
        """(logits, auxiliary outputs): the same logits as :meth:`forward`, plus what the heads predict."""
        blocks = auxiliary_blocks(self)
        aux = AuxiliaryOutputs()
        try:
            for m in blocks.values():
                m.emit_auxiliary, m.auxiliary = True, {}
            logits = self._forward(x, aux.deep)
            for path, m in blocks.items():
                site = path.split("/")[0]
                for key, value in m.auxiliary.items():
                    if key == "se":
                        aux.presence[site] = value
                    else:
                        aux.segmentation[f"{site}/{key}"] = value
        finally:
            for m in blocks.values():
                m.emit_auxiliary, m.auxiliary = False, {}
        return logits, aux

    def _forward(self, x: torch.Tensor, deep: dict[str, torch.Tensor] | None) -> torch.Tensor:
        self.check_input(x)
        x = self.stem(x)
        skips, indices = [], []
        for k in range(self.depth):
            x = self.dropout(self.sites[f"enc{k + 1}"](self.encoders[k](x)))
            skips.append(x)
            x, idx = self.downs[k](x)
            indices.append(idx)
        x = self.sites["bottleneck"](self.bottleneck(x))
        for k in reversed(range(self.depth)):
            skip = skips[k] if self.gates is None else self.gates[k](skips[k], x)
            up = self.ups[k](x, indices[k], skip.shape[2:])
            x = self.dropout(self.sites[f"dec{k + 1}"](self.decoders[k](torch.cat([up, skip], dim=1))))
            if deep is not None and f"dec{k + 1}" in self.deep_heads:
                deep[f"dec{k + 1}"] = self.deep_heads[f"dec{k + 1}"](x)
        return self.head(self.sites["classifier"](x))
