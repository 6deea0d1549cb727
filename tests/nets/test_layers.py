import pytest
import torch

from medseg.nets.layers import MaxPoolDown, MaxUnpoolUp, TransposedUp, fit_to


@pytest.mark.parametrize("shape", [(181, 217), (45, 54, 45), (7, 8, 9)])
def test_unpool_restores_odd_sizes_and_puts_maxima_back(shape):
    dims = len(shape)
    x = torch.randn(2, 3, *shape)
    pooled, indices = MaxPoolDown(dims)(x)
    up = MaxUnpoolUp(dims)(pooled, indices, x.shape[2:])
    assert up.shape == x.shape
    # independent check: every 2x..2 window of the cropped input has its max at the unpooled position
    even = [2 * (s // 2) for s in shape]
    crop = x[(..., *[slice(0, e) for e in even])]
    unfolded = crop
    for axis in range(dims):
        unfolded = unfolded.unfold(2 + axis, 2, 2)
    window_max = unfolded.reshape(*unfolded.shape[: 2 + dims], -1).amax(-1)
    assert torch.equal(pooled, window_max)
    nonzero = up != 0
    assert torch.equal(up[nonzero], x[nonzero])
    assert int(nonzero.sum()) == pooled.numel()


@pytest.mark.parametrize("kernel_size", [2, 3])
@pytest.mark.parametrize("size", [(9, 10), (5, 6, 7)])
def test_transposed_up_matches_skip_size(kernel_size, size):
    dims = len(size)
    x = torch.randn(1, 4, *[s // 2 for s in size])
    up = TransposedUp(dims, 4, 3, kernel_size)
    assert up.conv(x).shape[2:] == tuple(2 * (s // 2) for s in size)
    assert up(x, None, size).shape == (1, 3, *size)


def test_fit_to_pads_with_zeros_at_the_end_and_crops():
    x = torch.ones(1, 1, 2, 3)
    padded = fit_to(x, (3, 3))
    assert padded.shape == (1, 1, 3, 3) and padded[0, 0, 2].abs().sum() == 0 and padded[0, 0, :2].eq(1).all()
    assert fit_to(x, (2, 2)).shape == (1, 1, 2, 2)
