"""``none`` is exactly the identity."""

import pytest

from medseg.blocks import build_attention

from .helpers import DIMS, n_params, sample


@pytest.mark.parametrize("dims", DIMS)
def test_none_returns_its_input(dims):
    b = build_attention("none", 16, dims)
    x = sample(16, dims)
    assert b(x) is x and n_params(b) == 0 and b.out_channels == 16
    b.keep_attention = True
    b(x)
    assert b.attention_map is None
