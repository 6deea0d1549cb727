"""Why a fit stopped: ``D/results/training.json``, written atomically at the end of every fit.

``stop_reason`` is detected from the trainer, whatever callbacks the config adds:
``early_stopping`` (an ``EarlyStopping`` callback with ``stopped_epoch > 0``), ``max_time`` (the Timer
that ``trainer.max_time`` installs has no time left), ``max_epochs`` / ``max_steps`` (the loop reached
its limit), ``interrupted`` (Ctrl-C), ``terminated`` (SIGTERM: ``kill``, ``timeout``, a scheduler),
``error`` (an exception; ``error`` names it) or ``stopped`` (something else set ``trainer.should_stop``).
The first four mean the fit ran to its budget (:func:`budget_met`); ``medseg sweep`` tests a run only then
(issue 25 defect 2). Also recorded: the budget (``max_epochs``, ``max_time`` in seconds,
``max_steps``), ``epochs`` completed, ``global_step``, ``train_seconds`` (summed over resumed fits: the
count travels in the checkpoints), the ``precision`` the fit ran in, and the early-stopping settings when
there is such a callback.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback, EarlyStopping, Timer
from lightning.pytorch.utilities.exceptions import SIGTERMException

from medseg.atomic import atomic_write

TRAINING_NAME = "training.json"
BUDGET_REASONS = ("early_stopping", "max_time", "max_epochs", "max_steps")


def budget_met(run_dir: str | Path) -> tuple[bool, str]:
    """``(True, reason)`` when ``run_dir/results/training.json`` says the last fit ran to its budget (a stop
    reason in :data:`BUDGET_REASONS`), else ``(False, why not)``; a missing or unreadable record is not."""
    path = Path(run_dir) / "results" / TRAINING_NAME
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False, f"{path} does not exist (the fit never finished)"
    except (OSError, ValueError) as error:
        return False, f"{path} is unreadable ({type(error).__name__}: {error})"
    reason = record.get("stop_reason") if isinstance(record, dict) else None
    if reason in BUDGET_REASONS:
        return True, str(reason)
    return False, f"{path} says the fit stopped with {reason!r} after {record.get('epochs') if isinstance(record, dict) else '?'} epoch(s), before its budget"


def stop_reason(trainer: pl.Trainer) -> str:
    """The reason a finished fit loop stopped (see the module docstring)."""
    if any(cb.stopped_epoch > 0 for cb in trainer.callbacks if isinstance(cb, EarlyStopping)):
        return "early_stopping"
    for cb in trainer.callbacks:
        if isinstance(cb, Timer) and (remaining := cb.time_remaining()) is not None and remaining <= 0:
            return "max_time"
    loop = trainer.fit_loop
    if loop.max_epochs is not None and loop.max_epochs >= 0 and trainer.current_epoch >= loop.max_epochs:
        return "max_epochs"
    if trainer.max_steps is not None and trainer.max_steps >= 0 and trainer.global_step >= trainer.max_steps:
        return "max_steps"
    return "stopped"


class StopReasonCallback(Callback):
    """Writes ``<default_root_dir>/results/training.json`` when a fit ends, is interrupted or fails."""

    def __init__(self) -> None:
        self.train_seconds = 0.0
        self._started: float | None = None

    def state_dict(self) -> dict[str, Any]:
        return {"train_seconds": self._elapsed()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.train_seconds = float(state_dict.get("train_seconds", 0.0))

    def _elapsed(self) -> float:
        return self.train_seconds + (time.monotonic() - self._started if self._started is not None else 0.0)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._started = time.monotonic()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write(trainer, stop_reason(trainer))

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if trainer.state.fn != "fit":
            return
        if isinstance(exception, (KeyboardInterrupt, SIGTERMException)):
            self._write(trainer, "interrupted" if isinstance(exception, KeyboardInterrupt) else "terminated")
        else:
            self._write(trainer, "error", f"{type(exception).__name__}: {exception}")

    def _write(self, trainer: pl.Trainer, reason: str, error: str | None = None) -> None:
        if not trainer.is_global_zero:
            return
        timer = next((cb for cb in trainer.callbacks if isinstance(cb, Timer)), None)
        record: dict[str, Any] = {
            "stop_reason": reason,
            "epochs": trainer.current_epoch,
            "global_step": trainer.global_step,
            "max_epochs": trainer.max_epochs,
            "max_time": getattr(timer, "_duration", None),
            "max_steps": trainer.max_steps,
            "train_seconds": round(self._elapsed(), 3),
            "precision": str(trainer.precision),  # as run: cpu_bf16 may have chosen it (medseg.engine.precision)
        }
        stoppers = [cb for cb in trainer.callbacks if isinstance(cb, EarlyStopping)]
        if stoppers:
            es = stoppers[0]
            best = float(es.best_score)
            record["early_stopping"] = {"monitor": es.monitor, "mode": es.mode, "patience": es.patience,
                                        "min_delta": abs(float(es.min_delta)), "stopped_epoch": es.stopped_epoch,
                                        "best_score": best if math.isfinite(best) else None}
        if error is not None:
            record["error"] = error
        path = Path(trainer.default_root_dir) / "results" / TRAINING_NAME
        atomic_write(path, json.dumps(record, indent=2, allow_nan=True) + "\n")
