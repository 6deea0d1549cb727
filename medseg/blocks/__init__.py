"""Attention blocks, dimension-generic (``spatial_dims`` 2 or 3), built by name through one registry."""

from . import bam, cam, cbam, cse, danet, danet_head, eca, ema, encnet, fpa, identity, pam, psa, psanet, scse, sse  # noqa: F401  (registration)
from .attention_gate import AttentionGate
from .base import AttentionBlock
from .gau import GAU
from .registry import attention_group, available_attention, build_attention, canonical_attention, register_attention

__all__ = [
    "AttentionBlock",
    "AttentionGate",
    "GAU",
    "attention_group",
    "available_attention",
    "build_attention",
    "canonical_attention",
    "register_attention",
]
