import numpy as np
import pytest
import torch

from medseg.data.cache import Volume
from medseg.data.sampling import class_balanced_weights, foreground_sampler, slice_presence
from medseg.data.slicing import PatchDataset, SliceDataset


def volume(shape=(6, 40, 6), rare_slice=17):
    """Class 1 in every coronal slice, class 2 only in slice ``rare_slice``."""
    label = np.zeros(shape, np.uint8)
    label[1:5, :, 1:5] = 1
    label[2, rare_slice, 2] = 2
    return Volume("v", np.zeros((1, *shape), np.float32), label, {})


def two_stage_probabilities(presence, fraction):
    """The sampling process spelled out: uniform slice with prob 1-f; else a present class uniformly, then
    a slice containing it uniformly."""
    n = len(presence)
    p = np.full(n, (1 - fraction) / n)
    classes = [c for c in range(1, presence.shape[1]) if presence[:, c].any()]
    for c in classes:
        holders = np.flatnonzero(presence[:, c])
        for i in holders:
            p[i] += fraction / len(classes) / len(holders)
    return p


@pytest.mark.parametrize("fraction", [0.0, 0.3, 1.0])
def test_weights_follow_the_two_stage_process(fraction):
    presence = np.random.default_rng(0).random((30, 5)) < 0.3
    presence[:, 0] = True
    presence[:, 3] = False  # an absent class takes no share
    weights = class_balanced_weights(presence, fraction)
    np.testing.assert_allclose(weights, two_stage_probabilities(presence, fraction), rtol=1e-12)
    assert weights.sum() == pytest.approx(1.0)


def test_sampler_shows_the_rare_slice_often():
    dataset = SliceDataset([volume()], "coronal")
    presence = slice_presence(dataset)
    assert presence[17, 2] and presence[:, 2].sum() == 1 and presence[:, 1].all()
    torch.manual_seed(0)
    assert len(foreground_sampler(dataset, 0.5)) == 40
    draws = np.concatenate([np.array(list(foreground_sampler(dataset, 0.5))) for _ in range(100)])
    expected = 0.5 / 40 + 0.5 / 2 * (1 / 40 + 1)  # ~0.27, against 1/40 when uniform
    assert abs(np.mean(draws == 17) - expected) < 0.04


def test_foreground_patches_contain_the_rare_class():
    label = np.zeros((40, 40, 40), np.uint8)
    label[30:32, 5:7, 33:35] = 3
    vol = Volume("v", np.zeros((1, 40, 40, 40), np.float32), label, {})
    torch.manual_seed(0)
    hits = {f: np.mean([(PatchDataset([vol], (8, 8, 8), 50, foreground=f)[i]["label"] == 3).any().item() for i in range(50)])
            for f in (0.0, 1.0)}  # fmt: skip
    assert hits[1.0] == 1.0 and hits[0.0] < 0.3


def test_datamodule_uses_the_sampler(small_manifest):
    from torch.utils.data import WeightedRandomSampler

    from medseg.data.datamodule import SegmentationDataModule

    dm = SegmentationDataModule(str(small_manifest), foreground_sampling=0.5, batch_size=2)
    assert isinstance(dm.train_dataloader().sampler, WeightedRandomSampler)
    with pytest.raises(ValueError, match="data.foreground_sampling"):
        SegmentationDataModule(str(small_manifest), foreground_sampling=1.5)
