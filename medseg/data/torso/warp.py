"""One random smooth spatial warp, applied identically to a CT image (linear) and its labels (nearest).

For an output voxel p (voxel units, isotropic spacing) the sampled source position is
``s(p) = c + A (p - c) + u(p)``: ``c`` the volume centre, ``A = R_z R_y R_x · S · H`` (rotation, mostly
about the body axis z; per-axis scaling; shear) and ``u`` an elastic field: Gaussian displacements on a
coarse control grid (every :data:`CONTROL_MM` mm), smoothed there and interpolated trilinearly, which is as
smooth as a full-resolution Gaussian-smoothed field at a fraction of the cost (MONAI's ``Rand3DElastic``
smooths at full resolution). Sampling is ``torch.nn.functional.grid_sample`` (``align_corners=True``);
positions outside the volume read 0, so callers shift the image to make 0 mean air.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

ROTATE = (0.05, 0.05, 0.12)  # max |angle| (rad) about x, y, z
SCALE, SHEAR = 0.08, 0.03  # max relative scaling per axis; max shear coefficient
CONTROL_MM, DISPLACEMENT_MM = 32.0, 4.0  # control-point spacing; std of their displacement


def _rotation(angles: np.ndarray) -> np.ndarray:
    out = np.eye(3)
    for axis, angle in enumerate(angles):
        i, j = [k for k in range(3) if k != axis]
        r = np.eye(3)
        r[i, i] = r[j, j] = math.cos(angle)
        r[i, j], r[j, i] = -math.sin(angle), math.sin(angle)
        out = r @ out
    return out


def random_matrix(rng: np.random.Generator) -> np.ndarray:
    """``A = R · S · H`` with angles, scales and shears drawn uniformly within the module's limits."""
    rotation = _rotation(rng.uniform(-1, 1, 3) * np.asarray(ROTATE))
    scale = np.diag(1 + rng.uniform(-SCALE, SCALE, 3))
    shear = np.eye(3)
    shear[~np.eye(3, dtype=bool)] = rng.uniform(-SHEAR, SHEAR, 6)
    return rotation @ scale @ shear


def elastic_field(shape: tuple[int, int, int], spacing: float, rng: np.random.Generator) -> torch.Tensor:
    """``(3, X, Y, Z)`` float32 displacement in voxels, smooth on the scale of :data:`CONTROL_MM`."""
    coarse = [max(2, math.ceil(n * spacing / CONTROL_MM) + 1) for n in shape]
    field = rng.normal(0.0, DISPLACEMENT_MM / spacing, size=(3, *coarse))
    field = np.stack([ndimage.gaussian_filter(f, 0.7, mode="nearest") for f in field])
    field = torch.from_numpy(field.astype(np.float32))[None]
    return F.interpolate(field, size=shape, mode="trilinear", align_corners=True)[0]


def sampling_grid(shape: tuple[int, int, int], spacing: float, rng: np.random.Generator) -> torch.Tensor:
    """The ``grid_sample`` grid ``(1, X, Y, Z, 3)`` of ``s(p)`` in normalised (z, y, x) order."""
    size = torch.tensor(shape, dtype=torch.float32)
    centre = (size - 1) / 2
    p = torch.stack(torch.meshgrid(*[torch.arange(n, dtype=torch.float32) for n in shape], indexing="ij"), -1)
    matrix = torch.from_numpy(random_matrix(rng).astype(np.float32))
    source = (p - centre) @ matrix.T + centre + elastic_field(shape, spacing, rng).permute(1, 2, 3, 0)
    normalised = 2 * source / torch.clamp(size - 1, min=1) - 1
    return normalised.flip(-1)[None]  # grid_sample reads (W, H, D) = (z, y, x) for an (X, Y, Z) volume


def warp(image: np.ndarray, label: np.ndarray, spacing: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``(image float32, label uint8)`` of ``image`` (X, Y, Z, 0 outside) and ``label`` under one random warp."""
    grid = sampling_grid(image.shape, spacing, rng)
    volume = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32))[None, None]
    labels = torch.from_numpy(np.ascontiguousarray(label, dtype=np.float32))[None, None]
    moved = F.grid_sample(volume, grid, mode="bilinear", padding_mode="zeros", align_corners=True)
    moved_labels = F.grid_sample(labels, grid, mode="nearest", padding_mode="zeros", align_corners=True)
    return moved[0, 0].numpy(), np.rint(moved_labels[0, 0].numpy()).astype(np.uint8)
