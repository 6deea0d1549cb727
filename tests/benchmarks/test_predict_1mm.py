"""``benchmarks/predict_1mm.py``: the padded 256³ input keeps every voxel at its world position."""

import nibabel as nib
import numpy as np
import pytest

from tests.benchmarks.scripts import load_script


def test_padding_keeps_the_brain_where_it_was(tmp_path):
    script = load_script("predict_1mm.py")
    rng = np.random.default_rng(0)
    data = rng.random((5, 7, 4)).astype(np.float32)
    affine = np.array([[0.0, -1.2, 0.0, 10.0], [0.0, 0.0, 0.9, -3.0], [1.1, 0.0, 0.0, 5.0], [0, 0, 0, 1]])
    nib.save(nib.Nifti1Image(data, affine), str(tmp_path / "in.nii.gz"))
    out = nib.load(str(script.padded(tmp_path / "in.nii.gz", tmp_path / "out.nii.gz", 12)))
    grid = np.asarray(out.dataobj)
    assert grid.shape == (12, 12, 12) and np.count_nonzero(grid) == data.size
    for index in [(0, 0, 0), (4, 6, 3), (2, 3, 1)]:
        world = affine @ np.array([*index, 1.0])
        voxel = np.linalg.solve(out.affine, world)[:3]
        np.testing.assert_allclose(voxel, np.round(voxel), atol=1e-4)  # a voxel centre (NIfTI keeps the affine in float32)
        assert grid[tuple(np.round(voxel).astype(int))] == data[index]


def test_a_volume_larger_than_the_grid_is_refused(tmp_path):
    script = load_script("predict_1mm.py")
    nib.save(nib.Nifti1Image(np.zeros((13, 2, 2), np.float32), np.eye(4)), str(tmp_path / "in.nii.gz"))
    with pytest.raises(SystemExit, match="does not fit"):
        script.padded(tmp_path / "in.nii.gz", tmp_path / "out.nii.gz", 12)
