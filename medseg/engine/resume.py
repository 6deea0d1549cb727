"""Resuming a fit under the config's optimizer settings, not the checkpoint's.

Lightning restores the optimizer and scheduler *states* of a checkpoint (moments, step counts, the current
learning rate), so a changed ``model.optimizer.lr`` would silently have no effect. medseg keeps the state
and applies the config on top of it: the learning rate is rescaled by ``lr_config / lr_checkpoint`` (the
schedule goes on from where it was, with the new base rate), ``weight_decay``, ``momentum`` (SGD),
``step_size``/``gamma`` (step), ``gamma`` (plateau factor) are set; ``poly_exponent`` already follows the
config because ``LambdaLR`` rebuilds its function from it. A different optimizer or scheduler cannot
reuse the saved state: that is an error naming both values (:func:`optimizer_conflicts`).

The data a fit trains on cannot change on resume either (issue 25 defect 13): :func:`dataset_changes`
compares the ``data:`` keys that choose the subjects with those of the run's original ``D/config.yaml``.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch

STATE_DEFINING = ("name", "scheduler")
# data keys that choose the training and validation subjects (seed: the fold split's, so only with a fold)
DATASET_KEYS = ("manifest", "root", "fold", "num_folds", "seed")


def dataset_changes(original: Mapping[str, Any], resumed: Mapping[str, Any]) -> list[str]:
    """``data.<key>: original X vs resumed Y`` for the dataset-defining keys that differ between the
    ``data:`` sections of the run's first config and a resumed fit's."""
    keys = [k for k in DATASET_KEYS if k != "seed" or original.get("fold") is not None or resumed.get("fold") is not None]
    return [f"data.{key}: original {original.get(key)!r} vs resumed {resumed.get(key)!r}"
            for key in keys if (key in original or key in resumed) and original.get(key) != resumed.get(key)]


def optimizer_conflicts(config: Mapping[str, Any], checkpoint: Mapping[str, Any]) -> list[str]:
    """``model.optimizer.<key>: config X vs checkpoint Y`` for the keys whose saved state cannot carry over."""
    return [
        f"model.optimizer.{key}: config {config.get(key)!r} vs checkpoint {checkpoint.get(key)!r}"
        for key in STATE_DEFINING
        if key in checkpoint and config.get(key) != checkpoint.get(key)
    ]


def apply_optimizer_config(
    optimizer: torch.optim.Optimizer, schedulers: Iterable[Any], config: Mapping[str, Any], checkpoint: Mapping[str, Any]
) -> list[str]:
    """Put the config's settings into a restored ``optimizer`` (and its ``schedulers``); returns what changed
    as ``key: checkpoint -> config`` lines (empty when nothing did, and then nothing is touched)."""
    conflicts = optimizer_conflicts(config, checkpoint)
    if conflicts:
        raise ValueError("cannot resume with another optimizer or scheduler:\n  " + "\n  ".join(conflicts))
    changed = [f"model.optimizer.{k}: {checkpoint[k]!r} -> {config[k]!r}" for k in config
               if k in checkpoint and config[k] != checkpoint[k]]
    if not changed:
        return []
    schedulers = list(schedulers)
    scale = float(config["lr"]) / float(checkpoint["lr"]) if checkpoint.get("lr") else 1.0
    for group in optimizer.param_groups:
        group["lr"] *= scale
        if "initial_lr" in group:
            group["initial_lr"] *= scale
        group["weight_decay"] = config["weight_decay"]
        if "momentum" in group and config.get("name") == "sgd":
            group["momentum"] = config["momentum"]
    for scheduler in schedulers:
        if hasattr(scheduler, "base_lrs"):
            scheduler.base_lrs = [lr * scale for lr in scheduler.base_lrs]
        if hasattr(scheduler, "_last_lr"):
            scheduler._last_lr = [group["lr"] for group in optimizer.param_groups]
        if isinstance(scheduler, torch.optim.lr_scheduler.StepLR):
            scheduler.step_size, scheduler.gamma = config["step_size"], config["gamma"]
        if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
            scheduler.factor = config["gamma"]
    return changed
