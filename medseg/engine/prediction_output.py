"""The files one prediction writes, on the input's own grid and affine (``medseg predict``, both forms).

``<name>.nii.gz``: labels (uint8, int16 above 256 classes); with ``inference.save_probabilities`` also
``<name>_probabilities.nii.gz`` (X, Y, Z, K); with MC dropout (``inference.mc_samples``) also
``<name>_uncertainty.nii.gz`` (entropy of the mean probabilities). Beside them, once per folder, the viewer
label tables of :mod:`medseg.eval.label_tables`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from medseg.data.preprocess import to_original_grid
from medseg.data.readers import write_volume
from medseg.engine.config import InferenceConfig
from medseg.engine.postprocess import labels_from_probabilities
from medseg.engine.uncertainty import entropy


def prediction_paths(out_dir: Path, name: str, inference: InferenceConfig) -> list[Path]:
    """Every file :func:`write_prediction` writes for ``name``."""
    paths = [out_dir / f"{name}.nii.gz"]
    if inference.save_probabilities:
        paths.append(out_dir / f"{name}_probabilities.nii.gz")
    if inference.mc_samples:
        paths.append(out_dir / f"{name}_uncertainty.nii.gz")
    return paths


def write_prediction(out_dir: Path, name: str, probs: torch.Tensor, meta: Mapping[str, Any], num_classes: int,
                     inference: InferenceConfig) -> list[Path]:
    """Write the prediction ``probs`` (K, X, Y, Z) of one volume with ``meta`` (batched or not) under ``out_dir``."""
    original_affine = np.asarray(meta["original_affine"], dtype=np.float64).reshape(4, 4)
    paths = prediction_paths(Path(out_dir), name, inference)
    labels = labels_from_probabilities(probs, inference.min_component_voxels).astype(np.uint8 if num_classes <= 256 else np.int16)
    write_volume(paths[0], to_original_grid(labels, meta, order=0), original_affine)
    if inference.save_probabilities:
        on_grid = to_original_grid(probs.float().cpu().numpy(), meta, order=1)
        write_volume(paths[1], np.moveaxis(on_grid, 0, -1), original_affine)
    if inference.mc_samples:
        uncertainty = to_original_grid(entropy(probs).cpu().numpy(), meta, order=1)
        write_volume(paths[-1], uncertainty.astype(np.float32), original_affine)
    return paths
