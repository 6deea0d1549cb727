"""``medseg fit|validate|test|predict``: LightningCLI over ``SegmentationModule`` and the data module.

Run folder D = ``trainer.default_root_dir``. The CLI adds, for every subcommand:
``D/config.yaml`` (fit; a resumed fit keeps it, refuses another dataset and writes
``D/config_resume-<stamp>.yaml``; other subcommands ``D/config_<subcommand>.yaml``; all atomically),
``D/checkpoints/last.ckpt`` each epoch (written atomically, RNG states included), ``D/checkpoints/best.ckpt`` and early stopping from
the ``selection:`` section, ``--ckpt_path last|best`` resolved to ``D/checkpoints/<name>.ckpt`` (fit starts
fresh with a warning if ``last`` does not exist yet; otherwise a missing file is an error), and loggers
from the ``logging:`` section (CSV by default; wandb offline by default; TensorBoard optional) unless
``trainer.logger`` is given explicitly.

A checkpoint never replaces the config: the YAML's ``model:`` section is the model; a checkpoint whose
network differs (``medseg.engine.checkpoint.NETWORK_KEYS``) is an error naming both values, and
unreadable checkpoints (``--ckpt_path``, ``model.inference.views``) are errors naming the file.
D is locked while the command runs (``medseg.run_folder``); a fresh fit in a folder holding an earlier
fit is refused unless ``--overwrite true`` (earlier files → ``D/previous/<stamp>/``); predict moves
earlier ``D/predictions/`` files to ``D/predictions/previous/<stamp>/``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from lightning.pytorch import LightningDataModule, Trainer
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger, WandbLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from medseg.backup import move_to_backup
from medseg.engine.acceleration import wants_cudnn_benchmark
from medseg.engine.callbacks import AtomicModelCheckpoint, RNGStateCallback
from medseg.engine.checkpoint import CheckpointError, named_checkpoint, network_conflicts, plain_config, read_checkpoint
from medseg.engine.module import SegmentationModule
from medseg.engine.precision import CPU_BF16_CHOICES, resolve_precision, trains_on_cpu
from medseg.engine.resume import dataset_changes, optimizer_conflicts
from medseg.engine.selection import SelectionConfig, selection_callbacks
from medseg.engine.stop_reason import StopReasonCallback
from medseg.atomic import atomic_write
from medseg.run_folder import RunFolderError, RunLock, backup_run, previous_fit, remove_stale_temp_files, resumed_config
from medseg.yaml_file import read_yaml

DEFAULT_ROOT = "runs/default"
SIGTERM_EXIT = 128 + 15  # the shell's code for a process ended by SIGTERM


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
            config = self.config.clone()
            if "overwrite" in config:
                config.overwrite = False  # re-running the saved config must not overwrite this run
            # atomic: a full disk or a kill never leaves a truncated config (issue 25 defect 13)
            atomic_write(root / self.config_filename, self.parser.dump(config, skip_none=False))
        self.already_saved = True


def _launch_rank_zero() -> bool:
    """True in the process that starts a run (not in DDP worker ranks > 0, which Lightning or torchrun start)."""
    return all(int(os.environ.get(k) or 0) == 0 for k in ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID"))


class MedsegCLI(LightningCLI):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._exit = contextlib.ExitStack()  # the run-folder lock, released however the run ends
        self._checkpoint: Optional[dict[str, Any]] = None
        with self._exit:
            super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        for key in ("num_classes", "in_channels", "spatial_dims", "plane", "class_names"):
            parser.link_arguments(f"data.{key}", f"model.{key}", apply_on="instantiate")
        parser.add_class_arguments(LoggingConfig, "logging")
        parser.add_argument(
            "--overwrite", type=bool, default=False,
            help="fit: start afresh in a run folder that holds an earlier fit, moving its files to D/previous/<timestamp>/",
        )
        parser.add_argument(
            "--cpu_bf16", type=str, default="never", choices=CPU_BF16_CHOICES,
            help="never: float32 unless trainer.precision says otherwise; native: bf16-mixed when trainer.precision "
                 "is unset and the run is on a CPU with AVX-512 BF16 or AMX (medseg.engine.precision)",
        )
        parser.add_class_arguments(SelectionConfig, "selection")
        parser.set_defaults({"trainer.default_root_dir": DEFAULT_ROOT})

    def _parse_ckpt_path(self) -> None:
        """Lightning would replace the ``model:`` config by the checkpoint's hyper-parameters here; medseg
        keeps the config and checks the checkpoint against it instead (``after_instantiate_classes``)."""

    def before_instantiate_classes(self) -> None:
        config = self.config[self.subcommand]
        name = "config.yaml" if self.subcommand == "fit" else f"config_{self.subcommand}.yaml"
        self.save_config_kwargs = {**self.save_config_kwargs, "config_filename": name}
        root = _root(config.trainer)
        requested = config.get("ckpt_path")
        named = named_checkpoint(requested, root)
        if named is not None:
            if named.is_file():
                config.ckpt_path = str(named)
            elif self.subcommand == "fit" and requested == "last":
                warnings.warn(f"--ckpt_path last: {named} does not exist yet; starting a new fit", stacklevel=1)
                config.ckpt_path = None
            else:
                raise FileNotFoundError(f"--ckpt_path {requested}: no checkpoint at {named} (run `medseg fit` with this config first)")
        if _launch_rank_zero():
            self._exit.enter_context(RunLock(root))
            if self.subcommand == "fit":
                self._guard_fresh_fit(root, config.ckpt_path, requested == "last", bool(config.get("overwrite")))
                if (root / "config.yaml").is_file():  # past the guard, so a resume: keep the original record
                    self._check_resumed_dataset(root / "config.yaml", config)
                    self.save_config_kwargs["config_filename"] = resumed_config(root).name
            if self.subcommand == "predict" and (root / "predictions").is_dir():
                earlier = [p for p in (root / "predictions").iterdir() if p.name != "previous"]
                move_to_backup(earlier, root / "predictions" / "previous", f"{root / 'predictions'}")
            if (root / "checkpoints").is_dir():
                remove_stale_temp_files(root / "checkpoints")
        if config.ckpt_path:
            self._checkpoint = read_checkpoint(config.ckpt_path)
        inference = config.model.get("inference") if config.get("model") else None
        for plane, path in ((inference or {}).get("views") or {}).items():
            read_checkpoint(path, f"model.inference.views.{plane}")

    @staticmethod
    def _guard_fresh_fit(root: Path, ckpt_path: Optional[str], resume_last: bool, overwrite: bool) -> None:
        """A fit in D either resumes D's own checkpoint or starts in a folder without an earlier fit."""
        own = ckpt_path is not None and Path(ckpt_path).resolve().parent == (root / "checkpoints").resolve()
        if own or resume_last:
            if overwrite:
                raise RunFolderError(f"--overwrite true and --ckpt_path {ckpt_path or 'last'} contradict: "
                                     "resume the run, or start it again without --ckpt_path")
            return
        earlier = previous_fit(root)
        if not earlier:
            return
        if overwrite:
            backup_run(root)
            return
        raise RunFolderError(
            f"run folder {root} already holds a fit ({', '.join(str(p) for p in earlier)}): resume it with "
            "`--ckpt_path last`, choose another trainer.default_root_dir, or pass `--overwrite true` to start "
            f"again (the earlier files are moved to {root / 'previous'}/<timestamp>/)"
        )

    @staticmethod
    def _check_resumed_dataset(original: Path, config: Any) -> None:
        """A resumed fit trains on the data of the run's original config (:func:`dataset_changes`)."""
        saved = read_yaml(original, "run config").get("data") or {}
        data = config.get("data")
        changes = dataset_changes(saved if isinstance(saved, dict) else {}, plain_config(data) if data else {})
        if changes:
            raise RunFolderError(f"cannot resume the fit in {original.parent} on another dataset than its {original}:\n  "
                                 + "\n  ".join(changes) + "\nresume with the original data settings, or start a new "
                                 "run (another trainer.default_root_dir, or `--overwrite true` without --ckpt_path)")

    def after_instantiate_classes(self) -> None:
        if self._checkpoint is None:
            return
        path = self.config[self.subcommand].ckpt_path
        saved = self._checkpoint.get("hyper_parameters") or {}
        conflicts = network_conflicts(dict(self.model.hparams), saved)
        if self.subcommand == "fit":  # resuming: the saved optimizer state must fit the config's optimizer
            conflicts += optimizer_conflicts(plain_config(self.model.hparams.get("optimizer") or {}), plain_config(saved.get("optimizer") or {}))
        self._checkpoint = None
        if conflicts:
            raise CheckpointError(f"--ckpt_path {path} was made for another network or optimizer than the config's:\n  "
                                  + "\n  ".join(conflicts) + "\nuse the config that trained it, or another checkpoint")

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

    def _section(self, key: str, cls: type) -> Any:
        """A top-level dataclass section (``logging:``, ``selection:``) of the instantiated config."""
        value = self._get(self.config_init, key)
        return value if isinstance(value, cls) else cls(**vars(value))

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer_config = self._get(self.config_init, "trainer", default={})
        root = _root(trainer_config)
        callbacks = list(trainer_config.get("callbacks") or [])
        callbacks += [AtomicModelCheckpoint(dirpath=root / "checkpoints", save_last=True, save_top_k=0), RNGStateCallback()]
        callbacks.append(StopReasonCallback())  # D/results/training.json: why the fit stopped
        callbacks += selection_callbacks(root / "checkpoints", self._section("selection", SelectionConfig))
        kwargs.setdefault("callbacks", callbacks)
        kwargs.setdefault("default_root_dir", str(root))
        data = getattr(self, "datamodule", None)
        conform = (getattr(data, "hparams", None) or {}).get("conform")
        if trainer_config.get("benchmark") is None and wants_cudnn_benchmark(
            getattr(data, "spatial_dims", None), conform, trainer_config.get("deterministic")
        ):
            kwargs.setdefault("benchmark", True)  # fixed-size 2D slices: let cuDNN pick the fastest kernels
        config = self.config[self.subcommand]
        precision = resolve_precision(trainer_config.get("precision"), config.get("cpu_bf16"),
                                      trains_on_cpu(trainer_config.get("accelerator")))
        if precision is not None and trainer_config.get("precision") is None:
            kwargs.setdefault("precision", precision)  # cpu_bf16: native on a CPU with native bf16
        if trainer_config.get("logger") in (None, True):
            kwargs.setdefault("logger", self._loggers(root, self._section("logging", LoggingConfig)) or False)
        return super().instantiate_trainer(**kwargs)


def _config_files(args: list[str]) -> list[Path]:
    """The existing files given as ``--config FILE`` / ``--config=FILE`` (jsonargparse also takes YAML text)."""
    values = [b for a, b in zip(args, args[1:]) if a == "--config"]
    values += [a.split("=", 1)[1] for a in args if a.startswith("--config=")]
    return [Path(v) for v in values if Path(v).is_file()]


def run_lightning_cli(args: list[str], datamodule_class: Optional[type[LightningDataModule]] = None) -> MedsegCLI:
    """Entry point of ``medseg fit|validate|test|predict``; ``args`` starts with the subcommand."""
    if datamodule_class is None:
        from medseg.data import SegmentationDataModule as datamodule_class
    os.environ.setdefault("WANDB_SILENT", "true")
    for config in _config_files(args):
        read_yaml(config, "--config")  # a syntax error names the file and line (issue 25 defect 22)
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


def run_or_sigterm(args: list[str], datamodule_class: Optional[type[LightningDataModule]] = None) -> Optional[MedsegCLI]:
    """:func:`run_lightning_cli`, or None when a SIGTERM stopped it (said on stderr). Lightning turns SIGTERM into
    ``SIGTERMException``, a ``SystemExit`` with code None (exit 0), or ends the loop with ``received_sigterm``
    set; either way the command did not finish (issue 25 defect 2)."""
    try:
        cli = run_lightning_cli(args, datamodule_class)
    except SIGTERMException:
        cli = None
    trainer = getattr(cli, "trainer", None)
    if cli is None or (trainer is not None and trainer.received_sigterm):
        print(f"medseg {args[0]}: stopped by SIGTERM before it finished (exit {SIGTERM_EXIT})", file=sys.stderr)
        return None
    return cli


def lightning_main(args: list[str], datamodule_class: Optional[type[LightningDataModule]] = None) -> int:
    """``medseg fit|validate|test|predict`` as an exit code: 0 when the command ran to its end, 143 when a
    SIGTERM (``kill``, ``timeout``, a scheduler, an OOM handler) stopped it (:func:`run_or_sigterm`): a sweep
    took a one-epoch fit for a finished one while that was exit 0 (issue 25 defect 2)."""
    return 0 if run_or_sigterm(args, datamodule_class) is not None else SIGTERM_EXIT
