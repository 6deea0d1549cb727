"""The YAML ``selection:`` section: best checkpoint and early stopping on a validation metric.

``D/checkpoints/best.ckpt`` (beside ``last.ckpt``) holds the epoch with the best ``monitor`` so far
(``medseg test --ckpt_path best``); with ``patience`` set, a plain Lightning ``EarlyStopping`` stops the
fit after ``patience`` validations without an improvement of more than ``min_delta`` (its
``stopped_epoch`` tells when). Both only act on epochs that ran validation.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from lightning.pytorch.callbacks import Callback, EarlyStopping

from medseg.engine.callbacks import AtomicModelCheckpoint


@dataclass
class SelectionConfig:
    """``monitor``/``mode``: the validation metric and its direction; ``best``: keep ``best.ckpt``;
    ``patience``: early stopping after that many validations without improvement (null = off)."""

    monitor: str = "val/mean_dice"
    mode: str = "max"
    best: bool = True
    patience: Optional[int] = None
    min_delta: float = 0.0


def selection_callbacks(checkpoints: Path, config: SelectionConfig) -> list[Callback]:
    """``best.ckpt`` checkpointing and early stopping as configured."""
    if config.mode not in ("max", "min"):
        raise ValueError(f"selection.mode must be max or min, got {config.mode!r}")
    if config.patience is not None and config.patience < 1:
        raise ValueError(f"selection.patience must be at least 1 (or null), got {config.patience}")
    callbacks: list[Callback] = []
    if config.best:
        callbacks.append(AtomicModelCheckpoint(
            dirpath=checkpoints, filename="best", monitor=config.monitor, mode=config.mode, save_top_k=1,
            save_last=False, auto_insert_metric_name=False, enable_version_counter=False,
        ))  # fmt: skip
    if config.patience is not None:
        callbacks.append(EarlyStopping(monitor=config.monitor, mode=config.mode, patience=config.patience,
                                       min_delta=config.min_delta, check_on_train_epoch_end=False))  # fmt: skip
    return callbacks
