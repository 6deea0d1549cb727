"""PSANet block (Zhao et al. 2018), bi-directional: against a reference built on the kernel loops."""

import pytest
import torch

from medseg.blocks import build_attention

from .helpers import DIMS, bn, conv, n_params, randomise
from .psamask_loops import psa_mask_loops
from .reference_ops import resize_align_corners

SIZES = {2: (7, 5), 3: (5, 3, 4)}


def cbr(layer, x):
    return torch.relu(bn(conv(x, layer[0].weight), layer[1]))


def psanet_reference(b, x):
    size = [(n - 1) // b.shrink_factor + 1 for n in x.shape[2:]]
    zs = []
    for reduce, attend, kind in ((b.reduce_collect, b.attention_collect, "collect"),
                                 (b.reduce_distribute, b.attention_distribute, "distribute")):
        feats = resize_align_corners(cbr(reduce, x), size)
        logits = conv(cbr(attend[0], feats), attend[1].weight)
        if b.compact:
            y = logits.flatten(2) if kind == "collect" else logits.flatten(2).transpose(1, 2)
        else:
            y = psa_mask_loops(logits, b.mask_size, kind)
        if b.softmax:
            y = y.exp() / y.exp().sum(dim=1, keepdim=True)
        z = torch.einsum("bcq,bqp->bcp", feats.flatten(2), y) / b.normalization_factor
        zs.append(z.reshape(feats.shape))
    out = resize_align_corners(cbr(b.proj, torch.cat(zs, 1)), x.shape[2:])
    return cbr(b.fuse, torch.cat([x, out], 1))


VARIANTS = {
    "full mask": {"mask_size": 7},
    "partial even mask": {"mask_size": 4},
    "no shrink, no softmax, normalised": {"shrink_factor": 1, "softmax": False, "normalization_factor": 9.0, "mask_size": 5},
    "compact": {"compact": True},
}


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_values_and_input_gradient_equal_the_reference(dims, variant):
    options = dict(VARIANTS[variant])
    if variant == "compact":
        options["mask_size"] = tuple((n - 1) // 2 + 1 for n in SIZES[dims])
    b = randomise(build_attention("psanet", 8, dims, **options)).double().eval()
    x = torch.randn(2, 8, *SIZES[dims], dtype=torch.float64, requires_grad=True)
    y, ref = b(x), psanet_reference(b, x)
    torch.testing.assert_close(y, ref, atol=1e-10, rtol=1e-10)
    w = torch.randn_like(y)
    (g,) = torch.autograd.grad((y * w).sum(), x)
    (g_ref,) = torch.autograd.grad((ref * w).sum(), x)
    torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-10)


def test_parameter_count_closed_form():
    """Per branch: C m + 2m (reduce) + m^2 + 2m + m M (attention); proj 2m C + 2C; fuse 2C C + 2C."""
    c, m, mask = 32, 8, 15 * 15
    branch = c * m + 2 * m + m * m + 2 * m + m * mask
    assert n_params(build_attention("psanet", c, 2)) == 2 * branch + (2 * m * c + 2 * c) + (2 * c * c + 2 * c)


def test_memory_limit_and_compact_size_errors():
    b = build_attention("psanet", 4, 2, max_attention_bytes=10_000)
    with pytest.raises(ValueError, match=r"^PSANet: input \(1, 4, 16, 16\) shrinks to \(8, 8\) \(N = 64\)"):
        b(torch.randn(1, 4, 16, 16))
    with pytest.raises(ValueError, match=r"compact mode needs mask_size equal to the shrunk map size \(3, 3\)"):
        build_attention("psanet", 4, 2, compact=True, mask_size=4)(torch.randn(1, 4, 5, 5))
    with pytest.raises(ValueError, match="^PSANet: mask_size must be"):
        build_attention("psanet", 4, 3, mask_size=(3, 3))


def test_kept_map_is_the_central_targets_collect_attention():
    b = randomise(build_attention("psanet", 4, 2, mask_size=7)).double().eval()
    b.keep_attention = True
    b(torch.randn(1, 4, 7, 7, dtype=torch.float64))
    centre = b.attention_map["collect_centre"]
    assert centre.shape == (1, 1, 4, 4)
    torch.testing.assert_close(centre.sum(), torch.tensor(1.0, dtype=torch.float64))  # a softmax over sources
