"""scSE (Roy et al. 2018 Sec. 2.3; TMI 2019): the four aggregations of U * s and U * q."""

import pytest
import torch
import torch.nn.functional as F

from medseg.blocks import build_attention

from .helpers import DIMS, block, conv, gap, n_params, per_channel, sample


def branches(b, x):
    s = torch.sigmoid(F.linear(F.relu(F.linear(gap(x), b.cse.fc1.weight, b.cse.fc1.bias)), b.cse.fc2.weight, b.cse.fc2.bias))
    q = torch.sigmoid(conv(x, b.sse.conv.weight, b.sse.conv.bias))
    return x * per_channel(s, x), x * q


AGGREGATE = {
    "add": lambda u, v: u + v,
    "max": lambda u, v: torch.where(u > v, u, v),
    "mul": lambda u, v: u * v,
    "concat": lambda u, v: torch.cat([u, v], 1),
}


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("aggregation", list(AGGREGATE))
def test_forward_is_the_paper_equation(aggregation, dims):
    b = block("scse", 16, dims, aggregation=aggregation)
    x = sample(16, dims)
    y = b(x)
    torch.testing.assert_close(y, AGGREGATE[aggregation](*branches(b, x)), atol=1e-6, rtol=0)
    assert y.shape[1] == b.out_channels == (32 if aggregation == "concat" else 16)


@pytest.mark.parametrize("dims", DIMS)
def test_parameter_count_closed_form(dims):
    c = 64
    expected = (c * c // 2 + c // 2 + c // 2 * c + c) + (c + 1)
    assert n_params(build_attention("scse", c, dims)) == expected


def test_default_aggregation_is_add_and_unknown_fails_naming_choices():
    assert build_attention("scse", 8).aggregation == "add"
    with pytest.raises(ValueError, match=r"^SCSE: unknown aggregation 'avg'; expected one of add, max, mul, concat"):
        build_attention("scse", 8, aggregation="avg")


@pytest.mark.parametrize("dims", DIMS)
def test_kept_maps_are_channel_and_spatial(dims):
    b = block("scse", 16, dims)
    b.keep_attention = True
    b(sample(16, dims))
    assert b.attention_map["channel"].shape == (2, 16)
    assert b.attention_map["spatial"].shape == (2, 1) + sample(16, dims).shape[2:]
