"""Losses against independent formulas and MONAI."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.losses import DiceLoss
from scipy import ndimage

from medseg.engine.losses import SegmentationLoss, boundary_mask, class_counts, median_frequency_weights, soft_dice_loss


def _batch(seed, spatial=(9, 11), k=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, k, *spatial, generator=g), torch.randint(0, k, (3, *spatial), generator=g)


@pytest.mark.parametrize("spatial", [(9, 11), (5, 6, 7)])
def test_soft_dice_equals_monai_diceloss(spatial):
    logits, target = _batch(0, spatial)
    monai = DiceLoss(softmax=True, to_onehot_y=True)(logits, target[:, None])
    assert soft_dice_loss(logits, target).item() == pytest.approx(monai.item(), abs=1e-6)


def test_boundary_mask_matches_min_max_filter():
    target = torch.randint(0, 3, (2, 7, 8, 6), generator=torch.Generator().manual_seed(1))
    cross = ndimage.generate_binary_structure(3, 1)
    for b in range(2):
        lab = target[b].numpy()
        expected = ndimage.maximum_filter(lab, footprint=cross, mode="nearest") != ndimage.minimum_filter(
            lab, footprint=cross, mode="nearest"
        )
        np.testing.assert_array_equal(boundary_mask(target)[b].numpy(), expected)


def test_median_frequency_weights():
    counts = class_counts([np.array([0] * 6 + [1] * 3 + [2]), torch.tensor([0, 0, 1])], 4)
    np.testing.assert_array_equal(counts, [8, 4, 1, 0])
    w = median_frequency_weights(counts).numpy()
    np.testing.assert_allclose(w, [4 / 8, 4 / 4, 4 / 1, 0.0])  # median frequency = 4/13 (over present)


def test_weighted_ce_dice_is_the_voxel_weighted_sum():
    logits, target = _batch(2)
    loss = SegmentationLoss("weighted_ce_dice", num_classes=4, boundary_weight=2.0)
    with pytest.raises(RuntimeError, match="class weights"):
        loss(logits, target)
    weights = torch.tensor([0.5, 1.0, 2.0, 3.0])
    loss.set_class_weights(weights)
    logp = logits.log_softmax(1)
    ce = -logp.gather(1, target[:, None])[:, 0]
    w = weights[target] + 2.0 * boundary_mask(target)
    expected = (w * ce).mean() + DiceLoss(softmax=True, to_onehot_y=True)(logits, target[:, None])
    assert loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)
    assert SegmentationLoss("ce", 4)(logits, target).item() == pytest.approx(F.cross_entropy(logits, target).item())


def test_bad_names_and_shapes():
    with pytest.raises(ValueError, match="unknown loss 'focal'.*weighted_ce_dice"):
        SegmentationLoss("focal")
    with pytest.raises(ValueError, match="do not match"):
        SegmentationLoss("ce", 4)(torch.zeros(1, 4, 5, 5), torch.zeros(1, 5, 6, dtype=torch.long))
