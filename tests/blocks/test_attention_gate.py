"""Attention gate (Oktay et al. 2018, Eqs. 1-2): alpha = sigmoid(psi relu(W_x x + W_g g)), out = x * alpha."""

import pytest
import torch
import torch.nn.functional as F

from medseg.blocks import AttentionGate, available_attention

from .helpers import DIMS, SPATIAL, assert_gradients_match_finite_differences, conv, n_params, randomise

MODE = {2: "bilinear", 3: "trilinear"}


def gate(dims, channels=8, gating=12, inter=None, seed=0):
    return randomise(AttentionGate(channels, gating, dims, inter_channels=inter), seed).double().eval()


def reference(m, x, g):
    g = F.interpolate(g, size=x.shape[2:], mode=MODE[x.ndim - 2], align_corners=False)  # g first, then W_g
    q = conv(F.relu(conv(x, m.w_x.weight) + conv(g, m.w_g.weight, m.w_g.bias)), m.psi.weight, m.psi.bias)
    return x * torch.sigmoid(q)


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("coarse", [True, False])
def test_forward_is_the_paper_equation(dims, coarse):
    m = gate(dims)
    x = torch.randn(2, 8, *[2 * s for s in SPATIAL[dims]], dtype=torch.float64)
    g = torch.randn(2, 12, *(SPATIAL[dims] if coarse else x.shape[2:]), dtype=torch.float64)
    y = m(x, g)
    assert y.shape == x.shape and m.out_channels == 8
    torch.testing.assert_close(y, reference(m, x, g), atol=1e-6, rtol=0)


@pytest.mark.parametrize("dims", DIMS)
def test_gradients_autocast_and_channels_last(dims):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 8, *[2 * s for s in SPATIAL[dims]], generator=gen, dtype=torch.float64)
    g = torch.randn(2, 12, *SPATIAL[dims], generator=gen, dtype=torch.float64)
    # every parameter, x and g get the true gradient (finite differences in float64; no `> 0`)
    assert_gradients_match_finite_differences(gate(dims).train(), (x, g))
    m = randomise(AttentionGate(8, 12, dims)).float()
    x, g = x.float(), g.float()
    with torch.no_grad():
        y32 = m(x, g)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y16 = m(x, g)
        assert (y16.float() - y32).abs().max() < 0.05 * (y32.abs().max() + 1)
    # channels_last runs other kernels: compare in float64, where their rounding differences are ~1e-16
    m64, x64, g64 = gate(dims), x.double(), g.double()
    fmt = torch.channels_last if dims == 2 else torch.channels_last_3d
    torch.testing.assert_close(m64(x64.to(memory_format=fmt), g64.to(memory_format=fmt)), m64(x64, g64), atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("dims", DIMS)
def test_parameter_count_closed_form_and_default_inter_channels(dims):
    m = AttentionGate(64, 128, dims)
    f = 32
    assert m.inter_channels == f
    assert n_params(m) == 64 * f + (128 * f + f) + (f + 1)


def test_kept_map_and_not_registered():
    m = gate(2)
    m.keep_attention = True
    x = torch.randn(2, 8, 12, 10, dtype=torch.float64)
    m(x, torch.randn(2, 12, 6, 5, dtype=torch.float64))
    assert m.attention_map.shape == (2, 1, 12, 10)
    assert "attention_gate" not in available_attention()


def test_bad_inputs_name_the_gate():
    m = AttentionGate(8, 12, 2)
    with pytest.raises(ValueError, match="^AttentionGate: expected 12 channels in the gating signal g, got 8"):
        m(torch.randn(1, 8, 4, 4), torch.randn(1, 8, 2, 2))
    with pytest.raises(ValueError, match="^AttentionGate: expected 8 channels in the skip input x, got 6"):
        m(torch.randn(1, 6, 4, 4), torch.randn(1, 12, 2, 2))
    with pytest.raises(ValueError, match="^AttentionGate: batch sizes differ"):
        m(torch.randn(2, 8, 4, 4), torch.randn(1, 12, 2, 2))
