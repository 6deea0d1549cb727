"""psa_mask (pure-PyTorch PSAMask) equals the loop transcription of the official CPU kernel."""

import pytest
import torch

from medseg.blocks.psamask import psa_mask

from .psamask_loops import psa_mask_loops

CASES = {
    "full 2D (2h-1, 2w-1)": ((5, 4), (9, 7)),
    "partial 2D (3x5 on 5x4)": ((5, 4), (3, 5)),
    "even 2D (4x6, half = 1, 2)": ((5, 4), (4, 6)),
    "over-covering 2D": ((3, 2), (9, 9)),
    "full 3D": ((3, 4, 2), (5, 7, 3)),
    "partial even 3D": ((3, 4, 2), (2, 3, 4)),
}


@pytest.mark.parametrize("psa_type", ["collect", "distribute"])
@pytest.mark.parametrize("case", list(CASES))
def test_equals_the_official_kernel_loops(case, psa_type):
    spatial, mask = CASES[case]
    m = torch.randn(2, mask[0] * mask[1] * (mask[2] if len(mask) == 3 else 1), *spatial, dtype=torch.float64)
    torch.testing.assert_close(psa_mask(m, mask, psa_type), psa_mask_loops(m, mask, psa_type), atol=0, rtol=0)


def test_distribute_is_the_transpose_of_collect_and_full_masks_cover_every_pair():
    m = torch.randn(1, 9 * 7, 5, 4, dtype=torch.float64)
    collect = psa_mask(m, (9, 7), "collect")
    torch.testing.assert_close(psa_mask(m, (9, 7), "distribute"), collect.transpose(1, 2))
    assert (collect != 0).all()  # full mask: every (q, p) offset inside
    partial = psa_mask(m[:, :15], (3, 5), "collect")
    assert (partial == 0).any()


def test_gradient_is_the_kernels_scatter():
    """d(sum Y * W)/dm equals the loop version's gradient (the official backward reads the same indices)."""
    m = torch.randn(2, 12, 3, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, 12, 12, dtype=torch.float64)
    (g,) = torch.autograd.grad((psa_mask(m, (3, 4), "distribute") * w).sum(), m)
    (g_ref,) = torch.autograd.grad((psa_mask_loops(m, (3, 4), "distribute") * w).sum(), m)
    torch.testing.assert_close(g, g_ref, atol=0, rtol=0)


def test_bad_channels_and_type_are_reported():
    with pytest.raises(ValueError, match="does not have prod"):
        psa_mask(torch.randn(1, 10, 3, 3), (3, 3))
    with pytest.raises(ValueError, match="psa_type must be one of collect, distribute"):
        psa_mask(torch.randn(1, 9, 3, 3), (3, 3), "both")
