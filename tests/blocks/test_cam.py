"""CAM (DANet Sec. 3.3): out = gamma * softmax(max(E) - E) X + X with E = X X^T; gamma = 0 at init."""

import pytest
import torch
import torch.nn.functional as F

from medseg.blocks import build_attention

from .helpers import DIMS, block, n_params, sample


def cam_term(b, x):
    flat = x.flatten(2)
    energy = torch.einsum("bcn,bdn->bcd", flat, flat)
    a = F.softmax(energy.max(-1, keepdim=True).values - energy, dim=-1)
    return b.gamma * torch.einsum("bcd,bdn->bcn", a, flat).reshape(x.shape)


@pytest.mark.parametrize("dims", DIMS)
def test_forward_is_the_paper_equation(dims):
    b = block("cam", 16, dims)
    x = sample(16, dims)
    torch.testing.assert_close(b(x), x + cam_term(b, x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("dims", DIMS)
def test_identity_at_init_and_one_parameter(dims):
    b = build_attention("cam", 16, dims)
    x = sample(16, dims, dtype=torch.float32)
    assert torch.equal(b(x), x) and n_params(b) == 1


@pytest.mark.parametrize("dims", DIMS)
def test_kept_map_is_c_by_c(dims):
    b = block("cam", 16, dims)
    b.keep_attention = True
    b(sample(16, dims))
    assert b.attention_map.shape == (2, 16, 16)
