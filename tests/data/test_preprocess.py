import nibabel as nib
import numpy as np
import pytest
import torch

from medseg.data.preprocess import Preprocessing, preprocess_image, preprocess_subject, to_original_grid
from medseg.data.readers import write_volume

LSA = np.array([[-1.5, 0, 0, 10], [0, 0, 2, -5], [0, 1.0, 0, 3], [0, 0, 0, 1.0]])


@pytest.fixture
def volume(tmp_path):
    rng = np.random.default_rng(3)
    image = rng.uniform(-50, 300, (10, 12, 14)).astype(np.float32)
    label = rng.choice([0, 7, 9], size=(10, 12, 14)).astype(np.uint16)
    write_volume(tmp_path / "i.nii.gz", image, LSA)
    write_volume(tmp_path / "l.nii.gz", label, LSA)
    return tmp_path, image, label


def test_orientation_matches_nibabel_canonical(volume):
    root, image, label = volume
    out, lab, meta = preprocess_subject(str(root / "i.nii.gz"), str(root / "l.nii.gz"), Preprocessing(normalize="none"), {7: 1, 9: 2})
    canonical = nib.as_closest_canonical(nib.Nifti1Image(image, LSA))
    np.testing.assert_allclose(out[0], canonical.get_fdata(), rtol=1e-6)
    np.testing.assert_allclose(meta["affine"], canonical.affine, atol=1e-6)
    expected = np.select([label == 7, label == 9], [1, 2], 0)
    np.testing.assert_array_equal(lab, np.asarray(nib.as_closest_canonical(nib.Nifti1Image(expected.astype(np.uint8), LSA)).dataobj))
    assert meta["original_orientation"] == "LSA" and tuple(meta["original_shape"]) == (10, 12, 14)


@pytest.mark.parametrize(
    "options, reference",
    [
        ({"normalize": "minmax"}, lambda x: (x - x.min()) / (x.max() - x.min())),
        ({"normalize": "zscore"}, lambda x: (x - x.mean()) / x.std()),
        ({"normalize": "window", "window": (0.0, 100.0)}, lambda x: np.clip(x / 100.0, 0, 1)),
    ],
)
def test_intensity_normalisation(volume, options, reference):
    root, image, _ = volume
    out, _, _ = preprocess_subject(str(root / "i.nii.gz"), None, Preprocessing(orientation=None, **options), None)
    np.testing.assert_allclose(out[0], reference(image.astype(np.float64)), atol=1e-5)


def test_spacing_and_conform(volume):
    root, _, _ = volume
    out, lab, meta = preprocess_subject(str(root / "i.nii.gz"), str(root / "l.nii.gz"), Preprocessing(spacing=1.0, conform=16), {7: 1})
    assert out.shape == (1, 16, 16, 16) and lab.shape == (16, 16, 16)
    np.testing.assert_allclose(np.abs(np.diag(meta["affine"]))[:3], 1.0, atol=1e-6)
    assert set(np.unique(lab)) <= {0, 1}


def test_inverse_restores_original_grid(volume):
    root, _, label = volume
    _, lab, meta = preprocess_subject(str(root / "i.nii.gz"), str(root / "l.nii.gz"), Preprocessing(), {7: 1, 9: 2})
    expected = np.select([label == 7, label == 9], [1, 2], 0)
    np.testing.assert_array_equal(to_original_grid(lab, meta), expected)
    batched = {k: torch.as_tensor(v)[None] for k, v in meta.items() if k != "filename" and k != "original_orientation"}
    probabilities = np.stack([lab == c for c in range(3)]).astype(np.float32)
    np.testing.assert_array_equal(to_original_grid(torch.from_numpy(probabilities), batched, order=1).argmax(0), expected)


def test_preprocess_image_for_predict(volume):
    root, _, _ = volume
    image, meta = preprocess_image(str(root / "i.nii.gz"))
    assert image.shape == (1, 1, 10, 14, 12) and image.dtype == torch.float32
    assert meta["filename"].endswith("i.nii.gz")


def test_bad_options():
    with pytest.raises(ValueError, match="normalize"):
        Preprocessing(normalize="histogram")
    with pytest.raises(ValueError, match="window"):
        Preprocessing(window=(5.0, 1.0))
