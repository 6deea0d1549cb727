import locale

import numpy as np
import pytest
import SimpleITK as sitk

from medseg.data.readers import load_volume, write_volume

AFFINE = np.array([[-1.5, 0, 0, 10], [0, 0, 2, -5], [0, 1.25, 0, 3], [0, 0, 0, 1.0]])


@pytest.mark.parametrize("suffix", ["nii", "nii.gz", "nrrd", "mha", "mhd"])
def test_round_trip(tmp_path, suffix):
    array = np.random.default_rng(1).normal(size=(9, 10, 11)).astype(np.float32)
    write_volume(tmp_path / f"v.{suffix}", array, AFFINE)
    loaded, affine = load_volume(tmp_path / f"v.{suffix}")
    np.testing.assert_array_equal(loaded[0], array)
    np.testing.assert_allclose(affine, AFFINE, atol=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]


def test_formats_agree_with_simpleitk_physical_points(tmp_path):
    """RAS affine from the NRRD reader maps index -> SimpleITK's LPS point with x, y negated."""
    write_volume(tmp_path / "v.nrrd", np.zeros((4, 5, 6), np.float32), AFFINE)
    image = sitk.ReadImage(str(tmp_path / "v.nrrd"))
    _, affine = load_volume(tmp_path / "v.nrrd")
    lps = np.array(image.TransformIndexToPhysicalPoint((1, 2, 3)))
    ras = affine @ np.array([1, 2, 3, 1.0])
    np.testing.assert_allclose(ras[:3], lps * [-1, -1, 1], atol=1e-6)


def test_dicom_series_folder(tmp_path):
    array = np.random.default_rng(2).integers(-1000, 1000, size=(8, 7, 5)).astype(np.int16)  # (X, Y, Z)
    image = sitk.GetImageFromArray(np.transpose(array, (2, 1, 0)))
    image.SetSpacing((0.8, 0.9, 2.0))
    folder = tmp_path / "dicom"
    folder.mkdir()
    saved_locale = locale.setlocale(locale.LC_ALL)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for z in range(array.shape[2]):
        piece = image[:, :, z]
        piece.SetMetaData("0020|000e", "1.2.826.0.1.3680043.2.1125.1")  # same series
        piece.SetMetaData("0020|0032", f"0\\0\\{2.0 * z}")  # image position
        piece.SetMetaData("0020|0037", "1\\0\\0\\0\\1\\0")
        piece.SetMetaData("0020|0013", str(z))
        piece.SetMetaData("0008|0060", "CT")
        writer.SetFileName(str(folder / f"{z:03d}.dcm"))
        writer.Execute(piece)
    # GDCM's DICOM *writer* (test-only; medseg never writes DICOM) calls setlocale(LC_ALL, "C"), which would
    # turn every later open() in this pytest process to ASCII; put the process locale back
    locale.setlocale(locale.LC_ALL, saved_locale)
    loaded, affine = load_volume(folder)
    assert locale.setlocale(locale.LC_ALL) == saved_locale  # reading DICOM leaves the locale alone
    np.testing.assert_array_equal(loaded[0], array)
    np.testing.assert_allclose(np.abs(np.diag(affine))[:3], [0.8, 0.9, 2.0], atol=1e-4)


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.nii.gz"):
        load_volume(tmp_path / "missing.nii.gz")
    (tmp_path / "v.xyz").write_text("x", encoding="utf-8")
    with pytest.raises(ValueError, match="v.xyz: unsupported"):
        load_volume(tmp_path / "v.xyz")
    write_volume(tmp_path / "t.nii.gz", np.ones((20, 20, 20), np.float32), AFFINE)
    data = (tmp_path / "t.nii.gz").read_bytes()
    (tmp_path / "t.nii.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="t.nii.gz: cannot read"):
        load_volume(tmp_path / "t.nii.gz")
