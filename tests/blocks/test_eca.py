"""ECA (Wang et al. 2020, Eq. 12): sigmoid(1D conv across the GAP vector) scales the channels."""

import pytest
import torch

from medseg.blocks import build_attention
from medseg.blocks.eca import eca_kernel_size

from .helpers import DIMS, block, gap, n_params, per_channel, sample


def band_matrix(weight: torch.Tensor, channels: int) -> torch.Tensor:
    """The C x C matrix of a zero-padded 1D cross-correlation: M[i, j] = w[j - i + k // 2]."""
    k = weight.numel()
    m = torch.zeros(channels, channels, dtype=weight.dtype)
    for i in range(channels):
        for j in range(max(0, i - k // 2), min(channels, i + k // 2 + 1)):
            m[i, j] = weight[j - i + k // 2]
    return m


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("kernel_size", [None, 5])
def test_forward_is_the_paper_equation(kernel_size, dims):
    b = block("eca", 16, dims, kernel_size=kernel_size)
    x = sample(16, dims)
    w = torch.sigmoid(gap(x) @ band_matrix(b.weight.flatten(), 16).T)
    torch.testing.assert_close(b(x), x * per_channel(w, x), atol=1e-6, rtol=0)


def test_adaptive_kernel_size_worked_by_hand():
    # (log2 C + 1) / 2 -> int -> next odd: 8 -> 2 -> 3; 64 -> 3; 128 -> 4 -> 5; 512 -> 5; 2048 -> 6 -> 7
    assert [eca_kernel_size(c) for c in (8, 64, 128, 512, 2048)] == [3, 3, 5, 5, 7]


@pytest.mark.parametrize("dims", DIMS)
def test_parameter_count_is_the_kernel_size(dims):
    assert n_params(build_attention("eca", 64, dims)) == 3
    assert n_params(build_attention("eca", 64, dims, kernel_size=7)) == 7


def test_even_kernel_fails():
    with pytest.raises(ValueError, match="^ECA: kernel_size must be an odd positive int, got 4"):
        build_attention("eca", 64, kernel_size=4)
