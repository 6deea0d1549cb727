"""CBAM (Woo et al. 2018, Eqs. 1-3): channel then spatial attention, no residual."""

import pytest
import torch
import torch.nn.functional as F

from medseg.blocks import build_attention

from .helpers import DIMS, block, conv, n_params, per_channel, sample


def reference(b, x, pools=("avg", "max")):
    w1, b1, w2, b2 = b.mlp[0].weight, b.mlp[0].bias, b.mlp[2].weight, b.mlp[2].bias
    flat = x.flatten(2)
    pooled = {"avg": flat.mean(-1), "max": flat.max(-1).values}
    m_c = torch.sigmoid(sum(F.linear(F.relu(F.linear(pooled[p], w1, b1)), w2, b2) for p in pools))
    f1 = x * per_channel(m_c, x)
    k = b.spatial_conv.weight.shape[-1]
    desc = torch.cat([f1.mean(1, keepdim=True), f1.max(1, keepdim=True).values], 1)
    m_s = torch.sigmoid(conv(desc, b.spatial_conv.weight, b.spatial_conv.bias, padding=k // 2))
    return f1 * m_s


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("pools", [("avg", "max"), ("avg",), ("max",)])
def test_forward_is_the_paper_equation(pools, dims):
    b = block("cbam", 32, dims, pool_types=pools, kernel_size=3 if dims == 3 else 7)
    x = sample(32, dims)
    torch.testing.assert_close(b(x), reference(b, x, pools), atol=1e-6, rtol=0)


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("kernel_size", [3, 7])
def test_parameter_count_closed_form(dims, kernel_size):
    c, h = 64, 4
    expected = (c * h + h + h * c + c) + (2 * kernel_size**dims + 1)
    assert n_params(build_attention("cbam", c, dims, kernel_size=kernel_size)) == expected


def test_bad_options_fail_clearly():
    with pytest.raises(ValueError, match=r"^CBAM: pool_types must be distinct values from \('avg', 'max'\), got \('lse',\)"):
        build_attention("cbam", 32, pool_types=("lse",))
    with pytest.raises(ValueError, match="^CBAM: kernel_size must be an odd positive int, got 4"):
        build_attention("cbam", 32, kernel_size=4)


@pytest.mark.parametrize("dims", DIMS)
def test_kept_maps(dims):
    b = block("cbam", 32, dims)
    b.keep_attention = True
    x = sample(32, dims)
    b(x)
    assert b.attention_map["channel"].shape == (2, 32)
    assert b.attention_map["spatial"].shape == (2, 1, *x.shape[2:])
