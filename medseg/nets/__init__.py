"""Encoder-decoder networks (U-Net, QuickNAT, SD-Net, FC-DenseNet; 2D or 3D) with per-site attention placement."""

from .base import EncoderDecoder
from .placement import GROUPS, resolve_placement, site_names
from .registry import NETWORKS, PRESETS, available_networks, build_network, network_options
from .summary import attention_parameters, count_parameters, site_parameters

__all__ = [
    "EncoderDecoder",
    "GROUPS",
    "NETWORKS",
    "PRESETS",
    "attention_parameters",
    "available_networks",
    "build_network",
    "count_parameters",
    "network_options",
    "resolve_placement",
    "site_names",
    "site_parameters",
]
