"""PSA (EPSANet Sec. 3.2-3.3): multi-kernel grouped branches, shared SE, softmax across branches."""

import math

import pytest
import torch
import torch.nn.functional as F

from medseg.blocks import build_attention

from .helpers import DIMS, block, conv, gap, n_params, per_channel, sample


def reference(b, x):
    feats = [conv(x, br.weight, padding=br.weight.shape[-1] // 2, groups=br.groups) for br in b.branches]
    l1, l2 = b.se[0], b.se[2]
    z = [torch.sigmoid(F.linear(F.relu(F.linear(gap(f), l1.weight, l1.bias)), l2.weight, l2.bias)) for f in feats]
    e = torch.stack([torch.exp(zi) for zi in z])
    att = e / e.sum(0)
    return torch.cat([f * per_channel(a, x) for f, a in zip(feats, att)], 1)


@pytest.mark.parametrize("dims", DIMS)
def test_forward_is_the_paper_equation(dims):
    b = block("psa", 64, dims, kernel_sizes=(3, 5, 7, 9) if dims == 2 else (1, 3, 3, 5))
    x = sample(64, dims)
    torch.testing.assert_close(b(x), reference(b, x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("dims", DIMS)
def test_parameter_count_closed_form(dims):
    c = 64
    split, hidden = c // 4, max(1, (c // 4) // 16)
    convs = sum(k**dims * c * split // g for k, g in zip((3, 5, 7, 9), (1, 4, 8, 16)))
    se = split * hidden + hidden + hidden * split + split
    assert n_params(build_attention("psa", c, dims)) == convs + se


def test_groups_rule_for_narrow_layers():
    b = build_attention("psa", 16)
    assert b.groups == tuple(math.gcd(g, 4) for g in (1, 4, 8, 16)) == (1, 4, 4, 4)
    assert build_attention("psa", 64).groups == (1, 4, 8, 16)


def test_channels_not_divisible_by_branches_fail():
    with pytest.raises(ValueError, match="^PSA: channels must be divisible by the number of branches 4, got channels=18"):
        build_attention("psa", 18)


def test_kept_map_is_a_softmax_across_branches():
    b = block("psa", 16, 2)
    b.keep_attention = True
    b(sample(16, 2))
    assert b.attention_map.shape == (2, 4, 4)
    torch.testing.assert_close(b.attention_map.sum(1), torch.ones(2, 4, dtype=torch.float64))
