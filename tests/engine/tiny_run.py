"""A tiny trained run on NIfTI files of the phantoms of :mod:`tests.engine.tiny_data` (for ``predict -i``/export)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from medseg.data.readers import write_volume
from medseg.engine.cli import run_lightning_cli
from tests.engine.tiny_data import phantom

AFFINE = np.array([[1.5, 0, 0, -12.0], [0, 1.0, 0, 4.0], [0, 0, 0.8, 7.5], [0, 0, 0, 1]])  # anisotropic, off-origin
SPLITS = {"training": [0, 1], "validation": [2], "test": [3, 4]}


def write_tiny_dataset(root: Path) -> Path:
    """Five phantoms as NIfTI (image + label) and their manifest; returns the manifest path."""
    manifest = {"name": "tiny-files", "labels": {"0": "background", "1": "outer", "2": "inner"}}
    for split, seeds in SPLITS.items():
        manifest[split] = []
        for seed in seeds:
            image, label = phantom(seed)
            sid = f"s{seed:03d}"
            write_volume(root / "images" / f"{sid}.nii.gz", image[0], AFFINE)
            write_volume(root / "labels" / f"{sid}.nii.gz", label.astype(np.uint8), AFFINE)
            manifest[split].append({"id": sid, "image": f"images/{sid}.nii.gz", "label": f"labels/{sid}.nii.gz"})
    path = root / "dataset.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path


def train_tiny_run(tmp: Path) -> Path:
    """Three short epochs (4 batches each) of a small U-Net with scSE on the tiny dataset; returns the run folder."""
    manifest = write_tiny_dataset(tmp / "data")
    config = {
        "seed_everything": 5,
        "trainer": {"default_root_dir": str(tmp / "run"), "max_epochs": 3, "accelerator": "cpu",
                    "logger": False, "enable_progress_bar": False, "enable_model_summary": False},
        "model": {"network": {"name": "unet", "attention": "scse", "options": {"features": 4, "depth": 2, "kernel_size": 3}},
                  "optimizer": {"lr": 0.02}},
        "data": {"manifest": str(manifest), "plane": "axial", "batch_size": 8},
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    run_lightning_cli(["fit", "--config", str(tmp / "config.yaml")])
    return tmp / "run"
