"""Learning-rate schedules not in ``torch.optim.lr_scheduler`` under this name."""

from __future__ import annotations

from typing import Callable

import torch


def poly_lr(
    optimizer: torch.optim.Optimizer, max_epochs: int | None, exponent: float = 0.9, time_progress: Callable[[], float] | None = None
) -> torch.optim.lr_scheduler.LambdaLR:
    """nnU-Net's poly schedule, stepped per epoch: ``lr_e = lr * (1 - p) ** exponent`` with ``p = e / max_epochs``.

    Under a wall-clock budget (``trainer.max_time``), ``time_progress()`` gives the fraction of the budget
    spent and ``p`` is the larger of the two, so the rate decays to 0 by whichever limit comes first.
    """
    if not max_epochs or max_epochs < 1:
        raise ValueError(f"model.optimizer.scheduler poly needs trainer.max_epochs >= 1, got {max_epochs}")

    def factor(epoch: int) -> float:
        progress = max(epoch / max_epochs, time_progress() if time_progress is not None else 0.0)
        return max(0.0, 1.0 - progress) ** exponent

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
