"""``medseg summary``: parameters per attention site and the attention overhead of a network spec.

overhead % = 100 * (params with attention - params without) / params without (the scSE paper's ~1.5 %).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from torch import nn

from .registry import build_network

SPEC_KEYS = ("name", "attention", "placement", "options")


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def site_parameters(net: nn.Module) -> dict[str, int]:
    """Site name -> parameters of the attention module there (0 for Identity), in forward order."""
    return {site: count_parameters(m) for site, m in net.attention_sites.items()}


def attention_parameters(net: nn.Module) -> int:
    """Parameters in all attention sites (skip gates excluded: they are part of the architecture)."""
    return sum(site_parameters(net).values())


def read_network_spec(config: str | Path) -> dict[str, Any]:
    """The ``model.network`` section of an experiment YAML."""
    path = Path(config)
    if not path.is_file():
        raise FileNotFoundError(f"summary: config file {str(path)!r} does not exist")
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    spec = data.get("model", {}).get("network") if isinstance(data.get("model"), dict) else None
    if not isinstance(spec, dict):
        raise ValueError(f"{path}: expected a mapping at key 'model.network' with keys {', '.join(SPEC_KEYS)}, got {spec!r}")
    if "name" not in spec:
        raise ValueError(f"{path}: 'model.network' has no 'name' (one of unet, quicknat, sdnet, fcdensenet)")
    options = spec.get("options") or {}
    if not isinstance(options, dict):
        raise ValueError(f"{path}: 'model.network.options' must be a mapping, got {options!r}")
    return {"name": spec["name"], "attention": spec.get("attention"), "placement": spec.get("placement", "default"), "options": options}


def _describe(module: nn.Module) -> str:
    if isinstance(module, nn.Identity):
        return "-"
    inner = getattr(module, "block", module)
    return type(inner).__name__ + (" + 1x1 proj" if inner is not module else "")


def summary_table(net: nn.Module, baseline: nn.Module) -> str:
    """Plain-text table: site, block, parameters (then one row per skip gate, ``gate<k>`` on skip k); then
    totals and overhead % (skip gates, an architecture option, are in both networks)."""
    rows = [("site", "block", "params")]
    rows += [(site, _describe(m), f"{count_parameters(m):,}") for site, m in net.attention_sites.items()]
    gates = getattr(net, "gates", None) or []
    rows += [(f"gate{k}", type(g).__name__, f"{count_parameters(g):,}") for k, g in enumerate(gates, start=1)]
    total, base = count_parameters(net), count_parameters(baseline)
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{r[0]:<{width[0]}}  {r[1]:<{width[1]}}  {r[2]:>{width[2]}}" for r in rows]
    lines.insert(1, "-" * (sum(width) + 4))
    lines += [
        "",
        f"attention parameters:           {attention_parameters(net):,}",
        f"network without attention:      {base:,}",
        f"network with attention:         {total:,}",
        f"attention overhead:             {100.0 * (total - base) / base:.2f} %",
    ]
    return "\n".join(lines)


def summary(
    config: str | None = None,
    network: str = "quicknat",
    attention: str | dict | None = "scse",
    placement: str | list[str] | dict | None = "default",
    in_channels: int = 1,
    num_classes: int = 28,
    spatial_dims: int = 2,
    options: dict | None = None,
) -> str:
    """Print parameters per attention site and the overhead in % of the network without attention.

    Args:
        config: experiment YAML; its ``model.network`` section (name, attention, placement, options)
            replaces ``network``, ``attention``, ``placement`` and ``options``.
        network: unet | quicknat | sdnet | fcdensenet.
        attention: block name, ``{name: ..., **options}``, or null.
        placement: default (the preset's) | all | encoder | decoder | bottleneck | [sites] | {site: attention}.
        options: extra keyword options of ``build_network`` (preset, features, kernel_size, depth, ...).
    """
    spec = {"name": network, "attention": attention, "placement": placement, "options": dict(options or {})}
    if config is not None:
        spec = read_network_spec(config)
    common = dict(in_channels=in_channels, num_classes=num_classes, spatial_dims=spatial_dims, **spec["options"])
    net = build_network(spec["name"], attention=spec["attention"], placement=spec["placement"], **common)
    baseline = build_network(spec["name"], attention=None, placement=None, **common)
    table = summary_table(net, baseline)
    print(f"{spec['name']}  attention={spec['attention']!r}  placement={spec['placement']!r}\n{table}")
    return table
