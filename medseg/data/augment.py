"""Training augmentation as MONAI dict transforms on a 2D slice or 3D patch (``image``, ``label``).

Choices: ``affine`` (rotation ±0.1 rad, scale ±10 %), ``elastic`` (MONAI's 2D or 3D elastic
deformation), ``intensity`` (scale and shift ±10 %), ``noise`` (Gaussian, std 0.02), ``bias_field``
(smooth multiplicative field). There is deliberately no left/right flip: MALC and Visceral labels are
lateralised, and a flip would need the left/right classes swapped too.
"""

from __future__ import annotations

from typing import Sequence

from monai.transforms import (
    Compose,
    Rand2DElasticd,
    Rand3DElasticd,
    RandAffined,
    RandBiasFieldd,
    RandGaussianNoised,
    RandScaleIntensityd,
    RandShiftIntensityd,
)

AUGMENTATIONS = ("affine", "elastic", "intensity", "noise", "bias_field")
KEYS = ("image", "label")
MODES = ("bilinear", "nearest")


def build_augmentation(names: Sequence[str], spatial_dims: int, prob: float = 0.3) -> Compose | None:
    """A MONAI ``Compose`` applying each chosen augmentation with probability ``prob`` (None if none chosen)."""
    unknown = sorted(set(names) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; choose from {list(AUGMENTATIONS)}")
    if spatial_dims not in (2, 3):
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
    steps = []
    for name in names:
        if name == "affine":
            steps.append(RandAffined(KEYS, prob=prob, rotate_range=[0.1] * (1 if spatial_dims == 2 else 3), scale_range=[0.1] * spatial_dims, mode=MODES, padding_mode="zeros"))
        elif name == "elastic" and spatial_dims == 2:
            steps.append(Rand2DElasticd(KEYS, spacing=(16, 16), magnitude_range=(1, 2), prob=prob, mode=MODES, padding_mode="zeros"))
        elif name == "elastic":
            steps.append(Rand3DElasticd(KEYS, sigma_range=(5, 7), magnitude_range=(50, 100), prob=prob, mode=MODES, padding_mode="zeros"))
        elif name == "intensity":
            steps += [RandScaleIntensityd("image", factors=0.1, prob=prob), RandShiftIntensityd("image", offsets=0.1, prob=prob)]
        elif name == "noise":
            steps.append(RandGaussianNoised("image", std=0.02, prob=prob))
        elif name == "bias_field":
            steps.append(RandBiasFieldd("image", coeff_range=(0.0, 0.1), prob=prob))
    return Compose(steps) if steps else None
