"""Auxiliary outputs: extra predictions that only the training loss sees (deep supervision, EncNet's
SE-loss head, DANet's branch classifiers).

A block takes part by having ``auxiliary_kind`` (``"presence"`` or ``"segmentation"``),
``build_auxiliary(num_classes)`` (adds its heads), ``has_auxiliary`` (heads built), an ``emit_auxiliary`` flag and an ``auxiliary`` dict that its forward fills while the flag is on: ``"se"`` -> (B, classes)
class-presence logits; any other key -> (B, classes, *spatial) segmentation logits at the block's grid.
Deep supervision adds a 1x1 classifier after each decoder site dec2..decL (nnU-Net's ``seg_layers``).
``forward`` never runs a head, so inference is the same with or without them; heads exist only when
:func:`enable_auxiliary` was called (by the LightningModule, from ``model.loss``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class AuxiliaryOutputs:
    """What one training forward produced besides the main logits (keys: site name or site/branch)."""

    deep: dict[str, torch.Tensor] = field(default_factory=dict)  # "dec2" -> logits at dec2's grid
    presence: dict[str, torch.Tensor] = field(default_factory=dict)  # "bottleneck" -> (B, classes)
    segmentation: dict[str, torch.Tensor] = field(default_factory=dict)  # "bottleneck/position" -> logits


def auxiliary_blocks(net: nn.Module) -> dict[str, nn.Module]:
    """site/path -> every module under the attention sites that can add auxiliary heads."""
    found = {}
    for site, module in net.attention_sites.items():
        for path, m in module.named_modules():
            if hasattr(m, "build_auxiliary"):
                found[f"{site}/{path}" if path else site] = m
    return found


AUXILIARY_KINDS = ("presence", "segmentation")


def enable_auxiliary(
    net: nn.Module, num_classes: int, kinds: tuple[str, ...] = AUXILIARY_KINDS, deep_supervision: int = 0
) -> None:
    """Add the heads: those of the blocks whose ``auxiliary_kind`` is in ``kinds``, and deep-supervision
    classifiers on dec2..dec``deep_supervision`` (the main output is the first of those levels)."""
    for m in auxiliary_blocks(net).values():
        if m.auxiliary_kind in kinds:
            m.build_auxiliary(num_classes)
    if deep_supervision:
        net.add_deep_supervision(deep_supervision)


def has_auxiliary(net: nn.Module) -> bool:
    """Whether a training forward of ``net`` yields auxiliary outputs (any head built)."""
    return bool(getattr(net, "deep_heads", None)) or any(m.has_auxiliary for m in auxiliary_blocks(net).values())
