"""Volume readers: NIfTI through nibabel, NRRD/MHA/MHD and DICOM series folders through SimpleITK.

Both go through MONAI ``LoadImage``; :class:`SimpleITKReader` is a MONAI ``ImageReader`` (MONAI's own
``ITKReader`` needs the ``itk`` package). Every reader returns a channel-first array in the file's voxel
order with a RAS affine (ITK's LPS world coordinates are flipped to RAS: diag(-1, -1, 1)).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

import nibabel as nib
import numpy as np
import SimpleITK as sitk
from monai.data import ImageReader, NibabelReader
from monai.transforms import LoadImage
from monai.utils import MetaKeys, SpaceKeys

NIFTI_SUFFIXES = (".nii", ".nii.gz")
SITK_SUFFIXES = (".nrrd", ".nhdr", ".mha", ".mhd")
LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


def is_dicom_dir(path: str | os.PathLike) -> bool:
    return Path(path).is_dir() and bool(sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(path)))


def sitk_affine(image: sitk.Image) -> np.ndarray:
    """4x4 RAS affine of a SimpleITK image (index order x, y, z)."""
    dim = image.GetDimension()
    direction = np.asarray(image.GetDirection(), dtype=np.float64).reshape(dim, dim)[:3, :3]
    spacing = np.asarray(image.GetSpacing(), dtype=np.float64)[:3]
    affine = np.eye(4)
    affine[:3, :3] = direction * spacing
    affine[:3, 3] = np.asarray(image.GetOrigin(), dtype=np.float64)[:3]
    return LPS_TO_RAS @ affine


class SimpleITKReader(ImageReader):
    """MONAI ``ImageReader`` for everything SimpleITK reads, DICOM series folders included."""

    def verify_suffix(self, filename: Sequence[os.PathLike] | os.PathLike) -> bool:
        names = [filename] if isinstance(filename, (str, os.PathLike)) else list(filename)
        return all(str(n).lower().endswith(SITK_SUFFIXES) or Path(n).is_dir() for n in names)

    def read(self, data: Sequence[os.PathLike] | os.PathLike, **kwargs: Any) -> sitk.Image:
        path = str(data if isinstance(data, (str, os.PathLike)) else data[0])
        if Path(path).is_dir():
            series = sitk.ImageSeriesReader.GetGDCMSeriesIDs(path)
            if not series:
                raise ValueError(f"{path}: folder holds no DICOM series")
            reader = sitk.ImageSeriesReader()
            reader.SetFileNames(sitk.ImageSeriesReader.GetGDCMSeriesFileNames(path, series[0]))
            return reader.Execute()
        return sitk.ReadImage(path)

    def get_data(self, img: sitk.Image) -> tuple[np.ndarray, dict]:
        array = sitk.GetArrayFromImage(img)  # (z, y, x[, c])
        dim = img.GetDimension()
        vector = img.GetNumberOfComponentsPerPixel() > 1
        spatial = array.ndim - int(vector)
        array = np.transpose(array, tuple(reversed(range(spatial))) + ((spatial,) if vector else ()))
        affine = sitk_affine(img) if dim >= 3 else np.eye(4)
        header = {
            MetaKeys.AFFINE: affine,
            MetaKeys.ORIGINAL_AFFINE: affine.copy(),
            MetaKeys.SPATIAL_SHAPE: np.asarray(array.shape[:spatial]),
            MetaKeys.SPACE: SpaceKeys.RAS,
            MetaKeys.ORIGINAL_CHANNEL_DIM: -1 if vector else float("nan"),
        }
        return array, header


def reader_for(path: str | os.PathLike) -> ImageReader:
    """The MONAI reader for a path: nibabel for NIfTI, SimpleITK otherwise."""
    name = str(path).lower()
    if name.endswith(NIFTI_SUFFIXES):
        return NibabelReader()
    if name.endswith(SITK_SUFFIXES) or Path(path).is_dir():
        return SimpleITKReader()
    raise ValueError(
        f"{path}: unsupported file type; expected one of {NIFTI_SUFFIXES + SITK_SUFFIXES} or a DICOM series folder"
    )


def load_volume(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """``(array, affine)``: array channel-first ``(C, X, Y, Z)``, RAS affine. Errors name the file."""
    if not Path(path).exists():
        raise FileNotFoundError(f"{path}: file not found")
    loader = LoadImage(reader=reader_for(path), image_only=True, ensure_channel_first=True, simple_keys=True)
    try:
        image = loader(str(path))
    except Exception as error:  # corrupt or truncated files raise many kinds of errors
        raise ValueError(f"{path}: cannot read volume ({type(error).__name__}: {error})") from error
    return image.numpy(), np.asarray(image.affine, dtype=np.float64)


def write_volume(path: str | os.PathLike, array: np.ndarray, affine: np.ndarray) -> None:
    """Write a 3D ``(X, Y, Z)`` array with a RAS affine; the format follows the suffix.

    Atomic: written into a temporary folder beside ``path``, then moved with ``os.replace`` (for
    ``.mhd`` the ``.raw`` data file first, the header last).
    """
    path = Path(path)
    name = path.name.lower()
    suffix = next((s for s in (".nii.gz", ".nii") + SITK_SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        raise ValueError(f"{path}: unsupported file type for writing; expected {NIFTI_SUFFIXES + SITK_SUFFIXES}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tmp-", dir=path.parent) as tmp:
        target = Path(tmp) / path.name
        if suffix in NIFTI_SUFFIXES:
            nib.save(nib.Nifti1Image(np.asarray(array), np.asarray(affine, dtype=np.float64)), str(target))
        else:
            sitk.WriteImage(to_sitk(array, affine), str(target))
        for extra in sorted(Path(tmp).iterdir(), key=lambda p: p.name == path.name):
            os.replace(extra, path.parent / extra.name)


def to_sitk(array: np.ndarray, affine: np.ndarray) -> sitk.Image:
    """A SimpleITK image from an ``(X, Y, Z)`` array and a RAS affine (no shear)."""
    lps = LPS_TO_RAS @ np.asarray(affine, dtype=np.float64)
    spacing = np.linalg.norm(lps[:3, :3], axis=0)
    image = sitk.GetImageFromArray(np.ascontiguousarray(np.transpose(array, (2, 1, 0))))
    image.SetSpacing(spacing.tolist())
    image.SetOrigin(lps[:3, 3].tolist())
    image.SetDirection((lps[:3, :3] / spacing).flatten().tolist())
    return image
