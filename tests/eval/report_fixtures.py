"""Hand-made run folders (results/summary.json + dice_per_structure.csv, optionally config.yaml,
results/training.json and CSV logs) for report tests."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import yaml

SUBJECTS = ["s1", "s2", "s3", "s4", "s5", "s6"]
# per-subject mean foreground Dice the fixtures are built to have
NONE_MEANS = [0.70, 0.60, 0.50, 0.80, 0.40, 0.65]
SCSE_MEANS = [0.75, 0.58, 0.53, 0.81, 0.47, 0.61]
ENCODER_MEANS = [0.72, 0.61, 0.52, 0.79, 0.45, 0.66]
# learning curves (validation mean Dice per epoch) of 20 epochs: a plateau and a still-rising one
PLATEAU = [0.7 * (1 - math.exp(-e / 2)) for e in range(20)]
RISING = [0.035 * e for e in range(20)]


def write_metrics(run: Path, version: int, val_dice, train_loss, first_epoch: int = 0) -> Path:
    """A Lightning CSVLogger file: per epoch one validation row and one train-loss row (blank cells)."""
    path = run / "csv" / f"version_{version}" / "metrics.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "step", "train/loss_epoch", "train/loss_step", "val/mean_dice"])
        for i, (v, loss) in enumerate(zip(val_dice, train_loss)):
            e = first_epoch + i
            w.writerow([e, 10 * e + 9, "", loss + 0.01, ""])
            w.writerow([e, 10 * e + 9, "", "", v])
            w.writerow([e, 10 * e + 9, loss, "", ""])
    return path


def write_run(root: Path, name: str, network: str, attention, placement, means, shift: float = 0.0,
              params: int = 1000, attention_params: int = 0, seed: int | None = None, curve=None,
              stop_reason: str | None = None, trainer: dict | None = None, network_options: dict | None = None) -> Path:
    """Structure A = m + 0.1 + shift, B = m - 0.1 + shift (NaN for the last subject, so A = m there);
    background rows (structure_id 0) must be ignored by the report. ``seed``/``trainer`` → config.yaml,
    ``network_options`` → config.yaml's model.network.options,
    ``curve`` → csv/version_0/metrics.csv (train loss = 1 - Dice), ``stop_reason`` → results/training.json."""
    run = root / name
    (run / "results").mkdir(parents=True)
    summary = {"network": network, "attention": attention, "placement": placement, "dataset": "toy",
               "params": params, "attention_params": attention_params, "num_subjects": len(means)}
    (run / "results" / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    with (run / "results" / "dice_per_structure.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["subject", "structure_id", "structure", "dice"])
        for i, (s, m) in enumerate(zip(SUBJECTS, means)):
            last = i == len(means) - 1
            w.writerow([s, 0, "background", 0.99])
            w.writerow([s, 1, "A", (m if last else m + 0.1) + shift])
            w.writerow([s, 2, "B", "nan" if last else m - 0.1 + shift])
    if seed is not None or trainer is not None:
        config = {"seed_everything": seed, "trainer": trainer or {"max_epochs": 20}}
        if network_options is not None:
            config["model"] = {"network": {"name": network, "options": network_options}}
        (run / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    if curve is not None:
        write_metrics(run, 0, curve, [1 - v for v in curve])
    if stop_reason is not None:
        record = {"stop_reason": stop_reason, "epochs": len(curve or []), "train_seconds": 120.0 * len(curve or []) + 1.0}  # 2 min per epoch
        (run / "results" / "training.json").write_text(json.dumps(record), encoding="utf-8")
    return run


def make_grid(root: Path) -> list[Path]:
    """unet: none, scse (two seeds, ±0.01 around SCSE_MEANS), scse@encoder; sdnet: none only."""
    return [
        write_run(root, "unet-none", "unet", "none", "all", NONE_MEANS),
        write_run(root, "unet-scse-s0", "unet", {"name": "scse", "aggregation": "add"}, "all", SCSE_MEANS, 0.01,
                  params=1100, attention_params=100),
        write_run(root, "unet-scse-s1", "unet", "scse", "all", SCSE_MEANS, -0.01, params=1100, attention_params=100),
        write_run(root, "unet-scse-enc", "unet", "scse", "encoder", ENCODER_MEANS, params=1050, attention_params=50),
        write_run(root, "sdnet-none", "sdnet", None, None, NONE_MEANS, params=500),
    ]


# seed shifts of the two-seed grid: seed 0 scores +SEED_SHIFT, seed 1 -SEED_SHIFT (per subject)
SEED_SHIFT = {"none": 0.02, "scse": 0.03}


def make_seed_grid(root: Path, trainer: dict | None = None) -> list[Path]:
    """unet × {none, scse} × seeds {0, 1}, with config.yaml, CSV logs and training.json: every run
    plateaus except scse seed 1, which is still rising (stopped by max_epochs)."""
    runs = []
    for variant, means in (("none", NONE_MEANS), ("scse", SCSE_MEANS)):
        for seed in (0, 1):
            rising = variant == "scse" and seed == 1
            shift = SEED_SHIFT[variant] * (1 if seed == 0 else -1)
            runs.append(write_run(root, f"unet-{variant}-seed{seed}", "unet", variant, "all", means, shift,
                                  params=1100 if variant == "scse" else 1000, seed=seed,
                                  curve=np.add(RISING if rising else PLATEAU, 0.01 * seed).tolist(),
                                  stop_reason="max_epochs" if rising else "early_stopping", trainer=trainer))
    return runs


def isnan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)
