"""Visceral-like torso subjects: a real CT scan with its TotalSegmentator labels, warped, rescaled, noised.

Per scan (once, :func:`prepare`): reorient to RAS, resample image (bilinear) and labels (nearest) to the
target spacing, clip to the CT range [-1024, 3071] HU (the chest scan pads outside its reconstruction
circle with -2048), crop in-plane to the body, pad in-plane (with air) to the common size of all scans.
Per subject (:func:`make_subject`, deterministic by the seed): a random field-of-view along the body axis
(z, RAS superior) keeping 55-100 % of the scan, as real scans cover different ranges, so some subjects
lack some organs; one smooth spatial warp (:mod:`.warp`: rotation, scaling, shear plus an elastic field)
applied identically to image (bilinear) and labels (nearest), warped with a margin that is cut off
afterwards so no padding enters at the cut; then on the image only a mild HU scale and offset,
an optional Gaussian blur and Gaussian noise. No flips: left and right organs are distinct classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from monai.transforms import Compose, EnsureChannelFirstd, LoadImaged, Orientationd, Spacingd
from scipy import ndimage

from .warp import warp

HU_RANGE = (-1024.0, 3071.0)
BODY_HU = -500.0  # above: body (soft tissue, fat, bone); below: air (lungs are filled in per slice)
MARGIN_MM = 15.0  # kept beyond the field of view while warping, and around the body in-plane
FOV_RANGE = (0.55, 1.0)  # fraction of the scan's body-axis extent a subject keeps
HU_SCALE, HU_OFFSET, NOISE_HU, BLUR_VOXELS = 0.05, 20.0, (5.0, 25.0), 0.6


@dataclass(frozen=True)
class Source:
    """A prepared scan: ``image`` float32 HU (X, Y, Z), ``label`` raw TotalSegmentator ids, RAS ``affine``."""

    name: str
    image: np.ndarray
    label: np.ndarray
    affine: np.ndarray


def body_mask(image: np.ndarray) -> np.ndarray:
    """Voxels of the body: above :data:`BODY_HU`, holes (lungs, airways) filled per axial slice."""
    mask = image > BODY_HU
    return np.stack([ndimage.binary_fill_holes(mask[..., k]) for k in range(mask.shape[-1])], axis=-1)


def _crop_in_plane(image: np.ndarray, label: np.ndarray, affine: np.ndarray, margin: int):
    body = body_mask(image) | (label > 0)
    xs, ys = np.flatnonzero(body.any(axis=(1, 2))), np.flatnonzero(body.any(axis=(0, 2)))
    lo = [max(0, xs[0] - margin), max(0, ys[0] - margin)]
    hi = [min(image.shape[0], xs[-1] + 1 + margin), min(image.shape[1], ys[-1] + 1 + margin)]
    box = (slice(lo[0], hi[0]), slice(lo[1], hi[1]))
    affine = affine.copy()
    affine[:3, 3] += affine[:3, :2] @ np.asarray(lo, dtype=np.float64)
    return image[box], label[box], affine


def prepare(image: str, label: str, spacing: float, name: str = "") -> Source:
    """Resample a scan and its labels to ``spacing`` mm in RAS, clip HU, crop in-plane to the body."""
    load = Compose([
        LoadImaged(["image", "label"], image_only=True),
        EnsureChannelFirstd(["image", "label"]),
        Orientationd(["image", "label"], axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S"))),
        Spacingd(["image", "label"], pixdim=(spacing,) * 3, mode=("bilinear", "nearest"), padding_mode="border"),
    ])  # fmt: skip
    data = load({"image": str(image), "label": str(label)})
    affine = np.asarray(data["image"].affine, dtype=np.float64)
    hu = np.clip(data["image"].as_tensor()[0].numpy().astype(np.float32), *HU_RANGE)
    raw = np.rint(data["label"].as_tensor()[0].numpy()).astype(np.uint8)
    if hu.shape != raw.shape:
        raise ValueError(f"{label}: labels resampled to {raw.shape}, image to {hu.shape} (not on one grid)")
    hu, raw, affine = _crop_in_plane(hu, raw, affine, math.ceil(MARGIN_MM / spacing))
    return Source(name or str(image), hu, raw, affine)


def pad_in_plane(source: Source, shape: tuple[int, int]) -> Source:
    """``source`` padded (centred, air / background) to ``shape`` in x, y; world positions stay put."""
    before = [(t - s) // 2 for s, t in zip(source.image.shape[:2], shape)]
    if min(before) < 0:
        raise ValueError(f"cannot pad {source.image.shape[:2]} to the smaller {shape}")
    pad = [(b, t - s - b) for b, s, t in zip(before, source.image.shape[:2], shape)] + [(0, 0)]
    affine = source.affine.copy()
    affine[:3, 3] -= affine[:3, :2] @ np.asarray(before, dtype=np.float64)
    return Source(source.name, np.pad(source.image, pad, constant_values=HU_RANGE[0]), np.pad(source.label, pad), affine)


def make_subject(source: Source, spacing: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(image int16 HU, raw labels uint8, RAS affine)`` of one subject, deterministic by ``seed``.

    The grid is the source's in x, y (``source.affine``) and a random body-axis range of it in z.
    """
    rng = np.random.default_rng([seed, 1])  # a stream apart from default_rng(seed), which picks the scan
    depth = source.image.shape[2]
    keep = max(1, min(depth, round(rng.uniform(*FOV_RANGE) * depth)))
    start = int(rng.integers(0, depth - keep + 1))
    margin = math.ceil(MARGIN_MM / spacing)
    lo, hi = max(0, start - margin), min(depth, start + keep + margin)
    # shifted by +1024 HU so the warp's zero padding is air
    moved, raw = warp(source.image[..., lo:hi] - HU_RANGE[0], source.label[..., lo:hi], spacing, rng)
    cut = slice(start - lo, start - lo + keep)
    hu, raw = moved[..., cut].astype(np.float64) + HU_RANGE[0], raw[..., cut]
    hu = hu * rng.uniform(1 - HU_SCALE, 1 + HU_SCALE) + rng.uniform(-HU_OFFSET, HU_OFFSET)
    if rng.random() < 0.5:
        hu = ndimage.gaussian_filter(hu, rng.uniform(0.0, BLUR_VOXELS))
    hu = hu + rng.normal(0.0, rng.uniform(*NOISE_HU), size=hu.shape)
    affine = source.affine.copy()
    affine[:3, 3] += affine[:3, 2] * start
    return np.rint(np.clip(hu, *HU_RANGE)).astype(np.int16), raw, affine
