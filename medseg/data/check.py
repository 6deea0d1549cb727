"""``medseg data check MANIFEST``: validate a manifest and its files, reporting every problem at once.

Errors: schema problems (unknown keys, bad labels/label_map), missing or unreadable files (corrupt or
truncated ``.nii.gz``), and the rules of :mod:`medseg.data.validate` (the same code fit/test/predict run
when they load a subject): shapes, label on the image's grid (voxel for voxel; in world space with
``--reorient_labels true``), integer
label ids covered by ``label_map`` / ``labels``, finite intensities. Warnings: a label without foreground.
A manifest that cannot be parsed at all (missing, JSON syntax error, unset root variable) is a hard
failure: ``SystemExit`` with the message.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import SimpleITK as sitk
from tqdm import tqdm

from .manifest import Manifest, ManifestError, Subject, parse_manifest
from .readers import NIFTI_SUFFIXES, is_dicom_dir, load_volume, sitk_affine
from .validate import AFFINE_TOL, Problem, shape_problem, subject_problems

__all__ = ["AFFINE_TOL", "Problem", "check", "check_manifest", "check_subject", "read_header"]


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


def check_subject(subject: Subject, manifest: Manifest, reorient_labels: bool = False) -> list[Problem]:
    """Every problem with one subject's files: unreadable or wrongly shaped files (from the header, before
    loading), then :func:`medseg.data.validate.subject_problems` on what loaded (the fit/test/predict rules)."""
    problems: list[Problem] = []
    loaded: dict[str, tuple[str, np.ndarray, np.ndarray]] = {}
    for kind, path in (("image", subject.image), ("label", subject.label)):
        if path is None:
            continue
        if not path.exists():
            problems.append(Problem("error", str(path), f"{kind} of subject {subject.id!r}: file not found"))
            continue
        try:
            shape, _ = read_header(path)
        except Exception as error:
            problems.append(Problem("error", str(path), f"cannot read {kind} header ({type(error).__name__}: {error})"))
            continue
        message = shape_problem(shape, manifest.in_channels, kind)
        if message:
            problems.append(Problem("error", str(path), f"{message} ({kind} of subject {subject.id!r})"))
            continue
        try:
            array, affine = load_volume(path)
        except Exception as error:
            problems.append(Problem("error", str(path), f"cannot read {kind} data: {error}"))
            continue
        loaded[kind] = (str(path), array, affine)
    image = loaded.get("image", (None, None, None))
    label = loaded.get("label", (None, None, None))
    return problems + subject_problems(subject.id, *image, manifest.in_channels, *label, manifest.label_map,
                                       manifest.num_classes, reorient_labels)


def check_manifest(
    manifest: str | Path, root: str | None = None, progress: bool = True, reorient_labels: bool = False
) -> list[Problem]:
    """Every problem in a manifest and its files (raises :class:`ManifestError` if it cannot be parsed)."""
    parsed, schema = parse_manifest(manifest, root)
    problems = [Problem("error", str(manifest), p.split(": ", 1)[1] if p.startswith(f"{manifest}: ") else p) for p in schema]
    subjects = [s for split in parsed.splits.values() for s in split]
    for subject in tqdm(subjects, desc="check", unit="subject", disable=not progress):
        problems.extend(check_subject(subject, parsed, reorient_labels))
    return problems


def check(manifest: str, root: str | None = None, reorient_labels: bool = False) -> int:
    """Check MANIFEST and the files it lists; print every problem; return 1 if there are errors, else 0.

    ``root`` overrides the manifest's root folder (see ``data_manifests/README.md``). ``reorient_labels``:
    as ``data.reorient_labels``, accept labels in another voxel order on the image's world grid.
    """
    try:
        problems = check_manifest(manifest, root, reorient_labels=reorient_labels)
    except ManifestError as error:
        raise SystemExit(f"medseg data check: {error}") from None
    for problem in problems:
        print(problem, file=sys.stderr if problem.level == "error" else sys.stdout)
    errors = sum(p.level == "error" for p in problems)
    warnings = len(problems) - errors
    print(f"{manifest}: {errors} error(s), {warnings} warning(s)")
    return 1 if errors else 0
