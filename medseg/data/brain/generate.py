"""Realistic brain subjects: a real T1 template + MALC atlas, randomly deformed, biased, noised.

Per template (once): reorient to RAS, resample the Neuromorphometrics atlas onto the template's grid in
world coordinates (nearest neighbour), zero labels outside the skull-stripped brain, by default re-decide
the tissue labels from the template's own intensities (harmonise.py), resample both to the target spacing
(image bilinear, labels nearest), crop to the brain. Per subject, seeded from the subject seed:
one smooth spatial warp (rotation, scaling, shear plus an elastic field) evaluated on the subject's grid and
sampled from the native 1 mm template (image trilinear after a Gaussian of the target voxel's FWHM, labels
nearest), then, with MONAI transforms, a bias field, a gamma/contrast change, Gaussian noise and an optional
blur on the image only. No flips: MALC labels are lateralised. Or the native image is drawn from the
native labels (``image="generative_t1"|"generative_random"``, generative.py: SynthSeg's per-label Gaussians).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage as ndi
from monai.data import MetaTensor
from monai.transforms import (
    Compose,
    CropForegroundd,
    EnsureChannelFirstd,
    LoadImaged,
    Orientationd,
    RandAdjustContrastd,
    RandBiasFieldd,
    RandGaussianNoised,
    RandGaussianSmoothd,
    ResampleToMatchd,
    Spacingd,
)

from .desikan import to_neuromorphometrics
from .fetch import ATLASES
from .generative import IMAGE_MODES, synthesise, tissue_groups
from .harmonise import harmonise

MARGIN_MM = 4.0  # kept around the brain when cropping
ELASTIC_SIGMA_MM, ELASTIC_RMS_MM = 12.0, 2.0  # smoothness and size of the elastic part of the warp
BRAIN_THRESHOLD = 0.02  # of the 99th percentile: the skull-stripped templates' brain mask


@dataclass(frozen=True)
class Source:
    """A prepared template on the subjects' grid: ``image`` float32 (X, Y, Z) in [0, ~1], ``label`` raw atlas
    ids, RAS ``affine``; ``fine_*``: the same at the template's native (1 mm) grid, where subjects are
    sampled from (None: sample from ``image``/``label`` themselves)."""

    name: str
    image: np.ndarray
    label: np.ndarray
    affine: np.ndarray
    fine_image: np.ndarray | None = None
    fine_label: np.ndarray | None = None
    fine_affine: np.ndarray | None = None
    fine_fractions: np.ndarray | None = None  # (G, ...) float16: each tissue group's share of the acquisition PSF
    group_of_raw: np.ndarray | None = None  # raw id -> tissue group (lookup table)
    raw_of_group: np.ndarray | None = None  # tissue group -> its most frequent raw id
    fine_mixed: np.ndarray | None = None  # native voxels where some group's share lies in (0.001, 0.999)


LABEL_SAMPLING = ("nearest", "partial_volume")  # subject labels: the nearest native label | the PSF-majority group


LABEL_MODES = ("harmonised", "atlas")  # harmonise.py: labels re-decided from the template's intensities | the atlas as is


def prepare(template: str | Path, atlas: str | Path, resolution: float, labels: str = "harmonised",
            protocol: str = "neuromorphometrics") -> Source:
    """Resample ``atlas`` onto ``template`` (nearest), turn a ``desikan_killiany`` atlas (``protocol``, FreeSurfer
    ids) into Neuromorphometrics ids (desikan.py), optionally harmonise it with the template's own
    intensities at the template's native grid (``labels="harmonised"``, harmonise.py), then resample both
    to ``resolution`` mm (image bilinear, labels nearest) and crop to the brain; the native volumes are kept
    (cropped, the image low-passed by a Gaussian of FWHM ``resolution``) for :func:`make_subject` to sample."""
    if labels not in LABEL_MODES:
        raise ValueError(f"brain labels must be one of {LABEL_MODES}, got {labels!r}")
    if protocol not in ATLASES:
        raise ValueError(f"brain label protocol must be one of {tuple(ATLASES)}, got {protocol!r}")
    load = Compose([
        LoadImaged(["image", "label"], image_only=True),
        EnsureChannelFirstd(["image", "label"]),
        Orientationd(["image", "label"], axcodes="RAS", labels=(("L", "R"), ("P", "A"), ("I", "S"))),
        ResampleToMatchd("label", key_dst="image", mode="nearest", padding_mode="zeros"),
    ])  # fmt: skip
    data = load({"image": str(template), "label": str(atlas)})
    native = data["image"].as_tensor().float()
    native = native / torch.quantile(native[native > 0], 0.99)  # the templates' scales differ (0..98 vs 0..8364)
    label = data["label"].as_tensor().round().to(torch.int16)
    if protocol == "desikan_killiany":
        label = torch.from_numpy(to_neuromorphometrics(label[0].numpy(), np.asarray(data["image"].affine)))[None]
    label = label * (native > BRAIN_THRESHOLD)
    if labels == "harmonised":
        raw = harmonise(native[0].numpy(), label[0].numpy(), brain=native[0].numpy() > BRAIN_THRESHOLD)
        label = torch.from_numpy(raw)[None]
    affine = data["image"].affine
    spaced = Compose([
        Spacingd("image", pixdim=(resolution,) * 3, mode="bilinear"),
        Spacingd("label", pixdim=(resolution,) * 3, mode="nearest"),
    ])({"image": MetaTensor(native, affine=affine), "label": MetaTensor(label.float(), affine=affine)})  # fmt: skip
    image = spaced["image"].as_tensor().float()
    coarse_label = spaced["label"].as_tensor().round().to(torch.int16) * (image > BRAIN_THRESHOLD)
    fine = _crop_to_brain(native, label, data["image"].affine, margin=math.ceil(MARGIN_MM))
    fwhm = resolution / float(np.abs(np.linalg.det(fine[2][:3, :3])) ** (1 / 3))  # acquisition PSF, in native voxels
    coarse = _crop_to_brain(image, coarse_label, spaced["image"].affine, margin=max(1, math.ceil(MARGIN_MM / resolution)))
    return Source(Path(template).name.split(".")[0], *coarse, fine_image=ndi.gaussian_filter(fine[0], fwhm / 2.355),
                  fine_label=fine[1], fine_affine=fine[2])  # fmt: skip


def _crop_to_brain(image: torch.Tensor, label: torch.Tensor, affine, margin: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image float32, label int16, affine) cropped to the brain with ``margin`` voxels."""
    crop = CropForegroundd(["image", "label"], source_key="image", select_fn=lambda x: x > BRAIN_THRESHOLD, margin=margin,
                           allow_smaller=True)  # fmt: skip
    cropped = crop({"image": MetaTensor(image, affine=affine), "label": MetaTensor(label, affine=affine)})
    return (cropped["image"][0].numpy().astype(np.float32), cropped["label"][0].numpy().astype(np.int16),
            np.asarray(cropped["image"].affine, dtype=np.float64))  # fmt: skip


def with_fractions(source: Source, resolution: float) -> Source:
    """``source`` with the partial-volume fractions that ``label_sampling="partial_volume"`` samples: for each
    tissue group g (generative.py: the 27 MALC classes, each in-brain background raw id, and outside the
    brain) f_g = G_fwhm * 1[group = g] on the native grid, the Gaussian of the acquisition FWHM (``resolution``
    mm) that the image is low-passed by, so f_g(x) is g's share of the tissue a subject voxel's intensity mixes.
    Each group is filtered inside its bounding box plus the kernel's reach (scipy truncates at 4 sigma)."""
    label = source.fine_label.astype(np.int64)
    groups, _ = tissue_groups(label)
    spacing = float(np.abs(np.linalg.det(source.fine_affine[:3, :3])) ** (1 / 3))
    sigma = resolution / spacing / 2.355
    reach = int(np.ceil(4.0 * sigma)) + 1
    present = np.unique(groups)
    fractions = np.zeros((len(present), *label.shape), dtype=np.float16)
    raw_of_group = np.zeros(len(present), dtype=np.int64)
    mixed = np.zeros(label.shape, dtype=bool)
    for channel, g in enumerate(present):
        mask = groups == g
        where = np.argwhere(mask)
        lo, hi = np.maximum(where.min(axis=0) - reach, 0), np.minimum(where.max(axis=0) + reach + 1, label.shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        share = ndi.gaussian_filter(mask[box].astype(np.float32), sigma, mode="constant")
        fractions[(channel, *box)] = share
        mixed[box] |= (share > 0.001) & (share < 0.999)
        ids, counts = np.unique(label[mask], return_counts=True)
        raw_of_group[channel] = ids[np.argmax(counts)]
    group_of_raw = np.zeros(label.max() + 1, dtype=np.int64)
    group_of_raw[label.ravel()] = np.searchsorted(present, groups.ravel())  # channel index of each raw id's group
    return replace(source, fine_fractions=fractions, group_of_raw=group_of_raw, raw_of_group=raw_of_group, fine_mixed=mixed)


def partial_volume_labels(source: Source, points: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """Raw labels at world ``points``: the group with the largest PSF share (trilinear in the fractions), written
    as the nearest native raw id where that id belongs to the group, else as the group's most frequent raw id.
    Only points with a mixed native voxel (largest share < 1) among their 8 interpolation corners can differ
    from ``nearest``; the shares are interpolated at those points only."""
    fractions = source.fine_fractions
    shape = np.asarray(fractions.shape[1:])
    index = ((points - source.fine_affine[:3, 3]) @ np.linalg.inv(source.fine_affine[:3, :3]).T).reshape(-1, 3)
    base = np.floor(index).astype(np.int64)
    frac = index - base
    mixed = source.fine_mixed
    corners = [(dx, dy, dz) for dx in (0, 1) for dy in (0, 1) for dz in (0, 1)]
    flat_corners, weights = [], []
    for d in corners:
        c = base + d
        inside = np.all((c >= 0) & (c < shape), axis=1)
        flat_corners.append(np.ravel_multi_index(tuple(np.clip(c, 0, shape - 1).T), tuple(shape)))
        w = np.prod(np.where(np.asarray(d) == 1, frac, 1.0 - frac), axis=1)
        weights.append(np.where(inside, w, 0.0))
    flat_corners, weights = np.stack(flat_corners), np.stack(weights)  # (8, N)
    todo = np.flatnonzero((mixed.ravel()[flat_corners] & (weights > 0)).any(axis=0))
    out = np.asarray(nearest).reshape(-1).copy()
    if todo.size:
        table = fractions.reshape(len(fractions), -1)
        shares = sum(table[:, flat_corners[k, todo]].astype(np.float32) * weights[k, todo] for k in range(8))
        group = np.argmax(shares, axis=0)
        near = out[todo]
        keep = source.group_of_raw[np.clip(near, 0, len(source.group_of_raw) - 1)] == group
        out[todo] = np.where(keep, near, source.raw_of_group[group])
    return out.reshape(np.shape(nearest))


def pad_to(source: Source, shape: tuple[int, int, int]) -> Source:
    """``source`` zero-padded (centred) to ``shape``, its affine moved so world positions stay put; gives
    every subject the same grid size whichever template it came from (2D batches stack slices)."""
    before = [(t - s) // 2 for s, t in zip(source.image.shape, shape)]
    if min(before) < 0:
        raise ValueError(f"cannot pad {source.image.shape} to the smaller {shape}")
    pad = [(b, t - s - b) for b, s, t in zip(before, source.image.shape, shape)]
    affine = source.affine.copy()
    affine[:3, 3] = source.affine[:3, :3] @ -np.asarray(before, dtype=np.float64) + source.affine[:3, 3]
    return replace(source, image=np.pad(source.image, pad), label=np.pad(source.label, pad), affine=affine)


def grid_points(shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """World positions (X, Y, Z, 3) in mm of every voxel of the grid (``shape``, ``affine``)."""
    index = np.stack(np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij"), -1)
    return index @ affine[:3, :3].T + affine[:3, 3]


def warp_field(shape: tuple[int, ...], affine: np.ndarray, seed: int) -> np.ndarray:
    """World positions (X, Y, Z, 3) in mm that the voxels of the grid (``shape``, ``affine``) sample from.

    q = c + M (p − c) + d(p): M a random rotation (±0.15, ±0.1, ±0.1 rad), scaling (±8 %) and shear (±0.04)
    about the grid centre c; d a smooth random field (white noise low-passed by a Gaussian of σ = 12 mm,
    scaled to an RMS of ELASTIC_RMS_MM per axis).
    """
    rng = np.random.default_rng([seed, 21])
    ax, ay, az = rng.uniform(-1, 1, 3) * (0.15, 0.1, 0.1)
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    shear = np.eye(3) + np.triu(rng.uniform(-0.04, 0.04, (3, 3)), 1) + np.tril(rng.uniform(-0.04, 0.04, (3, 3)), -1)
    m = rx @ ry @ rz @ np.diag(1 + rng.uniform(-0.08, 0.08, 3)) @ shear
    world = grid_points(shape, affine)
    centre = world.reshape(-1, 3).mean(axis=0)
    spacing = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    field = np.stack([ndi.gaussian_filter(rng.standard_normal(shape), ELASTIC_SIGMA_MM / spacing) for _ in range(3)], -1)
    field *= ELASTIC_RMS_MM / (field.std(axis=(0, 1, 2)) + 1e-12)
    return centre + (world - centre) @ m.T + field


def sample(volume: np.ndarray, affine: np.ndarray, points: np.ndarray, mode: str) -> np.ndarray:
    """``volume`` (grid ``affine``) at world ``points`` (X, Y, Z, 3) or (..., 3): ``bilinear`` (trilinear) or
    ``nearest``; 0 outside."""
    lead = points.shape[:-1]
    points = points if points.ndim == 4 else points.reshape(1, 1, -1, 3)  # grid_sample wants a 3D grid of points
    index = (points - affine[:3, 3]) @ np.linalg.inv(affine[:3, :3]).T
    size = np.asarray(volume.shape, dtype=np.float64)
    grid = torch.from_numpy((2.0 * index / (size - 1) - 1.0)[..., ::-1].copy()).float()[None]  # (x, y, z) -> (W, H, D)
    src = torch.from_numpy(np.ascontiguousarray(volume, dtype=np.float32))[None, None]
    out = torch.nn.functional.grid_sample(src, grid, mode=mode, padding_mode="zeros", align_corners=True)
    return out[0, 0].numpy().reshape(lead)


def intensity_transform(seed: int, blur: bool = True) -> Compose:
    """The per-subject random intensity transform of the image, seeded: bias field, gamma, noise, blur."""
    transforms = [
        RandBiasFieldd("image", degree=3, coeff_range=(0.0, 0.25), prob=1.0),
        RandAdjustContrastd("image", gamma=(0.7, 1.5), prob=1.0),
        RandGaussianNoised("image", std=0.03, prob=1.0),
    ]  # fmt: skip
    if blur:
        transforms.append(RandGaussianSmoothd("image", sigma_x=(0.0, 0.8), sigma_y=(0.0, 0.8), sigma_z=(0.0, 0.8), prob=0.3))
    compose = Compose(transforms)
    compose.set_random_state(seed=seed)
    return compose


def make_subject(source: Source, resolution: float, seed: int, blur: bool = True,
                 image: str = "real", label_sampling: str = "nearest") -> tuple[np.ndarray, np.ndarray]:
    """``(image float32, raw label uint8/uint16)`` on the source's grid (``source.affine``), deterministic by ``seed``.

    The warp (:func:`warp_field`) is evaluated on the subject's grid and sampled from the native-resolution
    template (image trilinear, labels nearest), so image and labels stay consistent to half a native voxel
    (warping the 2 mm grid itself cost the white-matter boundary: best-threshold Dice 0.93 vs 0.96, issue 21).
    ``image``: ``real`` (the template's T1) or ``generative_t1`` / ``generative_random``: the native image is
    drawn from the native labels (generative.py, SynthSeg) at an acquisition FWHM of ``resolution`` mm.
    ``label_sampling``: ``nearest`` (the native label at the sample point) or ``partial_volume`` (the tissue
    group with the largest share of the voxel's PSF, :func:`partial_volume_labels`; needs :func:`with_fractions`):
    the label of the tissue the voxel's intensity is mostly made of."""
    if image not in IMAGE_MODES:
        raise ValueError(f"brain image must be one of {IMAGE_MODES}, got {image!r}")
    if label_sampling not in LABEL_SAMPLING:
        raise ValueError(f"brain label sampling must be one of {LABEL_SAMPLING}, got {label_sampling!r}")
    if label_sampling == "partial_volume" and source.fine_fractions is None:
        raise ValueError("label_sampling='partial_volume' needs the source's fractions: with_fractions(source, resolution)")
    fine = source.fine_image is not None
    image_src, label_src, affine_src = (source.fine_image, source.fine_label, source.fine_affine) if fine else (
        source.image, source.label, source.affine)  # fmt: skip
    if image != "real":
        spacing = float(np.abs(np.linalg.det(affine_src[:3, :3])) ** (1 / 3))
        image_src = synthesise(label_src, image.removeprefix("generative_"), resolution / spacing, seed)
    points = warp_field(source.image.shape, source.affine, seed)
    volume = sample(image_src, affine_src, points, "bilinear")
    label = np.rint(sample(label_src.astype(np.float32), affine_src, points, "nearest")).astype(np.int64)
    if label_sampling == "partial_volume":
        label = partial_volume_labels(source, points, label)
    out = intensity_transform(seed, blur)({"image": torch.from_numpy(volume[None])})
    volume = np.clip(torch.as_tensor(out["image"])[0].numpy(), 0.0, None) * 1000.0  # T1-like scale; noise clipped at 0
    dtype = np.uint8 if label.max() < 256 else np.uint16
    return volume.astype(np.float32), label.astype(dtype)
