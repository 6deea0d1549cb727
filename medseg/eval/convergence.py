"""Learning curves from a run's CSV logs, and the "not converged" rule of the report.

Curves: ``D/csv/version_*/metrics.csv`` (Lightning's CSVLogger; a resumed fit, ``medseg test`` and
``medseg predict`` each add a version). Per epoch we read ``val/mean_dice`` and ``train/loss_epoch``;
versions are merged in numeric order and a later version's value for an epoch replaces an earlier one
(a fit resumed from ``last.ckpt`` repeats the epoch that was interrupted).

Rule (``still_rising``): a run is **not converged** when the best validation mean Dice within its last
10 % of validation epochs (at least one epoch) exceeds the best before them by more than 0.005 Dice —
i.e. validation Dice was still rising at the end. A curve that climbs by less than that over its
last tenth (a plateau) counts as converged; a run stopped by early stopping with ``min_delta`` ≤ 0.005
is converged by construction. Fewer than 3 validation epochs: undecidable (``None``).
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

VAL_KEY = "val/mean_dice"
LOSS_KEY = "train/loss_epoch"
LAST_FRACTION = 0.10
RISE_TOLERANCE = 0.005
MIN_EPOCHS = 3


@dataclass
class Curve:
    """Per-epoch values of one run (epochs ascending; absent → the epoch is missing from that list)."""

    val_epochs: list[int] = field(default_factory=list)
    val_dice: list[float] = field(default_factory=list)
    loss_epochs: list[int] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.val_epochs and not self.loss_epochs


def _float(text: str | None) -> float:
    try:
        return float(text) if text not in (None, "") else math.nan
    except (TypeError, ValueError):
        return math.nan


def read_curve(run_dir: str | Path) -> Curve:
    """Merge ``run_dir/csv/version_*/metrics.csv`` into one per-epoch curve (see the module docstring)."""
    versions = sorted(Path(run_dir).glob("csv/version_*/metrics.csv"),
                      key=lambda p: int(m.group(1)) if (m := re.fullmatch(r"version_(\d+)", p.parent.name)) else -1)
    val: dict[int, float] = {}
    loss: dict[int, float] = {}
    for path in versions:
        try:
            with path.open(newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
        except (UnicodeDecodeError, csv.Error) as error:  # issue 25 defect 23: name the file
            raise ValueError(f"{path} is not a readable CSV log ({error}); delete it or its version folder") from None
        for row in rows:
            epoch = _float(row.get("epoch"))
            if not math.isfinite(epoch):
                continue
            for key, target in ((VAL_KEY, val), (LOSS_KEY, loss)):
                value = _float(row.get(key))
                if math.isfinite(value):
                    target[int(epoch)] = value
    return Curve(sorted(val), [val[e] for e in sorted(val)], sorted(loss), [loss[e] for e in sorted(loss)])


def still_rising(values: Sequence[float], fraction: float = LAST_FRACTION, tolerance: float = RISE_TOLERANCE,
                 min_epochs: int = MIN_EPOCHS) -> bool | None:
    """True when max(last ⌈fraction·n⌉ values) − max(the values before them) > ``tolerance``.

    ``values``: validation mean Dice per validation epoch, in order (NaN entries are ignored).
    None when fewer than ``min_epochs`` finite values (undecidable).
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size < max(min_epochs, 2):
        return None
    tail = max(1, math.ceil(fraction * v.size))
    return bool(v[-tail:].max() - v[:-tail].max() > tolerance)


def best_epoch(curve: Curve) -> int | None:
    """Epoch of the highest validation mean Dice (the first one on ties); None without validation."""
    if not curve.val_dice:
        return None
    return curve.val_epochs[int(np.nanargmax(curve.val_dice))] if np.isfinite(curve.val_dice).any() else None
