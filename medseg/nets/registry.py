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
# sizes that must be whole numbers >= 1 (0 or a negative width fails only deep in torch at the first step)
POSITIVE_INT_OPTIONS = ("features", "kernel_size", "depth", "growth_rate", "first_features")


def option_problem(key: str, value: Any) -> str | None:
    """Why network option ``key`` cannot be ``value``, or None (issue 25 defect 24)."""
    def positive_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and v >= 1

    if key in POSITIVE_INT_OPTIONS and not positive_int(value):
        return f"must be a positive int, got {value!r}"
    if key == "layers" and not (isinstance(value, (list, tuple)) and value and all(positive_int(v) for v in value)):
        return f"must be a non-empty list of positive ints (dense layers per block), got {value!r}"
    if key == "dropout" and not (isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < 1):
        return f"must be a probability in [0, 1), got {value!r}"
    return None


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
    problems = [f"options.{k} {m}" for k, v in kwargs.items() if (m := option_problem(k, v))]
    if problems:
        raise ValueError(f"{name}: invalid option(s): " + "; ".join(problems))
    preset_placement = kwargs.pop("placement", "all")
    if isinstance(placement, str) and placement == PRESET_PLACEMENT:
        placement = preset_placement
    return cls(in_channels, num_classes, spatial_dims=spatial_dims, attention=attention, placement=placement, **kwargs)
