"""Preprocessing as MONAI transforms, and its inverse for predictions.

Order: label remap (``label_map``) -> canonical orientation (RAS) -> optional resampling to ``spacing`` mm
(bilinear image, nearest label) -> optional conform to ``conform`` voxels (centred crop/pad, as QuickNAT's
256³ at 1 mm) -> intensity normalisation: ``minmax`` (per volume to [0, 1], QuickNAT), ``zscore``
(per channel), ``window`` (CT window ``[lo, hi]`` HU -> [0, 1], clipped) or ``none``.

``preprocess_image(path, ...)`` loads one file for ``medseg predict``; ``to_original_grid(pred, meta)``
maps a prediction back onto the file's voxel grid: for each original voxel i, ``j = P⁻¹ O i`` (O, P the
original and preprocessed affines), sampled nearest (labels) or linear (probabilities).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Hashable, Mapping, Sequence

import nibabel as nib
import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import (
    Compose,
    MapTransform,
    NormalizeIntensityd,
    Orientationd,
    ResizeWithPadOrCropd,
    ScaleIntensityd,
    ScaleIntensityRanged,
    Spacingd,
)
from scipy import ndimage

from .labels import remap_labels
from .readers import load_volume
from .validate import raise_errors, reorient_like, subject_problems

NORMALIZATIONS = ("minmax", "zscore", "window", "none")


class RemapLabelsd(MapTransform):
    """Raw label ids -> class ids through a lookup table (raw ids missing from ``label_map`` -> 0)."""

    def __init__(self, keys: Sequence[str] | str, label_map: dict[int, int] | None) -> None:
        super().__init__(keys)
        self.label_map = label_map

    def __call__(self, data: Mapping[Hashable, Any]) -> dict[Hashable, Any]:
        d = dict(data)
        for key in self.key_iterator(d):
            value = d[key]
            mapped = remap_labels(np.asarray(value), self.label_map)
            d[key] = MetaTensor(mapped, meta=value.meta) if isinstance(value, MetaTensor) else mapped
        return d


@dataclass(frozen=True)
class Preprocessing:
    """The preprocessing options (the YAML ``data:`` keys of the same names)."""

    orientation: str | None = "RAS"
    spacing: float | tuple[float, float, float] | None = None
    conform: int | tuple[int, int, int] | None = None
    normalize: str = "minmax"
    window: tuple[float, float] = (-1000.0, 1000.0)

    def __post_init__(self) -> None:
        if self.normalize not in NORMALIZATIONS:
            raise ValueError(f"normalize must be one of {NORMALIZATIONS}, got {self.normalize!r}")
        if self.window[0] >= self.window[1]:
            raise ValueError(f"window must be (lo, hi) with lo < hi, got {self.window}")

    def describe(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> "Preprocessing":
        """From the ``data:`` options of the same names (YAML lists become tuples; absent keys keep the defaults):
        the one mapping from a config to the preprocessing, for training and for ``medseg predict -i``."""
        def value(key: str) -> Any:
            v = options[key]
            return tuple(v) if isinstance(v, Sequence) and not isinstance(v, str) else v

        return cls(**{f.name: value(f.name) for f in fields(cls) if f.name in options})

    def transform(self, label_map: dict[int, int] | None, with_label: bool) -> Compose:
        keys = ["image", "label"] if with_label else ["image"]
        modes = ["bilinear", "nearest"][: len(keys)]
        steps: list[Any] = [RemapLabelsd("label", label_map)] if with_label else []
        if self.orientation:
            steps.append(Orientationd(keys, axcodes=self.orientation, labels=(("L", "R"), ("P", "A"), ("I", "S"))))
        if self.spacing is not None:
            pixdim = (self.spacing,) * 3 if np.isscalar(self.spacing) else tuple(self.spacing)
            steps.append(Spacingd(keys, pixdim=pixdim, mode=modes))
        if self.conform is not None:
            size = (self.conform,) * 3 if np.isscalar(self.conform) else tuple(self.conform)
            steps.append(ResizeWithPadOrCropd(keys, spatial_size=size))
        if self.normalize == "minmax":
            steps.append(ScaleIntensityd("image", minv=0.0, maxv=1.0))
        elif self.normalize == "zscore":
            steps.append(NormalizeIntensityd("image", channel_wise=True))
        elif self.normalize == "window":
            lo, hi = self.window
            steps.append(ScaleIntensityRanged("image", a_min=lo, a_max=hi, b_min=0.0, b_max=1.0, clip=True))
        return Compose(steps)


def _as_meta_tensor(array: np.ndarray, affine: np.ndarray) -> MetaTensor:
    return MetaTensor(torch.from_numpy(np.ascontiguousarray(array)), affine=torch.from_numpy(affine))


def validated_arrays(
    image: str,
    label: str | None,
    subject: str,
    label_map: dict[int, int] | None,
    in_channels: int | None = None,
    num_classes: int | None = None,
    reorient_labels: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Load a subject's files and apply :mod:`medseg.data.validate` (the rules ``medseg data check``
    reports): ``(image (C, X, Y, Z), affine, label (1, X, Y, Z) in the image's voxel order | None)``.

    Raises :class:`DataError` naming each file, the subject and what is wrong. With ``reorient_labels`` a
    label stored in another voxel order on the same world grid is reordered to the image's (otherwise it
    is an error). ``in_channels`` / ``num_classes`` None skip the channel-count / label-id rules (used when
    they are not known).
    """
    image_array, affine = load_volume(image)
    label_array, label_affine = load_volume(label) if label is not None else (None, None)
    channels = in_channels if in_channels is not None else image_array.shape[0]
    problems = subject_problems(subject, image, image_array, affine, channels, label, label_array, label_affine,
                                label_map, num_classes, reorient_labels)
    raise_errors(problems)
    if label_array is not None and reorient_labels:
        label_array = reorient_like(label_array, label_affine, affine)
    return image_array, affine, label_array


def preprocess_subject(
    image: str,
    label: str | None,
    preprocessing: Preprocessing,
    label_map: dict[int, int] | None,
    subject: str | None = None,
    in_channels: int | None = None,
    num_classes: int | None = None,
    reorient_labels: bool = False,
) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
    """Load (:func:`validated_arrays`) and preprocess one subject:
    ``(image (C, X, Y, Z) float32, label (X, Y, Z) uint8/int16 | None, meta)``."""
    image_array, affine, label_array = validated_arrays(
        image, label, subject if subject is not None else image, label_map, in_channels, num_classes, reorient_labels
    )
    data = {"image": _as_meta_tensor(image_array, affine)}
    original_affine = affine
    original_shape = tuple(data["image"].shape[1:])
    if label_array is not None:
        data["label"] = _as_meta_tensor(label_array, affine)
    out = preprocessing.transform(label_map, label is not None)(data)
    image_array = out["image"].numpy().astype(np.float32, copy=False)
    meta = {
        "filename": str(image),
        "original_affine": original_affine,
        "original_shape": np.asarray(original_shape, dtype=np.int64),
        "original_orientation": "".join(nib.aff2axcodes(original_affine)),
        "affine": out["image"].affine.numpy().astype(np.float64),
    }
    label_array = None
    if label is not None:
        lab = out["label"].numpy()[0]
        label_array = np.rint(lab).astype(np.uint8 if lab.max(initial=0) < 256 else np.int16)
    return image_array, label_array, meta


def preprocess_image(path: str, preprocessing: Preprocessing | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """One image file for prediction: ``(image float32 (1, C, X, Y, Z), meta)``; see :func:`to_original_grid`."""
    image, _, meta = preprocess_subject(path, None, preprocessing or Preprocessing(), None)
    return torch.from_numpy(image)[None], meta


def _numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def to_original_grid(prediction: np.ndarray | torch.Tensor, meta: Mapping[str, Any], order: int = 0) -> np.ndarray:
    """Map a prediction on the preprocessed grid back to the original file's grid.

    ``prediction``: ``(X, Y, Z)`` labels (``order=0``, nearest) or ``(C, X, Y, Z)`` probabilities
    (``order=1``). ``meta`` is the subject's meta dict, batched (from a loader) or not. Voxels outside the
    preprocessed field of view (cropped by ``conform``) get 0.
    """
    pred = _numpy(prediction)
    affine = _numpy(meta["affine"]).astype(np.float64).reshape(4, 4)  # (1, 4, 4) when batched
    original = _numpy(meta["original_affine"]).astype(np.float64).reshape(4, 4)
    shape = tuple(int(s) for s in _numpy(meta["original_shape"]).reshape(-1))
    matrix = np.linalg.solve(affine, original)
    if pred.ndim == 3:
        return ndimage.affine_transform(pred, matrix[:3, :3], matrix[:3, 3], output_shape=shape, order=order, mode="constant")
    if pred.ndim == 4:
        return np.stack(
            [ndimage.affine_transform(p, matrix[:3, :3], matrix[:3, 3], output_shape=shape, order=order) for p in pred]
        )
    raise ValueError(f"to_original_grid: expected a (X, Y, Z) or (C, X, Y, Z) prediction, got shape {pred.shape}")
