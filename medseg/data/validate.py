"""The data rules, in one place: ``medseg data check`` reports them, fit/test/predict raise on them.

- shape: an image is 3D ``(X, Y, Z)`` or 4D with the manifest's channel count; a label 3D (or 4D with 1).
- geometry: the label must have the image's shape and affine within ``AFFINE_TOL`` (1e-3: mm for the
  translation, mm per voxel for the columns), voxel for voxel; any disagreement is an error, as in
  nnU-Net (``verify_geometry``) and TorchIO (``Subject.check_consistent_space``). A label stored in another
  voxel order on the same world grid (e.g. LPS-ordered beside an RAS image) is indistinguishable from a
  mirrored header (the x row of the affine negated on an origin-centred grid), so it is accepted only
  with ``reorient_labels=True`` (``data.reorient_labels``): both grids are then put in a canonical voxel
  order (axes permuted and flipped by ``nibabel.orientations``), compared, and the label is reordered to
  the image's voxel order (issue 25 defect 10).
- label values: integers; every raw id a key of ``label_map`` (or 0), or without ``label_map`` a class id
  ``< num_classes``. A label without foreground is a warning (an error for training with
  ``drop_background_slices`` when every training label is empty: no slice is left).
- image values: finite.
- affine (image and label): finite, with three independent voxel axes of non-zero length; a zero or
  singular affine has no world geometry, so nothing can be oriented or resampled (issue 25 defect 20).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from nibabel import orientations

AFFINE_TOL = 1e-3


@dataclass(frozen=True)
class Problem:
    level: str  # "error" | "warning"
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper()}: {self.file}: {self.message}"


class DataError(ValueError):
    """Bad input data found while loading; the message names each file, its subject and what is wrong."""


def raise_errors(problems: list[Problem]) -> None:
    """Raise :class:`DataError` listing every error (warnings are ignored)."""
    errors = [p for p in problems if p.level == "error"]
    if errors:
        raise DataError("\n".join(f"{p.file}: {p.message}" for p in errors))


def shape_problem(shape: tuple[int, ...], channels: int, kind: str) -> str | None:
    """Why a file-order shape ``(X, Y, Z[, C])`` is not a valid ``kind`` (image|label), or None."""
    if len(shape) == 3 or (len(shape) == 4 and shape[3] == (channels if kind == "image" else 1)):
        return None
    expected = "3D (X, Y, Z)" + (f" or 4D with {channels} channel(s)" if kind == "image" else " or 4D with one channel")
    return f"{kind} must be {expected}, got {len(shape)}D shape {tuple(shape)}"


def affine_problem(affine: np.ndarray | None, kind: str) -> str | None:
    """Why a ``kind`` (image|label) file's 4x4 affine gives no usable voxel grid, or None: non-finite
    entries, a voxel axis of zero length, or axes that are not independent (|det| below 1e-6 of the
    product of the axis lengths)."""
    if affine is None:
        return None
    affine = np.asarray(affine, dtype=np.float64)
    if not np.isfinite(affine).all():
        return f"{kind} affine has NaN/Inf entries: the header has no usable geometry"
    axes = affine[:3, :3]
    lengths = np.linalg.norm(axes, axis=0)
    if (lengths <= 1e-8).any() or abs(np.linalg.det(axes)) <= 1e-6 * float(np.prod(lengths)):
        return (f"{kind} affine is singular (voxel axis lengths {np.round(lengths, 6).tolist()} mm, determinant "
                f"{np.linalg.det(axes):.3g}): the header has no usable geometry; write a valid qform/sform "
                "(voxel spacing and directions) into the file")
    return None


def _canonical(shape: tuple[int, ...], affine: np.ndarray) -> tuple[tuple[int, ...], np.ndarray]:
    """Shape and affine of the same grid with its voxel axes permuted/flipped to the closest RAS order."""
    ornt = orientations.io_orientation(affine)
    new_affine = affine @ orientations.inv_ornt_aff(ornt, shape)
    new_shape = tuple(int(shape[int(i)]) for i in np.argsort(ornt[:, 0]))
    return new_shape, new_affine


def _grid_mismatch(
    image_shape: tuple[int, ...], image_affine: np.ndarray, label_shape: tuple[int, ...], label_affine: np.ndarray,
    image: str, canonical: bool,
) -> str | None:
    ishape, iaff = tuple(image_shape[:3]), np.asarray(image_affine, dtype=np.float64)
    lshape, laff = tuple(label_shape[:3]), np.asarray(label_affine, dtype=np.float64)
    if canonical:
        (ishape, iaff), (lshape, laff) = _canonical(ishape, iaff), _canonical(lshape, laff)
    if ishape != lshape:
        order = ", also in canonical voxel order" if canonical else ""
        return f"label shape {tuple(label_shape[:3])} differs from image shape {tuple(image_shape[:3])} ({image}){order}"
    diff = float(np.abs(iaff - laff).max())
    if diff > AFFINE_TOL:
        return (
            f"label affine differs from image affine ({image}) by {diff:.4g} > {AFFINE_TOL} "
            f"(label axes {''.join(orientations.aff2axcodes(label_affine))}, "
            f"image axes {''.join(orientations.aff2axcodes(image_affine))}): the label is not on the image's grid"
        )
    return None


def grid_problem(
    image_shape: tuple[int, ...], image_affine: np.ndarray, label_shape: tuple[int, ...], label_affine: np.ndarray,
    image: str, reorient_labels: bool = False,
) -> str | None:
    """Why the label grid is not the image grid, or None: voxel for voxel by default, in world space (voxel
    order may differ) with ``reorient_labels``."""
    args = (image_shape, image_affine, label_shape, label_affine, image)
    problem = _grid_mismatch(*args, canonical=reorient_labels)
    if problem and not reorient_labels and _grid_mismatch(*args, canonical=True) is None:
        problem += ("; it covers the image's world grid in another voxel order (or its header is mirrored): "
                    "if this dataset stores its labels so, set data.reorient_labels: true "
                    "(medseg data check --reorient_labels true)")
    return problem


def reorient_like(array: np.ndarray, affine: np.ndarray, target_affine: np.ndarray) -> np.ndarray:
    """``array`` (``(C, X, Y, Z)``, on ``affine``) in the voxel order of ``target_affine`` (same world grid)."""
    transform = orientations.ornt_transform(orientations.io_orientation(affine), orientations.io_orientation(target_affine))
    return np.stack([orientations.apply_orientation(channel, transform) for channel in array])


def label_problems(path: str, array: np.ndarray, label_map: dict[int, int] | None, num_classes: int, subject: str) -> list[Problem]:
    """Non-integer values, ids not covered by ``label_map`` / the class ids, and (warning) no foreground."""
    who = f" (label of subject {subject!r})"
    if not np.all(np.mod(array, 1) == 0):
        bad = np.asarray(array)[np.mod(array, 1) != 0]
        return [Problem("error", path, f"label volume has non-integer values (e.g. {float(bad.flat[0]):g}){who}; labels must be integer ids")]
    ids = np.unique(np.asarray(array).astype(np.int64))
    if label_map is not None:
        known = set(label_map) | {0}
        expected = "label_map keys (raw ids)"
        foreground = any(label_map.get(int(i), 0) for i in ids)
    else:
        known = set(range(num_classes))
        expected = f"class ids 0..{num_classes - 1} of 'labels'"
        foreground = bool((ids > 0).any())
    unknown = [int(i) for i in ids if int(i) not in known]
    problems = []
    if unknown:
        shown = unknown[:20] + (["..."] if len(unknown) > 20 else [])
        problems.append(Problem("error", path, f"unknown label id(s) {shown}, not in {expected}{who}"))
    if not foreground:
        problems.append(Problem("warning", path, f"label volume is empty (no foreground class){who}"))
    return problems


def image_problems(path: str, array: np.ndarray, subject: str) -> list[Problem]:
    """NaN/Inf intensities."""
    finite = np.isfinite(array)
    if finite.all():
        return []
    return [Problem("error", path, f"image has {int((~finite).sum())} NaN/Inf voxel(s) (image of subject {subject!r})")]


def file_shape(array: np.ndarray) -> tuple[int, ...]:
    """The file-order shape ``(X, Y, Z[, C])`` of a channel-first loaded array, as :func:`shape_problem` reads it."""
    return tuple(array.shape[1:]) + ((array.shape[0],) if array.shape[0] > 1 else ())


def subject_problems(
    subject: str,
    image: str | None,
    image_array: np.ndarray | None,
    image_affine: np.ndarray | None,
    in_channels: int,
    label: str | None = None,
    label_array: np.ndarray | None = None,
    label_affine: np.ndarray | None = None,
    label_map: dict[int, int] | None = None,
    num_classes: int | None = None,
    reorient_labels: bool = False,
) -> list[Problem]:
    """Every rule for one loaded subject, in one place (``medseg data check`` and fit/test/predict both call
    this): shapes, image values, label values (when ``num_classes`` is known), label grid = image grid
    (in world space, voxel order free, with ``reorient_labels``).
    A wrongly shaped file gets no further checks; a file that could not be read (``None``) neither."""
    problems: list[Problem] = []
    image_ok = label_ok = image_array is not None
    if image_array is not None:
        message = shape_problem(file_shape(image_array), in_channels, "image") or affine_problem(image_affine, "image")
        if message:
            problems.append(Problem("error", image, f"{message} (image of subject {subject!r})"))
            image_ok = False
        else:
            problems += image_problems(image, image_array, subject)
    if label is None or label_array is None:
        return problems
    label_ok = True
    message = shape_problem(file_shape(label_array), 1, "label") or affine_problem(label_affine, "label")
    if message:
        problems.append(Problem("error", label, f"{message} (label of subject {subject!r})"))
        label_ok = False
    elif num_classes is not None:
        problems += label_problems(label, label_array, label_map, num_classes, subject)
    if image_ok and label_ok:
        grid = grid_problem(image_array.shape[1:], image_affine, label_array.shape[1:], label_affine, image,
                            reorient_labels)
        if grid:
            problems.append(Problem("error", label, f"{grid} (subject {subject!r})"))
    return problems
