"""Per-structure overlap and surface-distance metrics on whole label volumes.

Dice for every class comes from ONE confusion matrix, built with a single ``np.bincount`` over
``ref * K + pred`` (rows = reference, columns = prediction): Dice_c = 2 TP_c / (2 TP_c + FP_c + FN_c).
Empty-class convention (as nnU-Net, DESIGN.md §2): absent from both → NaN (excluded from means);
absent from the reference but predicted → 0.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy import ndimage


def _as_labels(x: np.ndarray | torch.Tensor, what: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.dtype.kind not in "iub":
        raise ValueError(f"{what}: expected an integer label array, got dtype {x.dtype}")
    return x


def confusion_matrix(
    prediction: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor, num_classes: int
) -> np.ndarray:
    """(K, K) int64 voxel counts, ``[reference class, predicted class]``, from one ``np.bincount``."""
    pred = _as_labels(prediction, "prediction")
    ref = _as_labels(reference, "reference")
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} != reference shape {ref.shape}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    for name, x in (("prediction", pred), ("reference", ref)):
        if x.size and (x.min() < 0 or x.max() >= num_classes):
            raise ValueError(
                f"{name}: labels must lie in [0, {num_classes - 1}] for num_classes={num_classes}, "
                f"got min {x.min()} max {x.max()}"
            )
    # the smallest integer type that holds K*K keeps the index array (and its memory traffic) small
    index_dtype = np.uint16 if num_classes * num_classes <= np.iinfo(np.uint16).max else np.int64
    index = ref.astype(index_dtype, copy=False).ravel() * index_dtype(num_classes)
    index += pred.astype(index_dtype, copy=False).ravel()
    counts = np.bincount(index, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64, copy=False)


def dice_from_confusion(matrix: np.ndarray) -> np.ndarray:
    """Dice per class from a confusion matrix; NaN where the class is absent from both volumes."""
    matrix = np.asarray(matrix, dtype=np.float64)
    tp = np.diag(matrix)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)  # (TP + FP) + (TP + FN)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2.0 * tp / denominator, np.nan)


def dice_per_structure(
    prediction: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor, num_classes: int
) -> np.ndarray:
    """Dice for every class id (float64, length ``num_classes``; NaN = absent from both)."""
    return dice_from_confusion(confusion_matrix(prediction, reference, num_classes))


def mean_foreground(scores: np.ndarray) -> float:
    """Mean over foreground classes (index ≥ 1), NaN classes excluded; NaN if none is defined."""
    foreground = np.asarray(scores, dtype=np.float64)[1:]
    return float(np.nanmean(foreground)) if np.isfinite(foreground).any() else float("nan")


def _surface(mask: np.ndarray) -> np.ndarray:
    """Boundary voxels: the mask minus its erosion (voxels on the array border count as boundary)."""
    return mask & ~ndimage.binary_erosion(mask)


def _checked_pair(prediction, reference, spacing) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    pred = _as_labels(prediction, "prediction")
    ref = _as_labels(reference, "reference")
    if pred.shape != ref.shape:
        raise ValueError(f"prediction shape {pred.shape} != reference shape {ref.shape}")
    spacing = tuple(float(s) for s in (spacing if spacing is not None else [1.0] * ref.ndim))
    if len(spacing) != ref.ndim:
        raise ValueError(f"spacing {spacing} has {len(spacing)} values for a {ref.ndim}D volume")
    return pred, ref, spacing


def _boundary_distances(p: np.ndarray, r: np.ndarray, spacing: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``(d(pred→ref), d(ref→pred))``: for each boundary voxel of one mask, the distance to the nearest boundary
    voxel of the other (both masks non-empty). Cropped to the bounding box of both masks plus one voxel, which
    is exact and keeps 256³ volumes fast."""
    box = ndimage.find_objects((p | r).astype(np.uint8))[0]
    box = tuple(slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(box, r.shape))
    sp, sr = _surface(p[box]), _surface(r[box])
    to_ref = ndimage.distance_transform_edt(~sr, sampling=spacing)[sp]
    to_pred = ndimage.distance_transform_edt(~sp, sampling=spacing)[sr]
    return to_ref, to_pred


def surface_distances(
    prediction: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    num_classes: int,
    spacing: Sequence[float] | None = None,
    percentile: float = 95.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-class (HD_p, ASSD) in the units of ``spacing`` (mm), float64 arrays of length ``num_classes``.

    With d(A→B) the distances from each boundary voxel of A to the nearest boundary voxel of B:
    HD_p = max(P_p d(pred→ref), P_p d(ref→pred)) and ASSD = mean(d(pred→ref) ∪ d(ref→pred)) — the
    definitions of MONAI ``compute_hausdorff_distance(percentile=p)`` and
    ``compute_average_surface_distance(symmetric=True)``. NaN where the class is missing from either
    volume (the distance is undefined). Index 0 (background) is NaN.
    """
    pred, ref, spacing = _checked_pair(prediction, reference, spacing)
    hd = np.full(num_classes, np.nan)
    asd = np.full(num_classes, np.nan)
    for c in range(1, num_classes):
        p, r = pred == c, ref == c
        if not p.any() or not r.any():
            continue
        to_ref, to_pred = _boundary_distances(p, r, spacing)
        hd[c] = max(np.percentile(to_ref, percentile), np.percentile(to_pred, percentile))
        asd[c] = np.concatenate([to_ref, to_pred]).mean()
    return hd, asd


def check_surface_dice_tolerance(tolerance: float, what: str = "surface Dice tolerance") -> None:
    """The NSD tolerance is a finite number of mm >= 0 (checked before training, and at every use)."""
    if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not np.isfinite(tolerance) or tolerance < 0:
        raise ValueError(f"{what} must be a finite number of mm >= 0, got {tolerance!r}")


def normalized_surface_dice(
    prediction: np.ndarray | torch.Tensor,
    reference: np.ndarray | torch.Tensor,
    num_classes: int,
    tolerance: float,
    spacing: Sequence[float] | None = None,
) -> np.ndarray:
    """Per-class normalized surface Dice at ``tolerance`` (in the units of ``spacing``, mm), float64, length
    ``num_classes`` (Nikolov et al. 2021, "Clinically applicable segmentation of head and neck anatomy for
    radiotherapy", J Med Internet Res 23(7):e26151, §Methods "Surface DSC"):

    NSD_τ = (|{d ∈ d(pred→ref) : d ≤ τ}| + |{d ∈ d(ref→pred) : d ≤ τ}|) / (|S_pred| + |S_ref|),

    the boundary counted in voxels — MONAI ``compute_surface_dice(use_subvoxels=False)``. As there: NaN where
    the class is absent from both volumes, 0 where it is in only one. Index 0 (background) is NaN.
    """
    check_surface_dice_tolerance(tolerance)
    pred, ref, spacing = _checked_pair(prediction, reference, spacing)
    nsd = np.full(num_classes, np.nan)
    for c in range(1, num_classes):
        p, r = pred == c, ref == c
        if p.any() and r.any():
            to_ref, to_pred = _boundary_distances(p, r, spacing)
            nsd[c] = (np.count_nonzero(to_ref <= tolerance) + np.count_nonzero(to_pred <= tolerance)) / (to_ref.size + to_pred.size)
        elif p.any() or r.any():
            nsd[c] = 0.0
    return nsd
