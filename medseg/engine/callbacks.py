"""Callbacks: atomic checkpoints, RNG state in checkpoints (exact resume), checkpoints at wall-clock budgets."""

from __future__ import annotations

import os
import random
import time
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from medseg.engine.checkpoint import RunFolderCheckpointIO


class AtomicModelCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose files appear whole: saved to ``<name>.tmp`` then ``os.replace``d, so a
    fit killed while saving leaves the previous ``last.ckpt`` intact.

    With ``save_last`` it writes ``last.ckpt`` at the end of *every* epoch (after validation when there
    is one), also with ``save_top_k=0``: Lightning alone writes "last" only beside a top-k save, or at
    the end of training, so a killed fit would have nothing to resume from.

    It also makes the trainer save through :class:`RunFolderCheckpointIO` (unless another checkpoint IO
    was configured), so every temp file of a save lies in ``dirpath``; a killed save leaves at most a
    ``*.tmp`` there, which the next run in D removes (:func:`medseg.run_folder.remove_stale_temp_files`)."""

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        if type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = RunFolderCheckpointIO()

    def _save_last_each_epoch(self, trainer: pl.Trainer, at_train_epoch_end: bool) -> None:
        if (
            self.save_last
            and not self._should_skip_saving_checkpoint(trainer)  # also skips a step already saved
            and self._should_save_on_train_epoch_end(trainer) == at_train_epoch_end
        ):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        self._save_last_each_epoch(trainer, at_train_epoch_end=True)

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        self._save_last_each_epoch(trainer, at_train_epoch_end=False)

    def _save_checkpoint(self, trainer: pl.Trainer, filepath: str) -> None:
        tmp = f"{filepath}.tmp"
        super()._save_checkpoint(trainer, tmp)
        if trainer.is_global_zero:
            os.replace(tmp, filepath)
        trainer.strategy.barrier("atomic_checkpoint")
        self._last_checkpoint_saved = filepath


class RNGStateCallback(Callback):
    """Stores the torch, numpy and python RNG states in each checkpoint and restores them on resume, so
    epoch k+1 of a resumed fit draws the same shuffles and augmentations as an uninterrupted one.
    States are plain tensors and lists, so checkpoints stay loadable with ``weights_only=True``.
    (Lightning runs the sanity check under ``isolate_rng``, so it does not disturb the restored state.)"""

    def state_dict(self) -> dict[str, Any]:
        kind, keys, pos, has_gauss, gauss = np.random.get_state()
        version, state, gauss_next = random.getstate()
        return {
            "torch": torch.get_rng_state(),
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
            "python": [version, list(state), gauss_next],
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        kind, keys, pos, has_gauss, gauss = state_dict["numpy"]
        np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
        version, state, gauss_next = state_dict["python"]
        random.setstate((version, tuple(state), gauss_next))


class WallClockCheckpoints(Callback):
    """Saves ``D/checkpoints/at-<m>min.ckpt`` when the fit has run ``m`` minutes of wall time (from the start of
    training, validation included), for each ``m`` in ``minutes``: the budget points of a time-to-Dice curve
    (issue 24; nnU-Net and the MONAI recipe are checkpointed at the same wall times). Checked after every
    training batch; the elapsed time is kept in checkpoints, so a resumed fit continues its clock.

        trainer.callbacks: [{class_path: medseg.engine.callbacks.WallClockCheckpoints, init_args: {minutes: [5, 15, 45]}}]
    """

    def __init__(self, minutes: list[float]) -> None:
        if not minutes or any(not isinstance(m, (int, float)) or isinstance(m, bool) or m < 0 for m in minutes):
            raise ValueError(f"WallClockCheckpoints: minutes must be a non-empty list of numbers >= 0, got {minutes!r}")
        self.minutes = sorted(float(m) for m in minutes)
        self.before = 0.0  # seconds run by the fit this one resumes
        self._start: float | None = None
        self.saved: list[float] = []

    def state_dict(self) -> dict[str, Any]:
        return {"seconds": self.elapsed(), "saved": list(self.saved)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.before, self.saved = float(state_dict.get("seconds", 0.0)), list(state_dict.get("saved", []))

    def elapsed(self) -> float:
        return self.before + (time.monotonic() - self._start if self._start is not None else 0.0)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.monotonic()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        seconds = self.elapsed()
        due = [m for m in self.minutes if m not in self.saved and seconds >= 60.0 * m]
        if not due:
            return
        root = trainer.default_root_dir
        for m in due:
            self.saved.append(m)  # before saving, so the checkpoint records itself as saved
        for m in due:
            trainer.save_checkpoint(os.path.join(root, "checkpoints", f"at-{m:g}min.ckpt"))
