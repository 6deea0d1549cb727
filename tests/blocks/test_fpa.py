"""FPA (PAN, Li et al. 2018): y = up(up(up(x3) + CR5(x2)) + CR7(x1)); out = y * CBR1(X) + relu(conv1(GAP X)).

Parameter gradients in training mode: test_registry's finite-difference check covers every registered block.
"""

import pytest
import torch

from medseg.blocks import build_attention

from .helpers import DIMS, bn, conv, n_params, randomise
from .reference_ops import max_pool_ceil, resize_align_corners

SIZES = {2: (9, 7), 3: (5, 6, 4)}


def conv_relu(layer, x, stride=1):
    c = layer[0]
    return torch.relu(conv(x, c.weight, c.bias, stride=stride, padding=c.weight.shape[-1] // 2))


def fpa_reference(b, x):
    stride = b.down1.pool is False
    down = (lambda t: t) if stride else max_pool_ceil
    s = 2 if stride else 1
    x1 = conv_relu(b.down1.conv, down(x), s)
    x2 = conv_relu(b.down2.conv, down(x1), s)
    x3 = conv_relu(b.down3[1], conv_relu(b.down3[0].conv, down(x2), s))
    y = resize_align_corners(x3, x2.shape[2:]) + conv_relu(b.lateral2, x2)
    y = resize_align_corners(y, x1.shape[2:]) + conv_relu(b.lateral1, x1)
    y = resize_align_corners(y, x.shape[2:])
    if b.expand is not None:
        y = conv(y, b.expand.weight, b.expand.bias)
    master = torch.relu(bn(conv(x, b.master[0].weight, b.master[0].bias), b.master[1]))
    pooled = x.flatten(2).mean(-1)
    g = torch.relu(pooled @ b.pooled.weight.flatten(1).t() + b.pooled.bias)
    g = g[(...,) + (None,) * (x.ndim - 2)]
    if b.fuse is None:
        return y * master + g
    return conv(torch.cat([y * master, g.expand_as(master)], 1), b.fuse.weight, b.fuse.bias)


VARIANTS = [{}, {"downsample": "stride"}, {"mid_channels": 3}, {"global_branch": "concat"}]


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("options", VARIANTS, ids=lambda o: ",".join(o) or "default")
def test_values_and_input_gradient_equal_the_reference(dims, options):
    b = randomise(build_attention("fpa", 6, dims, **options)).double().eval()
    x = torch.randn(2, 6, *SIZES[dims], dtype=torch.float64, requires_grad=True)
    y = b(x)
    ref = fpa_reference(b, x)
    torch.testing.assert_close(y, ref, atol=1e-10, rtol=1e-10)
    w = torch.randn_like(y)
    (g,) = torch.autograd.grad((y * w).sum(), x)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), x)
    torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("dims", DIMS)
def test_batch_of_one_trains_although_the_pyramid_and_global_maps_are_one_voxel(dims):
    """4 voxels per axis -> the 3rd pyramid level is 1 voxel and GAP is 1x1: no norm there, so batch 1 works."""
    b = build_attention("fpa", 8, dims).train()
    x = torch.randn(1, 8, *[4] * dims, requires_grad=True)
    b(x).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_parameter_count_closed_form():
    """master C^2 + C + BN 2C; global C^2 + C; pyramid (m = 1): 7^2+1, 5^2+1, 3^2+1 (x2), 7^2+1, 5^2+1 + 49 C."""
    c = 32
    pyramid = 49 * c + 1 + (25 + 1) + 2 * (9 + 1) + (49 + 1) + (25 + 1)
    assert n_params(build_attention("fpa", c, 2)) == (c * c + c + 2 * c) + (c * c + c) + pyramid


@pytest.mark.parametrize("bad, match", [({"downsample": "avg"}, "downsample must be one of maxpool, stride"),
                                        ({"global_branch": "mul"}, "global_branch must be one of add, concat"),
                                        ({"mid_channels": 0}, "mid_channels must be a positive int")])
def test_bad_options_fail_at_build(bad, match):
    with pytest.raises(ValueError, match=f"^FPA: {match}"):
        build_attention("fpa", 8, 2, **bad)
