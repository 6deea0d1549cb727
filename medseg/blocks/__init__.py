"""Attention blocks, dimension-generic (``spatial_dims`` 2 or 3), built by name through one registry."""

from . import cse, identity, scse, sse  # noqa: F401  (registration side effects)
from .base import AttentionBlock
from .registry import attention_group, available_attention, build_attention, register_attention

__all__ = ["AttentionBlock", "attention_group", "available_attention", "build_attention", "register_attention"]
