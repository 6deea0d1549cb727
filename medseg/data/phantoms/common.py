"""Phantom plumbing: a normalised grid, a per-subject smooth warp, shapes, bias field, noise and blur.

Structures are defined in normalised template coordinates q in [-1, 1]³ (x: left -> right, y: posterior
-> anterior, z: inferior -> superior, i.e. RAS), so a phantom can be drawn at any size. Each subject's
voxel coordinates u are mapped to the template by q = S⁻¹ R⁻¹ (u - t) + d(u): scale S, rotation R,
shift t and a smooth displacement d (a sum of low-frequency sinusoids).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage


def grid(size: tuple[int, int, int]) -> np.ndarray:
    """Voxel centres in normalised coordinates, shape (3, X, Y, Z), float32."""
    axes = [((np.arange(n, dtype=np.float32) + 0.5) / n) * 2 - 1 for n in size]
    return np.stack(np.meshgrid(*axes, indexing="ij"))


def _rotation(angles: np.ndarray) -> np.ndarray:
    cx, cy, cz = np.cos(angles)
    sx, sy, sz = np.sin(angles)
    rx = np.array([[1, 0, 0], [0, cx, -sx], [0, sx, cx]])
    ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    rz = np.array([[cz, -sz, 0], [sz, cz, 0], [0, 0, 1]])
    return rz @ ry @ rx


@dataclass(frozen=True)
class Warp:
    """Per-subject deformation strength: scale range, rotation (degrees), shift and displacement amplitude."""

    scale: float = 0.07
    rotate_deg: float = 5.0
    shift: float = 0.03
    displacement: float = 0.03
    terms: int = 3

    def __call__(self, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        scale = 1 + rng.uniform(-self.scale, self.scale, 3)
        rot = _rotation(np.deg2rad(rng.uniform(-self.rotate_deg, self.rotate_deg, 3)))
        shift = rng.uniform(-self.shift, self.shift, 3)
        matrix = (np.linalg.inv(rot) / scale[:, None]).astype(np.float32)  # S⁻¹ R⁻¹
        flat = u.reshape(3, -1) - shift.astype(np.float32)[:, None]
        q = (matrix @ flat).reshape(u.shape)
        for axis in range(3):
            for _ in range(self.terms):
                freq = rng.uniform(0.5, 1.5, 3).astype(np.float32) * np.pi
                phase = np.float32(rng.uniform(0, 2 * np.pi))
                amp = np.float32(self.displacement / self.terms * rng.uniform(0.5, 1.5))
                q[axis] += amp * np.sin(freq[0] * u[0] + freq[1] * u[1] + freq[2] * u[2] + phase)
        return q


def ellipsoid(q: np.ndarray, centre: tuple[float, float, float], radii: tuple[float, float, float]) -> np.ndarray:
    """Boolean mask of sum(((q - c) / r)²) <= 1."""
    d = ((q[0] - centre[0]) / radii[0]) ** 2
    d += ((q[1] - centre[1]) / radii[1]) ** 2
    d += ((q[2] - centre[2]) / radii[2]) ** 2
    return d <= 1


def cylinder_z(q: np.ndarray, centre: tuple[float, float], radii: tuple[float, float], z: tuple[float, float]) -> np.ndarray:
    """Elliptic cylinder along z between z[0] and z[1]."""
    inside = ((q[0] - centre[0]) / radii[0]) ** 2 + ((q[1] - centre[1]) / radii[1]) ** 2 <= 1
    return inside & (q[2] >= z[0]) & (q[2] <= z[1])


class Canvas:
    """Raw label ids and tissue indices, painted in order (later shapes overwrite earlier ones)."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.raw = np.zeros(shape, dtype=np.int32)
        self.tissue = np.zeros(shape, dtype=np.uint8)

    def paint(self, mask: np.ndarray, raw_id: int | np.ndarray, tissue: int) -> None:
        self.raw[mask] = raw_id if np.isscalar(raw_id) else raw_id[mask]
        self.tissue[mask] = tissue


def bias_field(u: np.ndarray, rng: np.random.Generator, strength: float) -> np.ndarray:
    """Smooth multiplicative field exp(sum of random linear and quadratic terms), about 1 ± strength."""
    c = rng.normal(0, strength / 2, 9).astype(np.float32)
    log = c[0] * u[0] + c[1] * u[1] + c[2] * u[2] + c[3] * u[0] ** 2 + c[4] * u[1] ** 2 + c[5] * u[2] ** 2
    log += c[6] * u[0] * u[1] + c[7] * u[1] * u[2] + c[8] * u[0] * u[2]
    return np.exp(log)


def render(
    canvas: Canvas, tissue_values: np.ndarray, blur_voxels: float, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """Tissue values -> partial-volume blur (Gaussian, sigma in voxels) -> additive Gaussian noise."""
    image = tissue_values.astype(np.float32)[canvas.tissue]
    if blur_voxels > 0:
        image = ndimage.gaussian_filter(image, blur_voxels, mode="nearest")
    image += rng.normal(0, noise, image.shape).astype(np.float32)
    return image


def affine_for(size: tuple[int, int, int], fov_mm: tuple[float, float, float]) -> np.ndarray:
    """RAS affine of a grid of ``size`` voxels covering ``fov_mm``, centred on the origin."""
    spacing = np.asarray(fov_mm, dtype=np.float64) / np.asarray(size)
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = -spacing * (np.asarray(size) - 1) / 2
    return affine
