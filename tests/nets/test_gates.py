"""The ``skip_gate`` option: attention_gate | gau | true | false | {name: gau, activation: relu}."""

import pytest
import torch

from medseg.blocks import GAU, AttentionGate
from medseg.nets import build_network

from .conftest import TINY


@pytest.mark.parametrize("spec, cls", [(True, AttentionGate), ("attention_gate", AttentionGate), ("gau", GAU),
                                       ({"name": "gau", "activation": "relu"}, GAU)])
def test_every_skip_gets_its_gate_and_trains(tiny_name, spec, cls):
    torch.manual_seed(0)
    net = build_network(tiny_name, 1, 3, skip_gate=spec, **TINY[tiny_name])
    assert len(net.gates) == net.depth and all(type(g) is cls for g in net.gates)
    if isinstance(spec, dict):
        assert all(g.activation == "relu" for g in net.gates)
    y = net(torch.randn(2, 1, 21, 18))
    assert y.shape == (2, 3, 21, 18)
    y.square().mean().backward()
    assert all(p.grad is not None for g in net.gates for p in g.parameters())


def test_gau_gate_sees_the_skip_and_the_decoder_feature_below():
    """The gate of level k scales skip k by weights from the feature arriving from level k+1 (or the bottleneck)."""
    net = build_network("unet", 1, 3, skip_gate="gau", **TINY["unet"]).eval()
    seen = []
    for k, gate in enumerate(net.gates):
        gate.register_forward_hook(lambda m, args, out, k=k: seen.append((k, args[0].shape, args[1].shape)))
    net(torch.randn(1, 1, 16, 12))
    assert seen == [(1, (1, 2, 8, 6), (1, 2, 4, 3)), (0, (1, 2, 16, 12), (1, 2, 8, 6))]


def test_gau_in_3d_and_without_gates():
    net = build_network("quicknat", 1, 3, 3, skip_gate="gau", **TINY["quicknat"])
    assert net(torch.randn(1, 1, 8, 9, 8)).shape == (1, 3, 8, 9, 8)
    assert build_network("quicknat", 1, 3, skip_gate=False, **TINY["quicknat"]).gates is None


def test_unknown_gate_lists_the_choices():
    with pytest.raises(ValueError, match="skip_gate: unknown gate 'se'; choose one of attention_gate, gau"):
        build_network("unet", 1, 3, skip_gate="se", **TINY["unet"])
    with pytest.raises(ValueError, match="skip_gate 'gau'"):
        build_network("unet", 1, 3, skip_gate={"name": "gau", "reduction": 2}, **TINY["unet"])
