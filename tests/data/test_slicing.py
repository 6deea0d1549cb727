import numpy as np
import pytest
import torch

from medseg.data.augment import build_augmentation
from medseg.data.cache import Volume
from medseg.data.slicing import PLANE_AXIS, PatchDataset, SliceDataset, SubjectDataset


def volume(shape=(6, 7, 8)):
    image = np.arange(np.prod(shape), dtype=np.float32).reshape(1, *shape)
    label = np.zeros(shape, np.uint8)
    label[2:4, 3:5, 1:3] = 1
    return Volume("v", image, label, {"affine": np.eye(4)})


@pytest.mark.parametrize("plane", sorted(PLANE_AXIS))
def test_slices_match_numpy_indexing(plane):
    v = volume()
    dataset = SliceDataset([v, v], plane)
    axis = PLANE_AXIS[plane]
    assert len(dataset) == 2 * v.label.shape[axis]
    item = dataset[3]
    np.testing.assert_array_equal(item["image"].numpy(), np.take(v.image, 3, axis=axis + 1))
    np.testing.assert_array_equal(item["label"].numpy(), np.take(v.label, 3, axis=axis))
    assert item["image"].dtype == torch.float32 and item["label"].dtype == torch.int64


@pytest.mark.parametrize("spatial_dims", [2, 3])
def test_augmented_samples_and_batches_are_plain_tensors(spatial_dims):
    # MONAI's transforms return MetaTensors; a batch of them would run MONAI's Python __torch_function__ on
    # every op of the training step
    transform = build_augmentation(["affine", "intensity", "noise"], spatial_dims, prob=1.0)
    torch.manual_seed(0)
    if spatial_dims == 2:
        dataset = SliceDataset([volume()], "axial", transform=transform)
    else:
        dataset = PatchDataset([volume()], (4, 4, 4), samples_per_volume=2, transform=transform)
    batch = torch.utils.data.default_collate([dataset[0], dataset[1]])
    for x in (dataset[0]["image"], dataset[0]["label"], batch["image"], batch["label"]):
        assert type(x) is torch.Tensor
    assert batch["image"].dtype == torch.float32 and batch["label"].dtype == torch.int64


def test_drop_background_slices():
    dataset = SliceDataset([volume()], "axial", drop_background=True)
    assert [int(k) for _, k in dataset.index] == [1, 2]


def test_patches_are_sub_blocks_and_padded():
    v = volume()
    torch.manual_seed(0)
    dataset = PatchDataset([v], (4, 4, 4), samples_per_volume=3)
    assert len(dataset) == 3
    item = dataset[0]
    image = item["image"].numpy()[0]
    corner = np.argwhere(v.image[0] == image[0, 0, 0])[0]
    np.testing.assert_array_equal(image, v.image[0][tuple(slice(c, c + 4) for c in corner)])
    big = PatchDataset([v], (8, 8, 8))[0]
    assert big["image"].shape == (1, 8, 8, 8) and big["label"].shape == (8, 8, 8)


def test_subject_dataset_and_bad_plane():
    item = SubjectDataset([volume()])[0]
    assert item["id"] == "v" and item["image"].shape == (1, 6, 7, 8) and item["label"].dtype == torch.int64
    with pytest.raises(ValueError, match="plane must be one of"):
        SliceDataset([volume()], "transverse")


def test_batched_fetch_equals_per_item_collation():
    from torch.utils.data import default_collate

    from medseg.data.slicing import collate

    dataset = SliceDataset([volume(), volume()], "coronal")
    indices = [0, 9, 3, 12]
    batched = collate(dataset.__getitems__(indices))
    reference = default_collate([dataset[i] for i in indices])
    for key in ("image", "label"):
        assert torch.equal(batched[key], reference[key]) and batched[key].dtype == reference[key].dtype
