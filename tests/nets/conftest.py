"""Tiny network settings shared by the nets tests (2-4 channels, depth 2, 3x3 kernels: fast on CPU)."""

import pytest
import torch

TINY = {
    "unet": {"features": 2, "kernel_size": 3, "depth": 2},
    "quicknat": {"features": 2, "kernel_size": 3, "depth": 2},
    "sdnet": {"features": 2, "kernel_size": 3, "depth": 2},
    "fcdensenet": {"layers": (1, 1, 1), "growth_rate": 2, "first_features": 4},
}


@pytest.fixture(params=sorted(TINY))
def tiny_name(request):
    return request.param


def conv_params(c_in: int, c_out: int, kernel: int, dims: int = 2) -> int:
    """Weights + bias of a convolution, counted by hand."""
    return c_in * c_out * kernel**dims + c_out


def quicknat_params(c_in: int, classes: int, f: int, k: int, depth: int, dims: int = 2) -> int:
    """QuickNAT as in DESIGN.md: (BN-ReLU-conv) x3 dense blocks, conv+BN bottleneck, 1x1 head."""

    def dense(c: int) -> int:
        return 2 * c + conv_params(c, f, k, dims) + 2 * (c + f) + conv_params(c + f, f, k, dims) + 2 * (c + 2 * f) + conv_params(c + 2 * f, f, 1, dims)

    return dense(c_in) + (depth - 1) * dense(f) + conv_params(f, f, k, dims) + 2 * f + depth * dense(2 * f) + conv_params(f, classes, 1, dims)


def scse_params(c: int, reduction: int = 2) -> int:
    """cSE (two FC layers with bias) + sSE (1x1 conv C -> 1): C^2 + 2.5 C + 1 for r = 2."""
    h = c // reduction
    return (c * h + h) + (h * c + c) + (c + 1)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny tensors: one intra-op thread avoids OpenMP synchronisation cost on a shared CPU (8x faster here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
