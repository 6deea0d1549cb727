"""Tiny network settings shared by the nets tests (2-4 channels, depth 2, 3x3 kernels: fast on CPU)."""

import pytest

TINY = {
    "unet": {"features": 2, "kernel_size": 3, "depth": 2},
    "quicknat": {"features": 2, "kernel_size": 3, "depth": 2},
    "sdnet": {"features": 2, "kernel_size": 3, "depth": 2},
    "fcdensenet": {"layers": (1, 1, 1), "growth_rate": 2, "first_features": 4},
}


@pytest.fixture(params=sorted(TINY))
def tiny_name(request):
    return request.param
