"""cSE / SE (Roy et al. 2018 Sec. 2.1; Hu et al. 2018): equation, parameter counts, reduction rule."""

import pytest
import torch
import torch.nn.functional as F

from medseg.blocks import build_attention

from .helpers import DIMS, block, gap, n_params, per_channel, sample


def reference(b, x):
    z = gap(x)
    s = torch.sigmoid(F.linear(F.relu(F.linear(z, b.fc1.weight, b.fc1.bias)), b.fc2.weight, b.fc2.bias))
    return x * per_channel(s, x)


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("name", ["cse", "se"])
def test_forward_is_the_paper_equation(name, dims):
    b = block(name, 32, dims)
    x = sample(32, dims)
    torch.testing.assert_close(b(x), reference(b, x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("channels", [8, 64])
def test_parameter_count_closed_form(channels):
    c = channels
    assert n_params(build_attention("cse", c, reduction=2)) == c * c // 2 + c // 2 + c // 2 * c + c
    assert n_params(build_attention("cse", c, 3, reduction=2, bias=False)) == c * c
    h = max(1, c // 16)
    assert n_params(build_attention("se", c)) == 2 * c * h + h + c


def test_default_reductions_are_the_papers():
    assert build_attention("cse", 64).fc1.out_features == 32
    assert build_attention("se", 64).fc1.out_features == 4


def test_default_reduction_is_capped_for_narrow_layers_but_an_explicit_one_is_not():
    assert build_attention("se", 8).fc1.out_features == 1
    with pytest.raises(ValueError, match=r"^SE: reduction must be at most the number of channels \(8\), got reduction=16"):
        build_attention("se", 8, reduction=16)


@pytest.mark.parametrize("dims", DIMS)
def test_kept_map_is_the_channel_weights(dims):
    b = block("cse", 16, dims)
    b.keep_attention = True
    x = sample(16, dims)
    y = b(x)
    assert b.attention_map.shape == (2, 16)
    torch.testing.assert_close(y, x * per_channel(b.attention_map, x))
