"""Foreground-aware sampling: small structures get seen.

Slices: with fraction ``f`` a class is drawn uniformly among the foreground classes present, then a
slice containing it uniformly; otherwise any slice uniformly. Slice i is drawn with probability
``p_i = (1 - f) / N + f / K * sum_{c in i} 1 / n_c`` (N slices, K foreground classes present, n_c slices
containing class c), which sums to 1. (nnU-Net forces a third of its patches onto foreground the same way.)
Patches: :class:`~medseg.data.slicing.PatchDataset` centres a patch on a voxel of a uniformly drawn
present class with probability ``f``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import WeightedRandomSampler

from .slicing import SliceDataset


def slice_presence(dataset: SliceDataset) -> np.ndarray:
    """``(len(dataset), C)`` bool: which classes each training slice contains (C = highest id + 1)."""
    top = max(int(np.max(v.label)) for v in dataset.volumes) + 1
    presence = np.zeros((len(dataset), top), dtype=bool)
    for row, (v, k) in enumerate(dataset.index):
        label = np.take(dataset.volumes[v].label, k, axis=dataset.axis)
        presence[row] = np.bincount(np.asarray(label).ravel(), minlength=top) > 0
    return presence


def class_balanced_weights(presence: np.ndarray, fraction: float) -> np.ndarray:
    """``p_i`` of the module docstring from a ``(N, C)`` presence matrix (class 0 = background, ignored)."""
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"foreground sampling fraction must be in [0, 1], got {fraction}")
    n = len(presence)
    counts = presence[:, 1:].sum(axis=0)
    present = counts > 0
    if not present.any():
        return np.full(n, 1.0 / n)
    per_class = np.where(present, 1.0 / np.maximum(counts, 1), 0.0) / present.sum()
    return (1.0 - fraction) / n + fraction * presence[:, 1:].astype(np.float64) @ per_class


def foreground_sampler(dataset: SliceDataset, fraction: float) -> WeightedRandomSampler:
    """``len(dataset)`` slices per epoch, with replacement, drawn with :func:`class_balanced_weights`
    (torch's RNG, seeded by Lightning)."""
    weights = class_balanced_weights(slice_presence(dataset), fraction)
    return WeightedRandomSampler(torch.from_numpy(weights), num_samples=len(dataset), replacement=True)
