"""DANet's head (Fu et al. 2019, the authors' DANetHead): branch convs around PAM / CAM, three classifiers."""

import pytest
import torch

from medseg.blocks import build_attention

from .helpers import DIMS, SPATIAL, bn, conv, n_params, randomise
from .test_cam import cam_term
from .test_pam import pam_term


def cbr3(layer, x):
    return torch.relu(bn(conv(x, layer[0].weight, padding=1), layer[1]))


def head_reference(b, x):
    f_p = cbr3(b.position_in, x)
    p = cbr3(b.position_out, f_p + pam_term(b.pam, f_p))
    f_c = cbr3(b.channel_in, x)
    c = cbr3(b.channel_out, f_c + cam_term(b.cam, f_c))
    fused = p + c
    logits = {k: conv(v, b.classifiers[k][1].weight, b.classifiers[k][1].bias) for k, v in
              (("fused", fused), ("position", p), ("channel", c))}
    return conv(fused, b.proj.weight, b.proj.bias), logits


@pytest.mark.parametrize("dims", DIMS)
def test_output_and_branch_logits_equal_the_reference(dims):
    b = build_attention("danet_head", 16, dims)
    b.build_auxiliary(3)
    b = randomise(b).double().eval()
    b.emit_auxiliary = True
    x = torch.randn(2, 16, *SPATIAL[dims], dtype=torch.float64, requires_grad=True)
    y = b(x)
    ref, logits = head_reference(b, x)
    torch.testing.assert_close(y, ref, atol=1e-10, rtol=1e-10)
    assert set(b.auxiliary) == {"fused", "position", "channel"}
    for k, v in logits.items():
        torch.testing.assert_close(b.auxiliary[k], v, atol=1e-10, rtol=1e-10)
    w = torch.randn_like(y)
    (g,) = torch.autograd.grad((y * w).sum() + b.auxiliary["position"].sum(), x)
    (g_ref,) = torch.autograd.grad((ref * w).sum() + logits["position"].sum(), x)
    torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-10)


def test_parameter_count_and_pam_limit():
    c, m, h, k = 64, 16, 2, 5
    pam = 2 * (m * h + h) + m * m + m + 1
    expected = 2 * (9 * c * m + 2 * m) + pam + 1 + 2 * (9 * m * m + 2 * m) + (m * c + c)
    b = build_attention("danet_head", c, 2)
    assert n_params(b) == expected
    b.build_auxiliary(k)
    assert n_params(b) == expected + 3 * (m * k + k)
    with pytest.raises(ValueError, match="^PAM: input"):
        build_attention("danet_head", 8, 2, max_attention_bytes=1000)(torch.randn(1, 8, 8, 8))
