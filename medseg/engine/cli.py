"""``medseg fit|validate|test|predict``: LightningCLI over ``SegmentationModule`` and the data module.

Run folder D = ``trainer.default_root_dir``. The CLI adds, for every subcommand:
``D/config.yaml`` (fit; other subcommands ``D/config_<subcommand>.yaml``), ``D/checkpoints/last.ckpt``
each epoch (written atomically, RNG states included), ``D/checkpoints/best.ckpt`` and early stopping from
the ``selection:`` section, ``--ckpt_path NAME`` (``last``, ``best``: a bare name) resolved to
``D/checkpoints/NAME.ckpt`` (fit starts fresh with a warning if it does not exist yet; the other
subcommands fail), and loggers
from the ``logging:`` section (CSV by default; wandb offline by default; TensorBoard optional) unless
``trainer.logger`` is given explicitly.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger

from medseg.engine.callbacks import AtomicModelCheckpoint, RNGStateCallback
from medseg.engine.module import SegmentationModule
from medseg.engine.selection import SelectionConfig, selection_callbacks

DEFAULT_ROOT = "runs/default"


@dataclass
class LoggingConfig:
    """Loggers written under D. ``wandb_mode``: ``offline`` (default, no network; ``wandb sync D/wandb/offline-run-*``
    uploads later), ``online`` or ``disabled``."""

    csv: bool = True
    wandb: bool = False
    wandb_mode: str = "offline"
    wandb_project: str = "medseg"
    tensorboard: bool = False


def _root(trainer_config: Any) -> Path:
    return Path(trainer_config.get("default_root_dir") or DEFAULT_ROOT)


class RunFolderConfig(SaveConfigCallback):
    """Saves the resolved config into D itself (not a logger's version folder)."""

    def setup(self, trainer: Trainer, pl_module: Any, stage: str) -> None:
        if self.already_saved:
            return
        if trainer.is_global_zero:
            root = Path(trainer.default_root_dir)
            root.mkdir(parents=True, exist_ok=True)
            self.parser.save(self.config, root / self.config_filename, skip_none=False, overwrite=True, multifile=False)
        self.already_saved = True


class MedsegCLI(LightningCLI):
    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        for key in ("num_classes", "in_channels", "spatial_dims", "plane", "class_names"):
            parser.link_arguments(f"data.{key}", f"model.{key}", apply_on="instantiate")
        parser.add_class_arguments(LoggingConfig, "logging")
        parser.add_class_arguments(SelectionConfig, "selection")
        parser.set_defaults({"trainer.default_root_dir": DEFAULT_ROOT})

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        name = "config.yaml" if self.subcommand == "fit" else f"config_{self.subcommand}.yaml"
        self.save_config_kwargs = {**self.save_config_kwargs, "config_filename": name}
        name = config.get("ckpt_path")
        if name in ("last", "best"):
            last = _root(config.trainer) / "checkpoints" / f"{name}.ckpt"
            if last.is_file():
                config.ckpt_path = str(last)
            elif self.subcommand == "fit":
                warnings.warn(f"--ckpt_path {name}: {last} does not exist yet; starting a new fit", stacklevel=1)
                config.ckpt_path = None
            else:
                raise FileNotFoundError(f"--ckpt_path {name}: no checkpoint at {last} (run `medseg fit` with this config first)")

    def _loggers(self, root: Path, config: LoggingConfig) -> list[Logger]:
        loggers: list[Logger] = []
        if config.csv:
            loggers.append(CSVLogger(root, name="csv"))
        if config.tensorboard:
            loggers.append(TensorBoardLogger(root, name="tensorboard"))
        if config.wandb:
            if config.wandb_mode not in ("offline", "online", "disabled"):
                raise ValueError(f"logging.wandb_mode must be offline, online or disabled, got {config.wandb_mode!r}")
            loggers.append(
                WandbLogger(save_dir=str(root), project=config.wandb_project, mode=config.wandb_mode, name=root.name)
            )
        return loggers

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        root = _root(trainer_config)
        callbacks = list(trainer_config.get("callbacks") or [])
        callbacks += [AtomicModelCheckpoint(dirpath=root / "checkpoints", save_last=True, save_top_k=0), RNGStateCallback()]
        selection = self._get(self.config_init, "selection")
        selection = selection if isinstance(selection, SelectionConfig) else SelectionConfig(**vars(selection))
        callbacks += selection_callbacks(root / "checkpoints", selection)
        kwargs.setdefault("callbacks", callbacks)
        kwargs.setdefault("default_root_dir", str(root))
        if trainer_config.get("logger") in (None, True):
            logging = self._get(self.config_init, "logging")
            logging = logging if isinstance(logging, LoggingConfig) else LoggingConfig(**vars(logging))
            kwargs.setdefault("logger", self._loggers(root, logging) or False)
        return super().instantiate_trainer(**kwargs)


def run_lightning_cli(args: list[str], datamodule_class: Optional[type[LightningDataModule]] = None) -> MedsegCLI:
    """Entry point of ``medseg fit|validate|test|predict``; ``args`` starts with the subcommand."""
    if datamodule_class is None:
        from medseg.data import SegmentationDataModule as datamodule_class
    os.environ.setdefault("WANDB_SILENT", "true")
    with warnings.catch_warnings():
        # `medseg fit ...` hands LightningCLI its own argv as ``args``; Lightning warns when sys.argv is set too
        warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended")
        return MedsegCLI(
            SegmentationModule,
            datamodule_class,
            args=args,
            save_config_callback=RunFolderConfig,
            seed_everything_default=42,
        )
