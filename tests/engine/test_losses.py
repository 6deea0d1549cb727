"""Losses against independent formulas and MONAI."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from monai.losses import DiceLoss
from scipy import ndimage

from medseg.engine.losses import SegmentationLoss, boundary_mask, class_counts, median_frequency_weights, soft_dice_loss
from medseg.engine.module import SegmentationModule


def _batch(seed, spatial=(9, 11), k=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, k, *spatial, generator=g), torch.randint(0, k, (3, *spatial), generator=g)


@pytest.mark.parametrize("spatial", [(9, 11), (5, 6, 7)])
def test_soft_dice_equals_monai_diceloss(spatial):
    logits, target = _batch(0, spatial)
    monai = DiceLoss(softmax=True, to_onehot_y=True)(logits, target[:, None])
    assert soft_dice_loss(logits, target).item() == pytest.approx(monai.item(), abs=1e-6)


def _absent_in_some_samples(spatial):
    """float64 logits; class 3 only in sample 1, class 2 absent from sample 0: per-sample and batch Dice differ."""
    logits, target = _batch(3, spatial)
    target = torch.where(target == 3, 1, target)
    target[1].view(-1)[:5] = 3
    target[0] = torch.where(target[0] == 2, 0, target[0])
    return logits.double(), target


@pytest.mark.parametrize("spatial", [(9, 11), (5, 6, 7)])
def test_batch_dice_equals_monai_batch_diceloss(spatial):
    logits, target = _absent_in_some_samples(spatial)
    for batch in (False, True):
        monai = DiceLoss(softmax=True, to_onehot_y=True, batch=batch)(logits, target[:, None])
        assert soft_dice_loss(logits, target, batch=batch).item() == pytest.approx(monai.item(), abs=1e-12)
        wired = SegmentationLoss("dice", num_classes=4, batch_dice=batch)(logits, target)
        assert wired.item() == pytest.approx(monai.item(), abs=1e-12)


def test_per_sample_dice_charges_absent_classes_until_they_saturate():
    """An absent class's per-sample term 1 − ε/(Σp+ε) stays ~1 for any Σp ≫ ε: the loss is at least their share."""
    logits, target = _absent_in_some_samples((9, 11))
    absent = F.one_hot(target, 4).movedim(-1, 1).sum((2, 3)) == 0  # (sample, class) pairs with no voxel
    assert absent.any() and not absent.all(0).any()  # some pairs absent, but every class somewhere in the batch
    assert logits.softmax(1).sum((2, 3)).min() > 1e-3  # Σp over 99 pixels ≫ ε = 1e-5: no class saturated
    share = absent.double().mean().item()
    assert soft_dice_loss(logits, target).item() >= 0.999 * share  # every term ≥ 0, each absent one ≥ 0.999


def test_module_builds_the_loss_the_config_names():
    logits, target = _absent_in_some_samples((9, 11))
    net = {"name": "unet", "options": {"features": 4, "depth": 2, "kernel_size": 3}}
    for batch in (False, True):
        module = SegmentationModule(network=net, num_classes=4, loss={"name": "dice", "batch_dice": batch})
        expected = DiceLoss(softmax=True, to_onehot_y=True, batch=batch)(logits, target[:, None])
        assert module.criterion(logits, target).item() == pytest.approx(expected.item(), abs=1e-12)


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


@pytest.mark.parametrize("name", ["ce", "weighted_ce", "dice", "ce_dice", "weighted_ce_dice"])
def test_each_name_has_exactly_its_terms(name):
    logits, target = _batch(4)
    weights = torch.tensor([0.5, 1.0, 2.0, 3.0])
    ce = F.cross_entropy(logits, target)
    wce = (F.cross_entropy(logits, target, reduction="none") * (weights[target] + 2.0 * boundary_mask(target))).mean()
    dice = DiceLoss(softmax=True, to_onehot_y=True)(logits, target[:, None])
    expected = {"ce": ce, "weighted_ce": wce, "dice": dice, "ce_dice": ce + dice, "weighted_ce_dice": wce + dice}[name]
    loss = SegmentationLoss(name, num_classes=4)
    if name.startswith("weighted"):
        loss.set_class_weights(weights)
    assert loss(logits, target).item() == pytest.approx(expected.item(), rel=1e-6)
