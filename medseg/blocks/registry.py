"""One string -> attention module registry (after timm's ``create_attn``), grouped by cost."""

from __future__ import annotations

import inspect
from typing import Any, Callable

from torch import nn

# name -> (factory, group). Groups: "identity", "recalibration" (lightweight gating, O(C^2) or O(C)),
# "self-attention" (pairwise affinities, O(N^2) or O(C^2 N)).
_REGISTRY: dict[str, tuple[Callable[..., nn.Module], str]] = {}


def register_attention(name: str, group: str = "recalibration"):
    """Class decorator adding a block to the registry under ``name``."""

    def wrap(factory: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"attention {name!r} is registered twice")
        _REGISTRY[name] = (factory, group)
        return factory

    return wrap


def available_attention(group: str | None = None) -> list[str]:
    """Registered block names, optionally only those of one cost group."""
    return [n for n, (_, g) in _REGISTRY.items() if group is None or g == group]


def attention_group(name: str) -> str:
    return _lookup(name)[1]


def _lookup(name: str) -> tuple[Callable[..., nn.Module], str]:
    key = name.lower() if isinstance(name, str) else name
    if key not in _REGISTRY:
        raise ValueError(f"unknown attention {name!r}; available: {', '.join(available_attention())}")
    return _REGISTRY[key]


def _option_defaults(factory: Callable[..., nn.Module]) -> dict[str, Any]:
    """Keyword defaults of a block; an option defaulting to None takes the class's ``default_<option>``."""
    out = {}
    for name, param in inspect.signature(factory).parameters.items():
        if param.default is inspect.Parameter.empty or name in ("channels", "spatial_dims"):
            continue
        out[name] = getattr(factory, f"default_{name}", None) if param.default is None else param.default
    return out


def canonical_attention(spec: str | dict | None) -> str | dict | None:
    """The shortest spec of the same block: options equal to their defaults dropped, a bare name as a string.

    ``{"name": "scse", "aggregation": "add"}`` -> ``"scse"``; ``{"name": "SE", "reduction": 2}`` ->
    ``{"name": "se", "reduction": 2}`` (SE's default is 16). Strings and None come back unchanged but
    lower-cased; unknown names raise the registry's error.
    """
    if not isinstance(spec, dict):
        return spec.lower() if isinstance(spec, str) else spec
    if "name" not in spec:
        raise ValueError(f"attention spec {spec!r} has no 'name' key")
    factory, _ = _lookup(spec["name"])
    defaults = _option_defaults(factory)
    options = {k: v for k, v in spec.items() if k != "name" and (k not in defaults or defaults[k] != v)}
    name = spec["name"].lower()
    return {"name": name, **dict(sorted(options.items()))} if options else name


def build_attention(name: str | dict | None, channels: int, spatial_dims: int = 2, **options) -> nn.Module:
    """Build block ``name`` for ``channels`` input channels in ``spatial_dims`` (2 or 3) dimensions.

    ``name`` may also be a dict ``{"name": ..., **options}`` (the YAML form) or None (identity).
    """
    if name is None:
        name = "none"
    if isinstance(name, dict):
        spec = dict(name)
        if "name" not in spec:
            raise ValueError(f"attention spec {name!r} has no 'name' key")
        name = spec.pop("name")
        options = {**spec, **options}
    if spatial_dims not in (2, 3):
        raise ValueError(f"attention {name!r}: spatial_dims must be 2 or 3, got {spatial_dims}")
    if not isinstance(channels, int) or channels < 1:
        raise ValueError(f"attention {name!r}: channels must be a positive int, got {channels!r}")
    factory, _ = _lookup(name)
    return factory(channels=channels, spatial_dims=spatial_dims, **options)
