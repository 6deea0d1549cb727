import numpy as np
import pytest
import torch

from medseg.data import SegmentationDataModule
from medseg.data.slicing import PLANE_AXIS


def test_properties_without_loading(small_manifest):
    dm = SegmentationDataModule(str(small_manifest))
    assert (dm.num_classes, dm.class_names, dm.in_channels, dm.spatial_dims, dm.plane) == (2, ["background", "thing"], 1, 2, "coronal")
    assert dm.cache._volumes == {}


@pytest.mark.parametrize("plane", sorted(PLANE_AXIS))
def test_2d_batches_each_plane(small_manifest, plane):
    dm = SegmentationDataModule(str(small_manifest), plane=plane, batch_size=5)
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert sum(len(b["label"]) for b in batches) == 2 * 16
    batch = batches[0]
    assert batch["image"].shape == (5, 1, 16, 16) and batch["image"].dtype == torch.float32
    assert batch["label"].shape == (5, 16, 16) and batch["label"].dtype == torch.int64
    assert set(torch.cat([b["label"].flatten() for b in batches]).tolist()) == {0, 1}  # raw 2 -> class 1


def test_3d_patches_and_whole_subject_loaders(small_manifest):
    dm = SegmentationDataModule(str(small_manifest), spatial_dims=3, patch_size=(8, 8, 8), samples_per_volume=2, batch_size=2, augmentation=["affine", "intensity"])
    batch = next(iter(dm.train_dataloader()))
    assert batch["image"].shape == (2, 1, 8, 8, 8) and batch["label"].shape == (2, 8, 8, 8)
    val = list(dm.val_dataloader())
    assert len(val) == 1 and val[0]["id"] == ["s2"] and val[0]["image"].shape == (1, 1, 16, 16, 16)
    assert val[0]["label"].shape == (1, 16, 16, 16) and val[0]["meta"]["original_affine"].shape == (1, 4, 4)
    pred = next(iter(dm.predict_dataloader()))
    assert pred["id"] == ["s3"] and "label" not in pred and pred["meta"]["filename"][0].endswith("s3_img.nii.gz")


def test_drop_background_and_folds(small_manifest):
    dm = SegmentationDataModule(str(small_manifest), plane="axial", drop_background_slices=True, batch_size=64)
    assert len(dm.train_dataloader().dataset) == 2 * 4  # label spans axial slices 6..9
    folds = [SegmentationDataModule(str(small_manifest), fold=k, num_folds=3) for k in range(3)]
    validation = sorted(s.id for dm in folds for s in dm.splits["validation"])
    assert validation == ["s0", "s1", "s2"]  # each pooled subject validates exactly once


def test_disk_cache_is_reused(small_manifest, tmp_path):
    cache = tmp_path / "cache"
    first = SegmentationDataModule(str(small_manifest), cache="disk", cache_dir=str(cache))
    first.setup("fit")
    files = sorted(p.name for p in cache.iterdir())
    assert len([f for f in files if f.endswith(".json")]) == 3
    second = SegmentationDataModule(str(small_manifest), cache="disk", cache_dir=str(cache), cache_dtype="float32")
    volume = second.volumes("training")[0]
    assert isinstance(volume.image, np.memmap) and sorted(p.name for p in cache.iterdir()) == files
    np.testing.assert_array_equal(volume.image, first.volumes("training")[0].image)
    half = SegmentationDataModule(str(small_manifest), cache="disk", cache_dir=str(cache), cache_dtype="float16").volumes("training")[0]
    assert half.image.dtype == np.float16 and np.allclose(half.image, volume.image, atol=1e-3)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"plane": "transverse"}, "data.plane"), ({"spatial_dims": 4}, "spatial_dims"), ({"fold": 7}, "data.fold"),
     ({"cache": "disk"}, "cache_dir"), ({"normalize": "hist"}, "normalize"), ({"augmentation": ["flip"]}, "flip")],
)
def test_bad_arguments(small_manifest, kwargs, message):
    with pytest.raises(ValueError, match=message):
        SegmentationDataModule(str(small_manifest), **kwargs)


@pytest.mark.slow
def test_workers_share_cached_volumes(small_manifest):
    dm = SegmentationDataModule(str(small_manifest), num_workers=2, batch_size=8)
    assert sum(len(b["label"]) for b in dm.train_dataloader()) == 32
