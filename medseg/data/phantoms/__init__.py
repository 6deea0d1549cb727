"""Embedded phantoms standing in for MALC (brain T1) and Visceral (torso CT); see :func:`make_phantom`."""

from __future__ import annotations

import numpy as np

from .common import affine_for
from .malc import malc_phantom
from .visceral import visceral_phantom

PHANTOMS = {"malc": malc_phantom, "visceral": visceral_phantom}


def make_phantom(kind: str, size: int | tuple[int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(image float32 (X, Y, Z), raw_label int32 (X, Y, Z), RAS affine 4x4)``, deterministic by ``seed``.

    ``kind``: ``malc`` (T1-like, Neuromorphometrics ids) or ``visceral`` (CT in HU, RadLex ids). ``size``:
    voxels per axis (int) or per axis (tuple); the phantom covers the same field of view at any size.
    """
    if kind not in PHANTOMS:
        raise ValueError(f"unknown phantom kind {kind!r}; choose one of {sorted(PHANTOMS)}")
    shape = (size,) * 3 if isinstance(size, int) else tuple(int(s) for s in size)
    if len(shape) != 3 or min(shape) < 8:
        raise ValueError(f"phantom size must be at least 8 voxels per axis (3 axes), got {size!r}")
    image, raw, fov = PHANTOMS[kind](shape, seed)
    return image, raw, affine_for(shape, fov)
