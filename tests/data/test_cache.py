"""The disk cache detects a damaged entry and rebuilds it (issue 25 defect 21)."""

import warnings

import numpy as np
import pytest

from medseg.data.datamodule import SegmentationDataModule


def _volumes(manifest, cache):
    return SegmentationDataModule(str(manifest), cache="disk", cache_dir=str(cache)).volumes("training")


def _memory(manifest):
    return SegmentationDataModule(str(manifest)).volumes("training")


@pytest.mark.parametrize("damage", ["truncate image", "truncate label", "delete label", "garbage json",
                                    "other shape"])
def test_issue25_defect21_damaged_disk_cache_entry_is_rebuilt(small_manifest, tmp_path, damage):
    cache = tmp_path / "cache"
    _volumes(small_manifest, cache)
    target = sorted(cache.glob(f"*.{'label' if 'label' in damage else 'image'}.npy"))[0]
    if damage.startswith("truncate"):
        target.write_bytes(target.read_bytes()[:-100])  # a copy cut short, a full disk
    elif damage == "delete label":
        target.unlink()
    elif damage == "garbage json":
        target.with_name(target.name.split(".")[0] + ".json").write_text('{"me', encoding="utf-8")
    else:  # a valid .npy of another shape in its place
        np.save(target, np.zeros((1, 4, 4, 4), np.float32))
    with pytest.warns(UserWarning, match=r"entry .* of subject s\d is damaged.*rebuilding it"):
        healed = _volumes(small_manifest, cache)
    for volume, reference in zip(healed, _memory(small_manifest)):  # equal to a fresh preprocessing
        np.testing.assert_array_equal(volume.image, reference.image)
        np.testing.assert_array_equal(volume.label, reference.label)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # healed for good: the next load warns no more
        _volumes(small_manifest, cache)
