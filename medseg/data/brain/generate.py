"""Realistic brain subjects: a real T1 template + MALC atlas, randomly deformed, biased, noised.

Per template (once): reorient to RAS, resample the T1 to the target spacing (bilinear), resample the
Neuromorphometrics atlas onto that grid in world coordinates (nearest neighbour), zero labels outside the
skull-stripped brain, crop to the brain. Per subject, with MONAI transforms seeded from the subject seed:
one smooth spatial warp (``Rand3DElasticd``: rotation, scaling, shear plus an elastic field) applied
identically to image (bilinear) and labels (nearest), then a bias field, a gamma/contrast change, Gaussian
noise and an optional blur on the image only. No flips: MALC labels are lateralised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from monai.data import MetaTensor
from monai.transforms import (
    Compose,
    CropForegroundd,
    EnsureChannelFirstd,
    LoadImaged,
    Orientationd,
    Rand3DElasticd,
    RandAdjustContrastd,
    RandBiasFieldd,
    RandGaussianNoised,
    RandGaussianSmoothd,
    ResampleToMatchd,
    Spacingd,
)

MARGIN_MM = 4.0  # kept around the brain when cropping


@dataclass(frozen=True)
class Source:
    """A prepared template: ``image`` float32 (X, Y, Z) in [0, ~1], ``label`` raw atlas ids, RAS ``affine``."""

    name: str
    image: np.ndarray
    label: np.ndarray
    affine: np.ndarray


def prepare(template: str | Path, atlas: str | Path, resolution: float) -> Source:
    """Resample ``template`` to ``resolution`` mm and ``atlas`` onto it (nearest), crop to the brain."""
    load = Compose([
        LoadImaged(["image", "label"], image_only=True),
        EnsureChannelFirstd(["image", "label"]),
        Orientationd(["image", "label"], axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S"))),
        Spacingd("image", pixdim=(resolution,) * 3, mode="bilinear"),
        ResampleToMatchd("label", key_dst="image", mode="nearest", padding_mode="zeros"),
    ])  # fmt: skip
    data = load({"image": str(template), "label": str(atlas)})
    affine = data["image"].affine
    image = data["image"].as_tensor().float()
    image = image / torch.quantile(image[image > 0], 0.99)  # the templates' scales differ (0..98 vs 0..8364)
    brain = image > 0.02
    label = data["label"].as_tensor().round().to(torch.int16) * brain
    margin = max(1, math.ceil(MARGIN_MM / resolution))
    crop = CropForegroundd(["image", "label"], source_key="image", select_fn=lambda x: x > 0.02, margin=margin,
                           allow_smaller=True)  # fmt: skip
    cropped = crop({"image": MetaTensor(image, affine=affine), "label": MetaTensor(label, affine=affine)})
    return Source(
        Path(template).name.split(".")[0],
        cropped["image"][0].numpy().astype(np.float32),
        cropped["label"][0].numpy().astype(np.int16),
        np.asarray(cropped["image"].affine, dtype=np.float64),
    )


def pad_to(source: Source, shape: tuple[int, int, int]) -> Source:
    """``source`` zero-padded (centred) to ``shape``, its affine moved so world positions stay put; gives
    every subject the same grid size whichever template it came from (2D batches stack slices)."""
    before = [(t - s) // 2 for s, t in zip(source.image.shape, shape)]
    if min(before) < 0:
        raise ValueError(f"cannot pad {source.image.shape} to the smaller {shape}")
    pad = [(b, t - s - b) for b, s, t in zip(before, source.image.shape, shape)]
    affine = source.affine.copy()
    affine[:3, 3] = source.affine[:3, :3] @ -np.asarray(before, dtype=np.float64) + source.affine[:3, 3]
    return Source(source.name, np.pad(source.image, pad), np.pad(source.label, pad), affine)


def subject_transform(resolution: float, seed: int, blur: bool = True) -> Compose:
    """The per-subject random transform, seeded: spatial (image + label), then intensity (image)."""
    sigma = 10.0 / resolution  # smoothness of the elastic field: ~10 mm
    transforms = [
        Rand3DElasticd(
            ["image", "label"], sigma_range=(sigma, sigma * 1.3), magnitude_range=(2.0 * sigma, 4.0 * sigma),
            prob=1.0, rotate_range=(0.15, 0.1, 0.1), scale_range=(0.08,) * 3, shear_range=(0.04,) * 6,
            mode=("bilinear", "nearest"), padding_mode="zeros",
        ),
        RandBiasFieldd("image", degree=3, coeff_range=(0.0, 0.25), prob=1.0),
        RandAdjustContrastd("image", gamma=(0.7, 1.5), prob=1.0),
        RandGaussianNoised("image", std=0.03, prob=1.0),
    ]  # fmt: skip
    if blur:
        transforms.append(RandGaussianSmoothd("image", sigma_x=(0.0, 0.8), sigma_y=(0.0, 0.8), sigma_z=(0.0, 0.8), prob=0.3))
    compose = Compose(transforms)
    compose.set_random_state(seed=seed)
    return compose


def make_subject(source: Source, resolution: float, seed: int, blur: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(image float32, raw label uint8/uint16)`` on the source's grid (``source.affine``), deterministic by ``seed``."""
    data = {"image": torch.from_numpy(source.image[None].copy()), "label": torch.from_numpy(source.label[None].astype(np.float32))}
    out = subject_transform(resolution, seed, blur)(data)
    image = torch.as_tensor(out["image"])[0].numpy()
    label = torch.as_tensor(out["label"])[0].round().numpy().astype(np.int64)
    image = np.clip(image, 0.0, None) * 1000.0  # T1-like scale; background noise clipped at 0
    dtype = np.uint8 if label.max() < 256 else np.uint16
    return image.astype(np.float32), label.astype(dtype)
