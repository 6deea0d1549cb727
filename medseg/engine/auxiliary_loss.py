"""The training loss with auxiliary outputs (:mod:`medseg.nets.auxiliary`), weighted from ``model.loss``.

total = main + se_loss * mean_heads BCE(se_logits, presence) + aux_weight * sum_heads L(up(aux_logits), y), where
- main = L(logits, y), or with deep supervision weights w_0..w_{L-1} (``model.loss.deep_supervision``,
  nnU-Net's halving [1, 0.5, 0.25, ...]; w_0 for the main output, w_i for decoder level dec(i+1)):
  main = sum_i w_i L(out_i, y_i) / sum_i w_i (normalised as nnU-Net), y_i = the label map resized to out_i's
  grid by nearest-exact interpolation (nnU-Net's order-0 label resampling for its deep-supervision targets);
- the SE-loss (EncNet, Zhang et al. 2018, Sec. 3.2): BCE on logits (mmseg's stable form; the official code
  applies BCELoss to sigmoid outputs) against the class-presence vector of each sample: presence[b, c] = 1
  iff class c has a voxel in sample b. The background class 0 counts like every class (the official target,
  a histogram over all class ids); weight 0.2 as the official ``--se-weight``; the mean over SE heads when
  several sites have one;
- block segmentation outputs (DANet's branch classifiers): upsampled to the label grid (bi/trilinear, as
  DANet upsamples its outputs), each with weight ``aux_weight`` (DANet sums its three losses equally).
L is the configured segmentation loss.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from medseg.engine.acceleration import at_least_float32
from medseg.nets.auxiliary import AuxiliaryOutputs

INTERPOLATION = {4: "bilinear", 5: "trilinear"}


def class_presence(target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """(B, *spatial) integer labels -> (B, num_classes) float: 1 where the class occurs in the sample."""
    flat = target.reshape(target.shape[0], -1)
    presence = torch.zeros(target.shape[0], num_classes, dtype=torch.bool, device=target.device)
    presence.scatter_(1, flat, True)
    return presence.float()


def se_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of (B, classes) presence logits against :func:`class_presence`."""
    logits = at_least_float32(logits)
    return F.binary_cross_entropy_with_logits(logits, class_presence(target, logits.shape[1]).to(logits))


def resize_labels(target: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """(B, *spatial) labels -> (B, *size) by nearest-exact interpolation (labels stay labels)."""
    if tuple(target.shape[1:]) == tuple(size):
        return target
    resized = F.interpolate(target[:, None].float(), size=tuple(size), mode="nearest-exact")
    return resized[:, 0].to(target.dtype)


def check_deep_supervision(weights: Sequence[float] | None) -> list[float]:
    """The weights as floats; each >= 0, the first > 0 (the main output is always supervised)."""
    if not weights:
        return []
    out = [float(w) for w in weights]
    if any(w < 0 for w in out) or out[0] <= 0:
        raise ValueError(f"model.loss.deep_supervision: weights must be >= 0 with the first (main output) > 0, got {list(weights)}")
    return out


def deep_supervision_loss(
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    outputs: Sequence[torch.Tensor],
    target: torch.Tensor,
    weights: Sequence[float],
) -> torch.Tensor:
    """sum_i w_i L(out_i, resize(y, out_i)) / sum_i w_i over the outputs from full resolution down."""
    if len(outputs) != len(weights):
        raise ValueError(f"deep supervision: {len(outputs)} outputs for {len(weights)} weights")
    total = sum(w * criterion(out, resize_labels(target, out.shape[2:])) for w, out in zip(weights, outputs) if w)
    return total / sum(weights)


def training_loss(
    criterion: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    logits: torch.Tensor,
    aux: AuxiliaryOutputs | None,
    target: torch.Tensor,
    deep_supervision: Sequence[float] = (),
    se_weight: float = 0.2,
    aux_weight: float = 1.0,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(total loss, its terms by name: ``main``, ``se``, ``aux``) as in the module docstring."""
    terms: dict[str, torch.Tensor] = {}
    if aux is not None and aux.deep and deep_supervision:
        outputs = [logits] + [aux.deep[f"dec{k}"] for k in range(2, len(deep_supervision) + 1)]
        terms["main"] = deep_supervision_loss(criterion, outputs, target, deep_supervision)
    else:
        terms["main"] = criterion(logits, target)
    total = terms["main"]
    if aux is not None and aux.presence and se_weight:
        terms["se"] = torch.stack([se_loss(p, target) for p in aux.presence.values()]).mean()
        total = total + se_weight * terms["se"]
    if aux is not None and aux.segmentation and aux_weight:
        mode = INTERPOLATION[logits.ndim]
        up = [F.interpolate(a, size=target.shape[1:], mode=mode, align_corners=False) for a in aux.segmentation.values()]
        terms["aux"] = torch.stack([criterion(a, target) for a in up]).sum()
        total = total + aux_weight * terms["aux"]
    return total, terms
