"""Typed sections of the ``model:`` YAML (jsonargparse turns them into nested ``--model.x.y`` options)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from medseg.data.slicing import PLANE_AXIS
from medseg.engine.inference import DEFAULT_VIEW_WEIGHTS, probability_dtype


@dataclass
class NetworkConfig:
    """``medseg.nets.build_network(name, ..., attention, placement, **options)``."""

    name: str = "unet"
    attention: Union[str, dict[str, Any], None] = None
    placement: Union[str, list[str], dict[str, Any]] = "default"  # the preset's: all sites but for quicknat/aimed
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class LossConfig:
    """``ce | weighted_ce | dice | ce_dice | weighted_ce_dice``; see :mod:`medseg.engine.losses`."""

    name: str = "ce_dice"
    ce_weight: float = 1.0
    dice_weight: float = 1.0
    boundary_weight: float = 2.0
    smooth: float = 1e-5
    batch_dice: bool = False  # Dice sums over the whole mini-batch (the authors' DiceLoss, nnU-Net 2D), not per sample
    # auxiliary outputs (medseg.engine.auxiliary_loss); training only, inference ignores them
    deep_supervision: Optional[list[float]] = None  # weights [main, dec2, dec3, ...]; nnU-Net: [1, 0.5, 0.25, ...]
    se_loss: float = 0.2  # EncNet's SE-loss weight, used where an encnet block is placed (0: no SE head)
    aux_weight: float = 1.0  # each block segmentation output (danet_head branches), DANet's equal sum (0: no heads)


@dataclass
class OptimizerConfig:
    """Optimiser ``adam | adamw | sgd`` and optional scheduler ``step | cosine | plateau | poly`` (per epoch;
    ``poly``: nnU-Net's ``lr * (1 - epoch / max_epochs) ** poly_exponent``)."""

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    scheduler: Optional[str] = None
    step_size: int = 10
    gamma: float = 0.1
    monitor: str = "val/mean_dice"
    poly_exponent: float = 0.9


@dataclass
class InferenceConfig:
    """Whole-volume inference in validate/test/predict.

    ``views``: {plane: checkpoint} of the other per-plane models to fuse with this one (QuickNAT
    multi-view, weights ``view_weights``); ``roi_size``: 3D sliding-window patch (None = whole volume);
    ``prob_dtype``: accumulator dtype; ``surface_distances``: add HD95/ASSD (mm) to the test CSV;
    ``surface_dice_tolerance`` τ (mm): add the normalized surface Dice at τ (column ``nsd``; null = off);
    ``save_probabilities``: predict also writes ``<id>_probabilities.nii.gz``; ``mc_samples`` N > 0: MC dropout
    (mean of N passes with dropout active) and predict also writes ``<id>_uncertainty.nii.gz`` (entropy);
    ``min_component_voxels`` N > 0: connected components of a class smaller than N voxels become background in
    validation, test and predict (:mod:`medseg.engine.postprocess`; 0 = off).
    """

    batch_size: int = 16
    view_weights: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_VIEW_WEIGHTS))
    views: dict[str, str] = field(default_factory=dict)
    roi_size: Optional[list[int]] = None
    overlap: float = 0.25
    prob_dtype: str = "float16"
    surface_distances: bool = False
    surface_dice_tolerance: Optional[float] = None
    save_probabilities: bool = False
    mc_samples: int = 0
    min_component_voxels: int = 0

    def __post_init__(self) -> None:
        """Every option checked by name when the config is read, not deep in inference (issue 25 defect 6:
        ``batch_size: -1`` inferred no slice, so test reported Dice 0 and predict wrote all-zero maps)."""
        problems = self._problems()
        if problems:
            raise ValueError("; ".join(f"model.inference.{p}" for p in problems))

    def _problems(self) -> list[str]:
        def whole(value: Any, low: int) -> bool:
            return isinstance(value, int) and not isinstance(value, bool) and value >= low

        def number(value: Any) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        planes = ", ".join(PLANE_AXIS)
        problems = []
        if not whole(self.batch_size, 1):
            problems.append(f"batch_size must be an integer >= 1 (slices or windows per forward pass), got {self.batch_size!r}")
        if not whole(self.mc_samples, 0):
            problems.append(f"mc_samples must be an integer >= 0 (0 = no MC dropout), got {self.mc_samples!r}")
        if not whole(self.min_component_voxels, 0):
            problems.append("min_component_voxels must be an integer >= 0 (0 = keep every component), "
                            f"got {self.min_component_voxels!r}")
        if not number(self.overlap) or not 0 <= self.overlap < 1:
            problems.append(f"overlap must be a number in [0, 1) (sliding-window overlap), got {self.overlap!r}")
        if self.roi_size is not None and (len(self.roi_size) != 3 or not all(whole(r, 1) for r in self.roi_size)):
            problems.append(f"roi_size must be null or 3 integers >= 1 (a 3D patch), got {self.roi_size!r}")
        weights = self.view_weights if isinstance(self.view_weights, dict) else {}
        if not isinstance(self.view_weights, dict) or any(p not in PLANE_AXIS or not number(w) or w < 0 for p, w in weights.items()) \
                or (weights and sum(weights.values()) <= 0):
            problems.append(f"view_weights must map planes ({planes}) to numbers >= 0 with a positive sum, got {self.view_weights!r}")
        if not isinstance(self.views, dict) or any(p not in PLANE_AXIS or not isinstance(v, str) for p, v in self.views.items()):
            problems.append(f"views must map planes ({planes}) to checkpoint paths, got {self.views!r}")
        try:
            probability_dtype(self.prob_dtype)
        except ValueError as error:
            problems.append(str(error).removeprefix("model.inference."))
        for name in ("surface_distances", "save_probabilities"):
            if not isinstance(getattr(self, name), bool):
                problems.append(f"{name} must be true or false, got {getattr(self, name)!r}")
        return problems
