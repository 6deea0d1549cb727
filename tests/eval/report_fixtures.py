"""Hand-made run folders (results/summary.json + dice_per_structure.csv) for report tests."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

SUBJECTS = ["s1", "s2", "s3", "s4", "s5", "s6"]
# per-subject mean foreground Dice the fixtures are built to have
NONE_MEANS = [0.70, 0.60, 0.50, 0.80, 0.40, 0.65]
SCSE_MEANS = [0.75, 0.58, 0.53, 0.81, 0.47, 0.61]
ENCODER_MEANS = [0.72, 0.61, 0.52, 0.79, 0.45, 0.66]


def write_run(root: Path, name: str, network: str, attention, placement, means, shift: float = 0.0,
              params: int = 1000, attention_params: int = 0) -> Path:
    """Structure A = m + 0.1 + shift, B = m - 0.1 + shift (NaN for the last subject, so A = m there);
    background rows (structure_id 0) must be ignored by the report."""
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


def isnan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)
