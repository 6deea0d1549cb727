"""The placement spec: which attention block goes at which site.

Sites (forward order): ``enc1..encK`` (enc1 at full resolution), ``bottleneck``, ``decK..dec1`` (decK at
the resolution of encK, dec1 last), ``classifier`` (just before the final 1x1 conv).
``placement`` is a group (``"all"`` = every site, ``"encoder"``, ``"decoder"``, ``"bottleneck"``), a site
name, a list of groups/sites, or a dict ``{site or group: attention}`` (site keys override group keys).
``"default"`` (:data:`PRESET_PLACEMENT`) is resolved by ``build_network`` to the preset's placement.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

AttentionSpec = str | Mapping[str, Any] | None
PlacementSpec = str | Sequence[str] | Mapping[str, AttentionSpec] | None
GROUPS = ("all", "encoder", "decoder", "bottleneck")
PRESET_PLACEMENT = "default"


def site_names(depth: int) -> list[str]:
    """All sites of a network with ``depth`` pooling levels, in forward order."""
    return (
        [f"enc{k}" for k in range(1, depth + 1)]
        + ["bottleneck"]
        + [f"dec{k}" for k in range(depth, 0, -1)]
        + ["classifier"]
    )


def expand(key: str, sites: Sequence[str]) -> list[str]:
    """A group or site name -> the sites it denotes; unknown names list the valid ones."""
    if not isinstance(key, str):
        raise ValueError(f"placement: expected a site or group name, got {key!r}")
    if key == "all":
        return list(sites)
    if key == "encoder":
        return [s for s in sites if s.startswith("enc")]
    if key == "decoder":
        return [s for s in sites if s.startswith("dec")]
    if key in sites:
        return [key]
    raise ValueError(
        f"placement: unknown site or group {key!r}; groups: {', '.join(GROUPS)}; sites: {', '.join(sites)}"
    )


def resolve_placement(
    placement: PlacementSpec,
    attention: AttentionSpec,
    sites: Sequence[str],
) -> dict[str, AttentionSpec]:
    """Map every site to its attention spec (None where no attention), in the order of ``sites``."""
    chosen: dict[str, AttentionSpec] = {s: None for s in sites}
    if placement is None:
        return chosen
    if isinstance(placement, Mapping):
        groups = [k for k in placement if k in GROUPS and k not in sites]
        singles = [k for k in placement if k not in groups]
        for key in groups + singles:
            for site in expand(key, sites):
                chosen[site] = placement[key]
        return chosen
    keys = [placement] if isinstance(placement, str) else list(placement)
    for key in keys:
        for site in expand(key, sites):
            chosen[site] = attention
    return chosen
