"""Acceptance grid and structural properties of the four networks (tiny widths; see conftest.TINY)."""

import pytest
import torch
from torch import nn

from medseg.blocks.attention_gate import AttentionGate
from medseg.nets import build_network, site_names
from tests.blocks.helpers import assert_gradients_match_finite_differences, randomise

from .conftest import TINY

ATTENTIONS = ["none", "cse", "sse", "scse", "cbam"]
PLACEMENTS = {
    "all": lambda a: "all",
    "encoder": lambda a: "encoder",
    "decoder": lambda a: "decoder",
    "bottleneck": lambda a: "bottleneck",
    "one_site": lambda a: "dec2",
    "per_site": lambda a: {"enc1": a, "bottleneck": "sse", "dec1": {"name": a}, "classifier": None},
}
EXPECTED = {
    "all": set(site_names(2)),
    "encoder": {"enc1", "enc2"},
    "decoder": {"dec1", "dec2"},
    "bottleneck": {"bottleneck"},
    "one_site": {"dec2"},
    "per_site": {"enc1", "bottleneck", "dec1"},
}
SHAPES = {2: (181, 217), 3: (13, 18, 11)}


def _forward_backward(net: nn.Module, shape, batch: int = 1) -> torch.Tensor:
    x = torch.randn(batch, 1, *shape)
    y = net(x)
    assert y.shape == (batch, 3, *shape)
    y.square().mean().backward()
    return y


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("placement", list(PLACEMENTS))
@pytest.mark.parametrize("attention", ATTENTIONS)
def test_grid_builds_runs_and_places_blocks_exactly(tiny_name, attention, placement, spatial_dims):
    torch.manual_seed(0)
    spec = PLACEMENTS[placement](attention)
    net = build_network(tiny_name, 1, 3, spatial_dims, attention=attention, placement=spec, **TINY[tiny_name])
    _forward_backward(net, SHAPES[spatial_dims])
    sites = net.attention_sites
    assert list(sites) == site_names(2)
    placed = {s for s, m in sites.items() if not isinstance(m, nn.Identity)}
    expected = EXPECTED[placement] if attention != "none" else ({"bottleneck"} if placement == "per_site" else set())
    assert placed == expected
    for site in placed:
        params = list(sites[site].parameters())
        assert params and all(p.grad is not None and torch.isfinite(p.grad).all() for p in params), site


@pytest.mark.parametrize("spatial_dims, shape", [(2, (181, 217)), (3, (45, 54, 45))])
def test_odd_inputs_at_full_size(tiny_name, spatial_dims, shape):
    net = build_network(tiny_name, 1, 3, spatial_dims, attention="scse", **TINY[tiny_name])
    _forward_backward(net, shape)


def test_sites_own_independent_parameters(tiny_name):
    kw = TINY[tiny_name]
    net = build_network(tiny_name, 1, 3, attention="scse", **kw)
    baseline = build_network(tiny_name, 1, 3, attention=None, **kw)
    per_site = [sum(p.numel() for p in m.parameters()) for m in net.attention_sites.values()]
    # module.parameters() deduplicates shared tensors, so sharing would make the difference smaller
    assert sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in baseline.parameters()) == sum(per_site)
    pointers = [p.data_ptr() for m in net.attention_sites.values() for p in m.parameters()]
    assert len(pointers) == len(set(pointers))
    with torch.no_grad():
        first = net.attention_sites["enc1"]
        for p in first.parameters():
            p.add_(1.0)
    other = net.attention_sites["dec1"]
    assert all(not torch.equal(a, b) for a, b in zip(first.parameters(), other.parameters()) if a.shape == b.shape)


def test_concat_scse_gets_a_projection_back_to_the_site_width(tiny_name):
    net = build_network(tiny_name, 1, 3, attention={"name": "scse", "aggregation": "concat"}, **TINY[tiny_name])
    site = net.attention_sites["enc1"]
    assert site.block.out_channels == 2 * site.block.channels and site.proj.out_channels == site.block.channels
    _forward_backward(net, (37, 29))


def test_skip_gates_gate_every_skip_and_train(tiny_name):
    net = build_network(tiny_name, 1, 3, attention="cse", skip_gate=True, **TINY[tiny_name])
    assert len(net.gates) == net.depth and all(isinstance(g, AttentionGate) for g in net.gates)
    torch.manual_seed(0)
    _forward_backward(net, (35, 22))
    # float64 finite differences: every parameter (the gates' included) gets its true gradient (no `> 0`);
    # eval mode, so that dropout (FC-DenseNet) does not make the loss random; random BatchNorm statistics,
    # so that max-unpooled zeros do not sit exactly on a ReLU kink (fresh BN maps 0 to 0)
    x = torch.randn(2, 1, 35, 22, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert_gradients_match_finite_differences(randomise(net).double().eval(), (x,))


def test_channels_last_gives_the_same_result(tiny_name):
    torch.manual_seed(1)
    # float64: channels_last runs other kernels, whose float32 rounding differs by more than a fixed atol
    net = build_network(tiny_name, 1, 3, attention="scse", **TINY[tiny_name]).double().eval()
    x = torch.randn(2, 1, 33, 26, dtype=torch.float64)
    expected = net(x)
    got = net.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)


def test_too_small_input_names_the_minimum(tiny_name):
    net = build_network(tiny_name, 1, 3, **TINY[tiny_name]).eval()  # batch 1 at 1x1: BN needs eval mode
    assert net.min_input_size == 4
    assert net(torch.randn(1, 1, 4, 5)).shape == (1, 3, 4, 5)
    with pytest.raises(ValueError, match=r"at least 4 .*voxels"):
        net(torch.randn(1, 1, 3, 40))


def test_wrong_channels_or_dims_are_reported(tiny_name):
    net = build_network(tiny_name, 1, 3, **TINY[tiny_name])
    with pytest.raises(ValueError, match=r"expected input \(B, 1"):
        net(torch.randn(1, 2, 16, 16))
    with pytest.raises(ValueError, match="got shape"):
        net(torch.randn(1, 1, 16, 16, 16))


@pytest.mark.slow
@pytest.mark.parametrize("name, preset", [("unet", "roy2018"), ("quicknat", "roy2019"), ("sdnet", "roy2017"), ("fcdensenet", "fcdensenet56")])
def test_paper_presets_train_on_a_small_odd_slice(name, preset):
    net = build_network(name, 1, 5, attention={"name": "scse", "aggregation": "max"}, preset=preset)
    size = net.min_input_size + 3
    x = torch.randn(2, 1, size, size + 2)
    y = net(x)
    assert y.shape == (2, 5, size, size + 2)
    y.mean().backward()
    assert all(p.grad is not None for p in net.parameters())
