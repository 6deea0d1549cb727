"""DANet block: X + PAM term + CAM term, i.e. PAM(X) + CAM(X) - X; identity at init."""

import pytest
import torch

from medseg.blocks import build_attention

from .helpers import DIMS, block, n_params, sample
from .test_cam import cam_term
from .test_pam import pam_term


@pytest.mark.parametrize("dims", DIMS)
def test_forward_sums_both_attention_terms_on_one_residual(dims):
    b = block("danet", 16, dims)
    x = sample(16, dims)
    y = b(x)
    torch.testing.assert_close(y, x + pam_term(b.pam, x) + cam_term(b.cam, x), atol=1e-6, rtol=0)
    torch.testing.assert_close(y, b.pam(x) + b.cam(x) - x, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dims", DIMS)
def test_identity_at_init(dims):
    x = sample(16, dims, dtype=torch.float32)
    assert torch.equal(build_attention("danet", 16, dims)(x), x)


@pytest.mark.parametrize("dims", DIMS)
def test_parameter_count_is_pam_plus_cam(dims):
    c, h = 64, 8
    assert n_params(build_attention("danet", c, dims)) == 2 * (c * h + h) + c * c + c + 1 + 1


def test_pam_limit_applies():
    with pytest.raises(ValueError, match="^PAM: input"):
        build_attention("danet", 4, max_attention_bytes=1000)(torch.randn(1, 4, 8, 8))


def test_kept_maps():
    b = block("danet", 16, 2)
    b.keep_attention = True
    b(sample(16, 2))
    assert b.attention_map["position"].shape == (2, 30, 30) and b.attention_map["channel"].shape == (2, 16, 16)
