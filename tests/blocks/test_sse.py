"""sSE (Roy et al. 2018 Sec. 2.2): q = sigmoid(W_s * U), out = U * q."""

import pytest
import torch

from medseg.blocks import build_attention

from .helpers import DIMS, block, conv, n_params, sample


@pytest.mark.parametrize("dims", DIMS)
def test_forward_is_the_paper_equation(dims):
    b = block("sse", 16, dims)
    x = sample(16, dims)
    q = torch.sigmoid(torch.einsum("bc...,c->b...", x, b.conv.weight.flatten()) + b.conv.bias)
    torch.testing.assert_close(b(x), x * q.unsqueeze(1), atol=1e-6, rtol=0)
    b.keep_attention = True
    b(x)
    torch.testing.assert_close(b.attention_map, torch.sigmoid(conv(x, b.conv.weight, b.conv.bias)))


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("bias", [True, False])
def test_parameter_count_closed_form(dims, bias):
    assert n_params(build_attention("sse", 64, dims, bias=bias)) == 64 + int(bias)
