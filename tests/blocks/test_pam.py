"""PAM (DANet Sec. 3.2): out = gamma * sum_j softmax_j(Q_i . K_j) V_j + X; gamma = 0 at init; O(N^2) limit."""

import pytest
import torch

from medseg.blocks import build_attention
from medseg.blocks.pam import PAM_MAX_ATTENTION_BYTES

from .helpers import DIMS, block, n_params, sample


def project(layer, x):
    """A 1x1 convolution as an einsum: (B, C, N) -> (B, C', N)."""
    return torch.einsum("oc,bcn->bon", layer.weight.flatten(1), x.flatten(2)) + layer.bias[:, None]


def pam_term(b, x):
    q, k, v = project(b.query, x), project(b.key, x), project(b.value, x)
    a = torch.softmax(torch.einsum("bci,bcj->bij", q, k), dim=-1)
    return b.gamma * torch.einsum("bcj,bij->bci", v, a).reshape(x.shape)


@pytest.mark.parametrize("dims", DIMS)
def test_forward_is_the_paper_equation(dims):
    b = block("pam", 16, dims)
    x = sample(16, dims)
    torch.testing.assert_close(b(x), x + pam_term(b, x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("dims", DIMS)
def test_identity_at_init(dims):
    x = sample(16, dims, dtype=torch.float32)
    assert torch.equal(build_attention("pam", 16, dims)(x), x)


@pytest.mark.parametrize("dims", DIMS)
def test_parameter_count_closed_form(dims):
    c, h = 64, 8
    assert n_params(build_attention("pam", c, dims)) == 2 * (c * h + h) + c * c + c + 1


def test_refuses_inputs_above_the_memory_limit():
    small = build_attention("pam", 4, 2, max_attention_bytes=1000)
    with pytest.raises(ValueError) as err:
        small(torch.randn(1, 4, 8, 8))  # 64^2 float32 = 16384 bytes
    msg = str(err.value)
    assert msg.startswith("PAM: input (1, 4, 8, 8) has N = 64 voxels") and "max_attention_bytes" in msg and "O(N^2)" in msg


@pytest.mark.parametrize("shape", [(1, 4, 129, 128), (1, 4, 32, 32, 32)])
def test_default_limit_is_one_gib_of_attention_matrix(shape):
    assert PAM_MAX_ATTENTION_BYTES == 2**30
    b = build_attention("pam", 4, len(shape) - 2)
    with pytest.raises(ValueError, match="above the limit max_attention_bytes = 1.00 GiB"):
        b(torch.zeros(shape))


def test_limit_counts_bf16_under_autocast():
    b = build_attention("pam", 4, 2, max_attention_bytes=64 * 64 * 2)
    with pytest.raises(ValueError):
        b(torch.randn(1, 4, 8, 8))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert b(torch.randn(1, 4, 8, 8)).shape == (1, 4, 8, 8)


@pytest.mark.parametrize("dims", DIMS)
def test_kept_map_is_row_stochastic_n_by_n(dims):
    b = block("pam", 16, dims)
    b.keep_attention = True
    x = sample(16, dims)
    b(x)
    n = x[0, 0].numel()
    assert b.attention_map.shape == (2, n, n)
    torch.testing.assert_close(b.attention_map.sum(-1), torch.ones(2, n, dtype=x.dtype))
