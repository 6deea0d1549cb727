"""``medseg data check MANIFEST``: validate a manifest and its files, reporting every problem at once.

Errors: schema problems (unknown keys, bad labels/label_map), missing or unreadable files (corrupt or
truncated ``.nii.gz``), images that are not 3D (or 4D with one channel per modality), image/label shape
mismatch, affine mismatch (largest absolute difference of the 4x4 affines above ``AFFINE_TOL`` = 1e-3,
in mm for the translation and mm per voxel for the columns), label ids not covered (not a key of
``label_map``, or not a class id in ``labels`` when there is no ``label_map``), NaN/Inf intensities.
Warnings: a label volume without foreground. A manifest that cannot be parsed at all (missing, JSON
syntax error, unset root variable) is a hard failure: ``SystemExit`` with the message.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk
from tqdm import tqdm

from .manifest import Manifest, ManifestError, Subject, parse_manifest
from .readers import NIFTI_SUFFIXES, is_dicom_dir, load_volume, sitk_affine

AFFINE_TOL = 1e-3


@dataclass(frozen=True)
class Problem:
    level: str  # "error" | "warning"
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper()}: {self.file}: {self.message}"


def read_header(path: Path) -> tuple[tuple[int, ...], np.ndarray]:
    """``(shape, RAS affine)`` from the header only (file voxel order x, y, z[, c])."""
    if str(path).lower().endswith(NIFTI_SUFFIXES):
        image = nib.load(str(path))
        return tuple(int(s) for s in image.shape), np.asarray(image.affine, dtype=np.float64)
    if path.is_dir():
        if not is_dicom_dir(path):
            raise ValueError("folder holds no DICOM series")
        names = sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(path), sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(path))[0])
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(names)
        image = reader.Execute()
        shape = image.GetSize() + ((image.GetNumberOfComponentsPerPixel(),) if image.GetNumberOfComponentsPerPixel() > 1 else ())
        return tuple(shape), sitk_affine(image)
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    reader.ReadImageInformation()
    dim = reader.GetDimension()
    affine = np.eye(4)
    if dim >= 3:
        image = sitk.Image([1, 1, 1], sitk.sitkUInt8)
        image.SetSpacing(reader.GetSpacing()[:3])
        image.SetOrigin(reader.GetOrigin()[:3])
        image.SetDirection(np.asarray(reader.GetDirection()).reshape(dim, dim)[:3, :3].flatten().tolist())
        affine = sitk_affine(image)
    components = reader.GetNumberOfComponents()
    return tuple(reader.GetSize()) + ((components,) if components > 1 else ()), affine


def _check_shape(path: Path, shape: tuple[int, ...], channels: int, kind: str) -> str | None:
    if len(shape) == 3 or (len(shape) == 4 and shape[3] == (channels if kind == "image" else 1)):
        return None
    expected = "3D (X, Y, Z)" + (f" or 4D with {channels} channel(s)" if kind == "image" else " or 4D with one channel")
    return f"{kind} must be {expected}, got {len(shape)}D shape {shape}"


def check_subject(subject: Subject, manifest: Manifest) -> list[Problem]:
    """Every problem with one subject's files."""
    problems: list[Problem] = []
    headers = {}
    for kind, path in (("image", subject.image), ("label", subject.label)):
        if path is None:
            continue
        if not path.exists():
            problems.append(Problem("error", str(path), f"{kind} of subject {subject.id!r}: file not found"))
            continue
        try:
            shape, affine = read_header(path)
        except Exception as error:
            problems.append(Problem("error", str(path), f"cannot read {kind} header ({type(error).__name__}: {error})"))
            continue
        message = _check_shape(path, shape, manifest.in_channels, kind)
        if message:
            problems.append(Problem("error", str(path), message))
            continue
        try:
            array, _ = load_volume(path)
        except Exception as error:
            problems.append(Problem("error", str(path), f"cannot read {kind} data: {error}"))
            continue
        headers[kind] = (shape[:3], affine, path)
        if kind == "image" and not np.isfinite(array).all():
            bad = int((~np.isfinite(array)).sum())
            problems.append(Problem("error", str(path), f"image has {bad} NaN/Inf voxel(s)"))
        if kind == "label":
            problems.extend(_check_label_ids(path, array, manifest))
    if "image" in headers and "label" in headers:
        (ishape, iaff, ipath), (lshape, laff, lpath) = headers["image"], headers["label"]
        if ishape != lshape:
            problems.append(Problem("error", str(lpath), f"label shape {lshape} differs from image shape {ishape} ({ipath})"))
        elif np.abs(iaff - laff).max() > AFFINE_TOL:
            diff = float(np.abs(iaff - laff).max())
            problems.append(
                Problem("error", str(lpath), f"label affine differs from image affine ({ipath}) by {diff:.4g} > {AFFINE_TOL}")
            )
    return problems


def _check_label_ids(path: Path, array: np.ndarray, manifest: Manifest) -> list[Problem]:
    if not np.all(np.mod(array, 1) == 0):
        return [Problem("error", str(path), "label volume has non-integer values")]
    ids = np.unique(array.astype(np.int64))
    if manifest.label_map is not None:
        known = set(manifest.label_map) | {0}
        where = "label_map keys (raw ids)"
        foreground = any(manifest.label_map.get(int(i), 0) for i in ids)
    else:
        known = set(range(manifest.num_classes))
        where = f"class ids 0..{manifest.num_classes - 1} of 'labels'"
        foreground = bool((ids > 0).any())
    unknown = [int(i) for i in ids if int(i) not in known]
    problems = []
    if unknown:
        shown = unknown[:20] + (["..."] if len(unknown) > 20 else [])
        problems.append(Problem("error", str(path), f"unknown label id(s) {shown}, not in {where}"))
    if not foreground:
        problems.append(Problem("warning", str(path), "label volume is empty (no foreground class)"))
    return problems


def check_manifest(manifest: str | Path, root: str | None = None, progress: bool = True) -> list[Problem]:
    """Every problem in a manifest and its files (raises :class:`ManifestError` if it cannot be parsed)."""
    parsed, schema = parse_manifest(manifest, root)
    problems = [Problem("error", str(manifest), p.split(": ", 1)[1] if p.startswith(f"{manifest}: ") else p) for p in schema]
    subjects = [s for split in parsed.splits.values() for s in split]
    for subject in tqdm(subjects, desc="check", unit="subject", disable=not progress):
        problems.extend(check_subject(subject, parsed))
    return problems


def check(manifest: str, root: str | None = None) -> int:
    """Check MANIFEST and the files it lists; print every problem; return 1 if there are errors, else 0.

    ``root`` overrides the manifest's root folder (see ``data_manifests/README.md``).
    """
    try:
        problems = check_manifest(manifest, root)
    except ManifestError as error:
        raise SystemExit(f"medseg data check: {error}") from None
    for problem in problems:
        print(problem, file=sys.stderr if problem.level == "error" else sys.stdout)
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    print(f"{manifest}: {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0
