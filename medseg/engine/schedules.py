"""Learning-rate schedules not in ``torch.optim.lr_scheduler`` under this name."""

from __future__ import annotations

import torch


def poly_lr(optimizer: torch.optim.Optimizer, max_epochs: int | None, exponent: float = 0.9) -> torch.optim.lr_scheduler.LambdaLR:
    """nnU-Net's poly schedule, stepped per epoch: ``lr_e = lr * (1 - e / max_epochs) ** exponent``."""
    if not max_epochs or max_epochs < 1:
        raise ValueError(f"model.optimizer.scheduler poly needs trainer.max_epochs >= 1, got {max_epochs}")
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda e: max(0.0, 1.0 - e / max_epochs) ** exponent)
