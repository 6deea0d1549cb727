"""Skip gates, the ``skip_gate`` network option: ``attention_gate`` (Attention U-Net) or ``gau`` (PAN's GAU).

``skip_gate`` is False/None (no gates), True (= ``"attention_gate"``, the older boolean form), a gate name,
or ``{name: gau, activation: relu}``. Each level k gets its own gate acting on skip k with the coarser
decoder feature arriving at that level as the gating signal.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from torch import nn

from medseg.blocks.attention_gate import AttentionGate
from medseg.blocks.gau import GAU

SKIP_GATES: dict[str, type[nn.Module]] = {"attention_gate": AttentionGate, "gau": GAU}
SkipGateSpec = bool | str | Mapping[str, Any] | None


def skip_gate_spec(spec: SkipGateSpec) -> tuple[str, dict[str, Any]] | None:
    """(gate name, options), or None for no gates; an unknown name lists the choices."""
    if spec is None or spec is False:
        return None
    if spec is True:
        return "attention_gate", {}
    if isinstance(spec, Mapping):
        options = dict(spec)
        name = options.pop("name", None)
    else:
        name, options = spec, {}
    if not isinstance(name, str) or name.lower() not in SKIP_GATES:
        raise ValueError(f"skip_gate: unknown gate {name!r}; choose one of {', '.join(SKIP_GATES)} (or true / false)")
    return name.lower(), options


def build_skip_gates(
    spec: SkipGateSpec, skip_channels: Sequence[int], gating_channels: Sequence[int], spatial_dims: int
) -> nn.ModuleList | None:
    """One gate per level (index k-1 gates level k), or None when ``spec`` turns gates off."""
    resolved = skip_gate_spec(spec)
    if resolved is None:
        return None
    name, options = resolved
    try:
        return nn.ModuleList(
            SKIP_GATES[name](s, g, spatial_dims, **options) for s, g in zip(skip_channels, gating_channels)
        )
    except TypeError as err:
        raise ValueError(f"skip_gate {name!r}: {err}") from err
