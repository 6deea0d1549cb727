"""Segmentation losses chosen by name in YAML: ``ce | weighted_ce | dice | ce_dice | weighted_ce_dice``.

QuickNAT (Roy et al., NeuroImage 2019, eq. 1–3): weighted cross-entropy with per-voxel weight
w(x) = Σ_l 1[L(x)=l]·median(f)/f_l + ω₀·1[|∇L(x)| > 0] (median-frequency class weights, computed once
from the training labels, plus a boundary weight ω₀ = 2 on label edges), plus soft Dice loss
1 − mean_c (2 Σ p·g + ε)/(Σ p + Σ g + ε) with p = softmax(logits) applied exactly once.

The Dice sums run over the pixels of each sample (``batch_dice=False``, mean over samples and classes,
MONAI's ``DiceLoss`` default) or over the whole mini-batch (``batch_dice=True``: the authors'
``nn_common_modules.losses.DiceLoss`` sums over N, H, W per class; nnU-Net's 2D ``batch_dice``). On 2D
brain slices about half of the (slice, class) pairs have no voxel of the class; each such term is
ε / (Σ p + ε) and reaches 0 only when Σ p ≪ ε, so per-sample Dice spends half its value on driving
absent classes' probabilities to ~0 (logits ever larger) rather than on overlap. Summed over a batch
of 16 slices, 0.4 % of the (batch, class) pairs of an epoch are absent (benchmarks/loss_terms.py, RESULTS.md).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from medseg.engine.acceleration import at_least_float32

LOSSES = ("ce", "weighted_ce", "dice", "ce_dice", "weighted_ce_dice")


def class_counts(labels: Iterable[np.ndarray | torch.Tensor], num_classes: int) -> np.ndarray:
    """Voxel count per class over an iterable of integer label arrays (int64, length ``num_classes``)."""
    counts = np.zeros(num_classes, dtype=np.int64)
    for label in labels:
        label = label.detach().cpu().numpy() if isinstance(label, torch.Tensor) else np.asarray(label)
        if label.size and (label.min() < 0 or label.max() >= num_classes):
            raise ValueError(f"labels must lie in [0, {num_classes - 1}], got min {label.min()} max {label.max()}")
        counts += np.bincount(label.ravel(), minlength=num_classes)
    return counts


def median_frequency_weights(counts: np.ndarray) -> torch.Tensor:
    """w_c = median_l(f_l) / f_c over the classes present (f = voxel frequency); absent classes get 0."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    if not present.any():
        raise ValueError("median-frequency weights: no labelled voxels in the training labels")
    freq = counts / counts.sum()
    weights = np.zeros_like(freq)
    weights[present] = np.median(freq[present]) / freq[present]
    return torch.as_tensor(weights, dtype=torch.float32)


def boundary_mask(label: torch.Tensor) -> torch.Tensor:
    """(B, *spatial) → bool mask of voxels whose label differs from a face neighbour (|∇L| > 0)."""
    edge = torch.zeros_like(label, dtype=torch.bool)
    for axis in range(1, label.ndim):
        n = label.shape[axis]
        if n < 2:
            continue
        step = label.narrow(axis, 1, n - 1) != label.narrow(axis, 0, n - 1)
        edge.narrow(axis, 1, n - 1).logical_or_(step)
        edge.narrow(axis, 0, n - 1).logical_or_(step)
    return edge


def soft_dice_loss(logits: torch.Tensor, target: torch.Tensor, smooth: float = 1e-5, batch: bool = False) -> torch.Tensor:
    """1 − mean of (2 Σ p·g + ε) / (Σ p + Σ g + ε), p = softmax(logits) once.

    Σ over each sample's voxels and the mean over (sample, class); ``batch=True``: Σ over the whole batch's
    voxels and the mean over classes.
    """
    probs = logits.softmax(dim=1)
    onehot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).to(probs.dtype)
    dims = (0, *range(2, logits.ndim)) if batch else tuple(range(2, logits.ndim))
    intersection = (probs * onehot).sum(dims)
    denominator = probs.sum(dims) + onehot.sum(dims)
    return 1.0 - ((2.0 * intersection + smooth) / (denominator + smooth)).mean()


class SegmentationLoss(nn.Module):
    """``ce_weight · CE (optionally QuickNAT-weighted) + dice_weight · soft Dice`` selected by ``name``.

    Weighted variants need ``set_class_weights`` (median-frequency weights from the training labels)
    before the first step; the weights are a buffer, so they travel with checkpoints.
    """

    def __init__(
        self,
        name: str = "ce_dice",
        num_classes: int = 2,
        ce_weight: float = 1.0,
        dice_weight: float = 1.0,
        boundary_weight: float = 2.0,
        smooth: float = 1e-5,
        batch_dice: bool = False,
    ) -> None:
        super().__init__()
        if name not in LOSSES:
            raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
        self.name = name
        parts = name.removeprefix("weighted_").split("_")  # "dice" has no CE term ("ce" in "dice" is True)
        self.ce_weight = ce_weight if "ce" in parts else 0.0
        self.dice_weight = dice_weight if "dice" in parts else 0.0
        self.boundary_weight = boundary_weight
        self.smooth = smooth
        self.batch_dice = batch_dice
        self.weighted = name.startswith("weighted")
        self.register_buffer("class_weights", torch.full((num_classes,), float("nan")))

    @property
    def needs_class_weights(self) -> bool:
        return self.weighted and bool(torch.isnan(self.class_weights).any())

    def set_class_weights(self, weights: torch.Tensor) -> None:
        if weights.shape != self.class_weights.shape:
            raise ValueError(f"loss {self.name}: expected {self.class_weights.numel()} class weights, got {tuple(weights.shape)}")
        self.class_weights.copy_(weights)

    def voxel_weights(self, target: torch.Tensor) -> torch.Tensor:
        """QuickNAT's w(x) = median(f)/f_{L(x)} + ω₀·1[|∇L(x)| > 0], same shape as ``target``."""
        if self.needs_class_weights:
            raise RuntimeError(f"loss {self.name}: class weights not set (call set_class_weights first)")
        return self.class_weights[target] + self.boundary_weight * boundary_mask(target)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.ndim != target.ndim + 1 or logits.shape[2:] != target.shape[1:]:
            raise ValueError(f"loss {self.name}: logits {tuple(logits.shape)} do not match target {tuple(target.shape)}")
        logits = at_least_float32(logits)  # mixed precision: bf16/fp16 logits, but softmax, sums and the loss in float32
        loss = logits.new_zeros(())
        if self.ce_weight:
            if self.weighted:
                ce = (F.cross_entropy(logits, target, reduction="none") * self.voxel_weights(target)).mean()
            else:
                ce = F.cross_entropy(logits, target)
            loss = loss + self.ce_weight * ce
        if self.dice_weight:
            loss = loss + self.dice_weight * soft_dice_loss(logits, target, self.smooth, self.batch_dice)
        return loss
