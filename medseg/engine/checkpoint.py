"""Checkpoint files: ``--ckpt_path NAME`` → ``D/checkpoints/NAME.ckpt``, reading with errors that name
the file, the config-vs-checkpoint network check, and saves whose temp file stays beside the target."""

from __future__ import annotations

import dataclasses
import io
import os
from argparse import Namespace
from pathlib import Path
from typing import Any, Mapping, Optional

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from medseg.atomic import atomic_write

CHECKPOINT_NAMES = ("last", "best")  # --ckpt_path NAME → D/checkpoints/NAME.ckpt
# SegmentationModule arguments that define the network: a checkpoint must agree with the config on these.
# The others (loss, optimizer, inference, class_names) follow the config.
NETWORK_KEYS = ("network", "num_classes", "in_channels", "spatial_dims", "plane")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used (unreadable, or made for another network)."""


def named_checkpoint(value: Any, root: str | os.PathLike) -> Optional[Path]:
    """``D/checkpoints/<value>.ckpt`` for ``value`` in :data:`CHECKPOINT_NAMES`; None for a file path."""
    return Path(root) / "checkpoints" / f"{value}.ckpt" if value in CHECKPOINT_NAMES else None


def read_checkpoint(path: str | os.PathLike, what: str = "--ckpt_path") -> dict[str, Any]:
    """Load a Lightning checkpoint on the CPU with ``weights_only=True`` (no pickled code); a missing,
    empty, truncated or foreign file raises an error naming ``what`` and the path."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what}: checkpoint {path} does not exist")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{what}: checkpoint {path} is empty (0 bytes)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - zip, pickle and EOF errors all mean "not a checkpoint"
        raise CheckpointError(f"{what}: {path} is not a readable checkpoint (corrupt, truncated or not a torch "
                              f"file): {_reason(error)}") from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise CheckpointError(f"{what}: {path} is not a Lightning checkpoint (no state_dict)")
    return checkpoint


def _reason(error: Exception) -> str:
    """The informative line of a ``torch.load`` error (its weights-only message is a page of advice)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    marker = next((i for i, line in enumerate(lines) if "WeightsUnpickler error" in line), None)
    if marker is not None and marker + 1 < len(lines):
        return f"not tensors only ({lines[marker + 1]})"
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def plain_config(value: Any) -> Any:
    """Dataclasses, namespaces and mappings → nested dicts (for comparing configs)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    if isinstance(value, Namespace) or hasattr(value, "as_dict"):
        value = value.as_dict() if hasattr(value, "as_dict") else vars(value)
    if isinstance(value, Mapping):
        return {str(k): plain_config(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_config(v) for v in value]
    return value


def _leaves(value: Any, prefix: str) -> dict[str, Any]:
    if isinstance(value, dict) and value:
        return {k: v for key, item in value.items() for k, v in _leaves(item, f"{prefix}.{key}").items()}
    return {prefix: value}


_ABSENT = "<not set>"


def network_conflicts(config: Mapping[str, Any], checkpoint: Mapping[str, Any]) -> list[str]:
    """``model.<key>: config X vs checkpoint Y`` for every network-defining value (:data:`NETWORK_KEYS`,
    nested options included) on which a module's hyper-parameters and a checkpoint's disagree."""
    conflicts = []
    for key in NETWORK_KEYS:
        if key not in config or key not in checkpoint:
            continue
        ours, theirs = _leaves(plain_config(config[key]), f"model.{key}"), _leaves(plain_config(checkpoint[key]), f"model.{key}")
        for name in sorted(set(ours) | set(theirs)):
            a, b = ours.get(name, _ABSENT), theirs.get(name, _ABSENT)
            if a != b:
                conflicts.append(f"{name}: config {a!r} vs checkpoint {b!r}")
    return conflicts


class RunFolderCheckpointIO(TorchCheckpointIO):
    """Saves through :func:`medseg.atomic.atomic_write`: the temp file lies beside the checkpoint, in D,
    so a save killed half-way leaves nothing in the system temp folder (Lightning's own atomic save
    stages the file in ``/tmp`` through an fsspec transaction)."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Optional[Any] = None) -> None:
        if storage_options is not None or "://" in str(path):
            return super().save_checkpoint(checkpoint, path, storage_options)
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write(path, buffer.getvalue())


def load_module(path: str | os.PathLike, what: str = "checkpoint", module_class: Optional[type] = None) -> Any:
    """The ``SegmentationModule`` (or ``module_class``) saved in ``path``, built from its own
    hyper-parameters, on the CPU; unreadable files raise :class:`CheckpointError` naming the path."""
    checkpoint = read_checkpoint(path, what)
    return module_from_weights(module_hparams(checkpoint), checkpoint["state_dict"], f"{what}: {path}", module_class)


def module_hparams(checkpoint: Mapping[str, Any]) -> dict[str, Any]:
    """The module's constructor arguments saved in a checkpoint (Lightning's private ``_*`` keys dropped)."""
    return {k: v for k, v in (checkpoint.get("hyper_parameters") or {}).items() if not k.startswith("_")}


def module_from_weights(hparams: Mapping[str, Any], state_dict: Mapping[str, Any], what: str,
                        module_class: Optional[type] = None) -> Any:
    """A ``SegmentationModule`` (or ``module_class``) built from ``hparams`` holding ``state_dict``; a mismatch
    raises :class:`CheckpointError` starting with ``what`` (the file it came from)."""
    if module_class is None:
        from medseg.engine.module import SegmentationModule as module_class
    try:
        module = module_class(**hparams)
        module.load_state_dict(state_dict)
    except (TypeError, ValueError, RuntimeError, KeyError) as error:
        raise CheckpointError(f"{what} does not hold a {module_class.__name__}: {error}") from error
    return module
