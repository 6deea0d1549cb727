"""Attention maps collected from a network equal the cSE/sSE equations applied to the site's input."""

import numpy as np
import pytest
import torch

from medseg.blocks.encnet import encode
from medseg.eval.attention_maps import attention_figure, collect_attention
from medseg.eval.plots import plt
from medseg.nets import build_network


def small_net(attention, placement="all"):
    torch.manual_seed(0)
    return build_network("unet", 1, 3, spatial_dims=2, attention=attention, placement=placement,
                         features=8, depth=2, kernel_size=3)


def test_scse_maps_match_the_equations_at_each_site():
    net = small_net({"name": "scse", "aggregation": "max"})
    net.train()
    image = torch.randn(2, 1, 16, 16)
    inputs = {}
    hooks = [site.register_forward_pre_hook(lambda m, a, name=name: inputs.__setitem__(name, a[0]))
             for name, site in net.attention_sites.items()]
    maps = collect_attention(net, image)
    for h in hooks:
        h.remove()
    assert list(maps) == [n for n, s in net.attention_sites.items() if not isinstance(s, torch.nn.Identity)]
    for name, m in maps.items():
        block, u = net.attention_sites[name], inputs[name][0]  # first batch item, (C, H, W)
        z = u.mean(dim=(1, 2))
        s = torch.sigmoid(block.cse.fc2.weight @ torch.relu(block.cse.fc1.weight @ z + block.cse.fc1.bias)
                          + block.cse.fc2.bias)
        q = torch.sigmoid(torch.einsum("c,chw->hw", block.sse.conv.weight.reshape(-1), u) + block.sse.conv.bias)
        torch.testing.assert_close(m["channel"], s)
        torch.testing.assert_close(m["spatial"], q)
    assert net.training and all(not b.keep_attention and b.attention_map is None
                                for s in net.attention_sites.values() for b in s.modules() if hasattr(b, "keep_attention"))


def test_cse_only_sites_and_figure():
    net = small_net("cse", placement=["enc1", "dec1"])
    maps = collect_attention(net, torch.randn(1, 1, 16, 16))
    assert list(maps) == ["enc1", "dec1"] and all(set(m) == {"channel"} for m in maps.values())
    fig = attention_figure(np.zeros((16, 16)), maps)
    assert len(fig.axes) == 4 and len(fig.axes[2].patches) == maps["enc1"]["channel"].numel()
    plt.close(fig)


def test_figure_overlays_upsampled_spatial_map():
    maps = collect_attention(small_net("sse", placement=["bottleneck"]), torch.randn(1, 1, 16, 16))
    assert maps["bottleneck"]["spatial"].shape == (4, 4)  # depth 2: 16 / 2**2
    fig = attention_figure(np.ones((16, 16)), maps, label=np.eye(16, dtype=int))
    assert fig.axes[0].images[1].get_array().shape == (16, 16)
    plt.close(fig)
    with pytest.raises(ValueError, match=r"2D slice \(H, W\), got shape \(1, 16, 16\)"):
        attention_figure(np.ones((1, 16, 16)), maps)


def test_new_blocks_and_gau_gates_give_maps():
    torch.manual_seed(0)
    net = build_network("unet", 1, 3, placement={"bottleneck": "psanet", "dec2": "fpa", "dec1": "encnet"},
                        features=8, depth=2, kernel_size=3, skip_gate="gau")
    inputs = {}
    net.sites["dec1"].register_forward_pre_hook(lambda m, a: inputs.__setitem__("dec1", a[0]))
    maps = collect_attention(net, torch.randn(1, 1, 16, 12))
    assert list(maps) == ["bottleneck", "dec2", "dec1", "gate1", "gate2"]
    assert maps["bottleneck"]["spatial"].shape == (2, 2)  # 4x3 bottleneck shrunk by 2 -> 2x2
    torch.testing.assert_close(maps["bottleneck"]["spatial"].sum(), torch.tensor(1.0))  # a softmax over sources
    assert maps["dec2"]["spatial"].shape == (8, 6) and maps["dec1"]["channel"].shape == (8,)
    assert maps["gate1"]["channel"].shape == (8,) and ((maps["gate1"]["channel"] > 0) & (maps["gate1"]["channel"] < 1)).all()
    block = net.sites["dec1"].eval()  # EncNet's gamma recomputed from the site input (maps run in eval mode)
    with torch.no_grad():
        feats = block.features(inputs["dec1"]).flatten(2).transpose(1, 2)
        en = torch.relu(block.code_norm(encode(feats, block.codewords, block.smoothing))).mean(1)
        torch.testing.assert_close(maps["dec1"]["channel"], torch.sigmoid(block.fc(en))[0])
    plt.close(attention_figure(torch.randn(16, 12), maps))
