"""``build_network``: network name + preset + options -> module with per-site attention."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from .fcdensenet import FCDenseNet
from .placement import PRESET_PLACEMENT, AttentionSpec, PlacementSpec
from .quicknat import QuickNAT
from .sdnet import SDNet
from .unet import UNet

NETWORKS: dict[str, type[nn.Module]] = {"unet": UNet, "quicknat": QuickNAT, "sdnet": SDNet, "fcdensenet": FCDenseNet}

# network -> preset -> options; the first preset of each network is its default. A preset's "placement"
# replaces placement="default" (otherwise "default" means every site).
PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "unet": {"roy2018": {"features": 64, "kernel_size": 5, "depth": 4, "upsample": "unpool"}},
    "quicknat": {
        "roy2019": {"features": 64, "kernel_size": 5, "depth": 4},
        "aimed": {
            "features": 64, "kernel_size": 5, "depth": 4, "activation": "prelu", "bottleneck": "dense", "dropout": 0.2,
            "placement": ["encoder", "decoder"],
        },
    },
    "sdnet": {"roy2017": {"features": 64, "kernel_size": 7, "depth": 3}},
    "fcdensenet": {
        "fcdensenet103": {"layers": (4, 5, 7, 10, 12, 15), "growth_rate": 16, "first_features": 48},
        "fcdensenet67": {"layers": (5,) * 6, "growth_rate": 16, "first_features": 48},
        "fcdensenet56": {"layers": (4,) * 6, "growth_rate": 12, "first_features": 48},
    },
}

_FIXED = ("in_channels", "num_classes", "spatial_dims", "attention", "placement")


def available_networks() -> list[str]:
    return list(NETWORKS)


def network_options(name: str) -> list[str]:
    """Keyword options accepted by ``build_network(name, ...)`` besides the fixed arguments."""
    params = inspect.signature(_lookup(name).__init__).parameters
    return [p for p in params if p not in ("self", *_FIXED)] + ["preset"]


def _lookup(name: str) -> type[nn.Module]:
    key = name.lower() if isinstance(name, str) else name
    if key not in NETWORKS:
        raise ValueError(f"unknown network {name!r}; available: {', '.join(NETWORKS)}")
    return NETWORKS[key]


def build_network(
    name: str,
    in_channels: int,
    num_classes: int,
    spatial_dims: int = 2,
    attention: AttentionSpec = None,
    placement: PlacementSpec = PRESET_PLACEMENT,
    **options: Any,
) -> nn.Module:
    """Build network ``name`` from its preset (``options["preset"]``, default the paper's) and ``options``;
    ``placement="default"`` takes the preset's placement (every site unless the preset names one)."""
    cls = _lookup(name)
    key = name.lower()
    presets = PRESETS[key]
    preset = options.pop("preset", None) or next(iter(presets))
    if preset not in presets:
        raise ValueError(f"{name}: unknown preset {preset!r}; available: {', '.join(presets)}")
    valid = network_options(key)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"{name}: unknown option(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    kwargs = {**presets[preset], **options}
    preset_placement = kwargs.pop("placement", "all")
    if isinstance(placement, str) and placement == PRESET_PLACEMENT:
        placement = preset_placement
    return cls(in_channels, num_classes, spatial_dims=spatial_dims, attention=attention, placement=placement, **kwargs)
