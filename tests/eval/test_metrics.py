"""dice_per_structure against SimpleITK and MONAI; surface distances and normalized surface Dice against MONAI."""

import numpy as np
import pytest
import SimpleITK as sitk
import torch
from monai.metrics import DiceMetric, compute_average_surface_distance, compute_hausdorff_distance, compute_surface_dice
from monai.networks.utils import one_hot

from medseg.eval import confusion_matrix, dice_per_structure, mean_foreground, normalized_surface_dice, surface_distances

K = 6


def _volumes(seed, shape=(20, 18, 16), k=K):
    rng = np.random.default_rng(seed)
    ref = rng.integers(0, k, size=shape)
    pred = np.where(rng.random(shape) < 0.6, ref, rng.integers(0, k, size=shape))
    ref[ref == k - 1] = 0  # class k-1: predicted, absent from the reference -> 0
    ref[ref == k - 2] = 0  # class k-2: absent from both -> NaN
    pred[pred == k - 2] = 0
    return pred, ref


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dice_matches_simpleitk_label_overlap(seed):
    pred, ref = _volumes(seed)
    ours = dice_per_structure(pred, ref, K)
    f = sitk.LabelOverlapMeasuresImageFilter()
    f.Execute(sitk.GetImageFromArray(ref.astype(np.int16)), sitk.GetImageFromArray(pred.astype(np.int16)))
    for c in np.union1d(np.unique(ref), np.unique(pred)):
        if c in ref:  # SimpleITK reports labels of the reference ("source") image
            assert ours[c] == pytest.approx(f.GetDiceCoefficient(int(c)), abs=1e-6)
    assert ours[K - 1] == 0.0 and np.isnan(ours[K - 2])


@pytest.mark.parametrize("seed", [3, 4])
def test_dice_matches_monai_dicemetric_on_one_hot(seed):
    pred, ref = _volumes(seed)
    p = one_hot(torch.as_tensor(pred)[None, None], K)
    r = one_hot(torch.as_tensor(ref)[None, None], K)
    monai = DiceMetric(include_background=True, reduction="none", ignore_empty=True)(p, r)[0].numpy()
    ours = dice_per_structure(torch.as_tensor(pred), torch.as_tensor(ref), K)
    present = np.isin(np.arange(K), np.unique(ref))
    np.testing.assert_allclose(ours[present], monai[present], atol=1e-6)
    # documented difference: MONAI gives NaN for any empty reference; we give 0 when the class is predicted
    assert np.isnan(monai[K - 1]) and ours[K - 1] == 0.0


def test_confusion_matrix_counts_every_voxel_once():
    pred, ref = _volumes(5)
    m = confusion_matrix(pred, ref, K)
    assert m.sum() == ref.size
    assert m[2, 3] == np.sum((ref == 2) & (pred == 3))


def test_mean_foreground_excludes_background_and_nan():
    assert mean_foreground(np.array([0.1, 0.5, np.nan, 1.0])) == pytest.approx(0.75)
    assert np.isnan(mean_foreground(np.array([1.0, np.nan])))


def test_bad_inputs_name_the_problem():
    with pytest.raises(ValueError, match="shape"):
        dice_per_structure(np.zeros((2, 2), int), np.zeros((2, 3), int), 2)
    with pytest.raises(ValueError, match=r"\[0, 2\].*max 5"):
        dice_per_structure(np.full((2, 2), 5), np.zeros((2, 2), int), 3)
    with pytest.raises(ValueError, match="integer"):
        dice_per_structure(np.zeros((2, 2)), np.zeros((2, 2), int), 2)


def _blobs(seed, shape=(24, 20, 18)):
    rng = np.random.default_rng(seed)
    grid = np.indices(shape).transpose(1, 2, 3, 0)
    ref, pred = np.zeros(shape, np.int64), np.zeros(shape, np.int64)
    for c in (1, 2):
        centre = rng.uniform(6, 12, size=3)
        ref[np.linalg.norm(grid - centre, axis=-1) < rng.uniform(3, 6)] = c
        pred[np.linalg.norm(grid - centre - rng.uniform(-2, 2, 3), axis=-1) < rng.uniform(3, 6)] = c
    ref[:, :, :2] = 3  # touches the array border
    pred[:, :, :3] = 3
    return pred, ref


@pytest.mark.parametrize("seed", [0, 1])
def test_surface_distances_match_monai_with_spacing(seed):
    pred, ref = _blobs(seed)
    spacing = (1.0, 0.8, 2.5)
    hd, asd = surface_distances(pred, ref, 5, spacing=spacing)
    p = one_hot(torch.as_tensor(pred)[None, None], 5)
    r = one_hot(torch.as_tensor(ref)[None, None], 5)
    m_hd = compute_hausdorff_distance(p, r, include_background=True, percentile=95, spacing=spacing)[0].numpy()
    m_asd = compute_average_surface_distance(p, r, include_background=True, symmetric=True, spacing=spacing)[0].numpy()
    for c in (1, 2, 3):
        assert hd[c] == pytest.approx(m_hd[c], abs=1e-5)
        assert asd[c] == pytest.approx(m_asd[c], abs=1e-5)
    assert np.isnan(hd[4]) and np.isnan(asd[4]) and np.isnan(hd[0])


def _monai_nsd(pred, ref, k, tolerance, spacing):
    p = one_hot(torch.as_tensor(pred)[None, None], k)
    r = one_hot(torch.as_tensor(ref)[None, None], k)
    return compute_surface_dice(p, r, [tolerance] * k, include_background=True, spacing=spacing)[0].double().numpy()


def _cube_and_shifted(n=6, size=12, a=3):
    ref, pred = np.zeros((size,) * 3, np.int64), np.zeros((size,) * 3, np.int64)
    ref[a : a + n, a : a + n, a : a + n] = 1
    pred[a + 1 : a + n + 1, a : a + n, a : a + n] = 1
    return pred, ref


def test_nsd_of_a_cube_shifted_by_one_voxel_has_the_counted_answer():
    """Cube of side n vs the same cube one voxel along x: boundaries have n³ − (n−2)³ voxels each; the voxels on
    both boundaries (distance 0) are those of the n − 1 shared x-layers on a y or z face, (n − 1)(4n − 4) per
    mask; every other boundary voxel is one voxel from the other boundary. So NSD(τ < 1) = (n−1)(4n−4) /
    (n³ − (n−2)³) = 100/152 for n = 6, and NSD(τ ≥ 1) = 1."""
    pred, ref = _cube_and_shifted()
    assert normalized_surface_dice(pred, ref, 2, 0.5)[1] == pytest.approx(100 / 152, abs=1e-12)
    assert normalized_surface_dice(pred, ref, 2, 1.0)[1] == 1.0
    assert _monai_nsd(pred, ref, 2, 0.5, None)[1] == pytest.approx(100 / 152, abs=1e-6)  # the reference agrees
    # 2 mm voxels along x: the one-voxel shift is 2 mm, so 1.5 mm no longer covers the x faces
    assert normalized_surface_dice(pred, ref, 2, 2.0, spacing=(2.0, 1.0, 1.0))[1] == 1.0
    assert normalized_surface_dice(pred, ref, 2, 1.5, spacing=(2.0, 1.0, 1.0))[1] < 1.0


def test_nsd_empty_and_disjoint_classes():
    ref = np.zeros((10, 10, 10), np.int64)
    pred = ref.copy()
    ref[1:3, 1:3, 1:3] = 1
    pred[7:9, 7:9, 7:9] = 1  # far from each other: no boundary voxel within 2 voxels
    ref[5, 5, 5] = 2  # class 2 only in the reference, class 3 in neither
    nsd = normalized_surface_dice(pred, ref, 4, 2.0)
    assert nsd[1] == 0.0 and nsd[2] == 0.0
    assert np.isnan(nsd[0]) and np.isnan(nsd[3])
    assert normalized_surface_dice(ref, ref, 4, 0.0)[1:3].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="tolerance"):
        normalized_surface_dice(pred, ref, 4, -1.0)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("tolerance", [0.0, 1.25, 2.3])  # no voxel distance at this spacing equals these exactly
def test_nsd_matches_monai_compute_surface_dice_with_spacing(seed, tolerance):
    pred, ref = _blobs(seed)
    spacing = (1.0, 0.8, 2.5)
    ours = normalized_surface_dice(pred, ref, 5, tolerance, spacing=spacing)
    theirs = _monai_nsd(pred, ref, 5, tolerance, spacing)
    np.testing.assert_allclose(ours[1:], theirs[1:], atol=1e-6)  # class 4: absent from both, NaN in both
    assert np.isnan(ours[0]) and np.isnan(ours[4])
