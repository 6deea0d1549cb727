import pytest
import torch

from medseg.data.augment import AUGMENTATIONS, build_augmentation


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_each_augmentation_keeps_shapes_and_label_set(name, spatial_dims):
    transform = build_augmentation([name], spatial_dims, prob=1.0)
    transform.set_random_state(0)
    shape = (16,) * spatial_dims
    label = torch.zeros(1, *shape)
    label[(0, *[slice(4, 12)] * spatial_dims)] = 3
    image = torch.rand(1, *shape)
    out = transform({"image": image, "label": label})
    assert out["image"].shape == image.shape and out["label"].shape == label.shape
    assert set(torch.unique(out["label"]).tolist()) <= {0.0, 3.0}  # nearest: no new label values
    if name in ("intensity", "noise", "bias_field"):
        assert torch.equal(out["label"], label) and not torch.equal(out["image"], image)


def test_unknown_augmentation():
    with pytest.raises(ValueError, match="unknown augmentation.*'flip'"):
        build_augmentation(["flip"], 2)
    assert build_augmentation([], 2) is None
