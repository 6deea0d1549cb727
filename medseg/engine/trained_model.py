"""A trained model with everything ``medseg predict -i`` needs, from a run folder or an exported package.

From a run folder D: the network and its weights from ``D/checkpoints/<checkpoint>`` (built from the
checkpoint's own hyper-parameters, which must agree with ``D/config.yaml`` on the network, as for
``medseg predict --config``), and from the saved config, as the manifest-based predict uses them: the
inference options (``model.inference``: views, MC samples, batch size, ...) and the preprocessing
(``data.orientation, spacing, conform, normalize, window, cache_dtype``). Packages:
:mod:`medseg.engine.package`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from medseg.data.preprocess import Preprocessing
from medseg.engine.checkpoint import (
    CheckpointError,
    load_module,
    module_from_weights,
    module_hparams,
    network_conflicts,
    read_checkpoint,
)
from medseg.engine.module import SegmentationModule


class ModelSourceError(ValueError):
    """``--model`` names something that is not a usable run folder or package."""


@dataclass
class TrainedModel:
    """``module`` (other views attached) + the preprocessing of its run. ``hparams``/``views`` are what a package
    stores: the module's arguments (``inference.views`` left empty) and ``{plane: other view's module}``."""

    module: SegmentationModule
    preprocessing: Preprocessing
    cache_dtype: str
    config: dict[str, Any]
    hparams: dict[str, Any]
    views: dict[str, SegmentationModule] = field(default_factory=dict)
    source: str = ""

    @property
    def class_names(self) -> list[str]:
        return list(self.module.class_names)


def checkpoint_file(run_dir: str | os.PathLike, checkpoint: str) -> Path:
    """``D/checkpoints/<checkpoint>`` (``last`` and ``best`` mean ``last.ckpt`` and ``best.ckpt``)."""
    name = checkpoint if checkpoint.endswith(".ckpt") else f"{checkpoint}.ckpt"
    return Path(run_dir) / "checkpoints" / name


def run_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``D/config.yaml`` of a fit with medseg's data module; errors name the file and what to do."""
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise ModelSourceError(f"--model {run_dir}: no {path}; give a run folder trained with `medseg fit` or a package "
                               "made by `medseg export`")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ModelSourceError(f"{path}: not a readable YAML config ({error})") from error
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict) or not isinstance(config.get("data"), dict):
        raise ModelSourceError(f"{path}: expected the config a `medseg fit` saved, with model: and data: sections")
    if "manifest" not in config["data"]:
        raise ModelSourceError(f"{path}: data: is not medseg's SegmentationDataModule (no data.manifest), so the run's "
                               "preprocessing is unknown")
    return config


def preprocessing_of(data: Mapping[str, Any]) -> tuple[Preprocessing, str]:
    """The run's preprocessing and cache dtype (the image dtype its volumes were held in) from ``data:``."""
    return Preprocessing.from_options(data), str(data.get("cache_dtype") or "float32")


def from_run(run_dir: str | os.PathLike, checkpoint: str = "last.ckpt") -> TrainedModel:
    """The model of run folder ``run_dir`` with the weights of ``D/checkpoints/<checkpoint>``."""
    config = run_config(run_dir)
    path = checkpoint_file(run_dir, checkpoint)
    saved = read_checkpoint(path, "--model")
    hparams = module_hparams(saved)
    conflicts = network_conflicts(config["model"], hparams)
    if conflicts:
        raise CheckpointError(f"{path} was made for another network than {Path(run_dir) / 'config.yaml'}:\n  " + "\n  ".join(conflicts))
    hparams["inference"] = config["model"].get("inference")  # the config's inference options, as in `medseg predict --config`
    module = module_from_weights(hparams, saved["state_dict"], f"--model: {path}")
    views = {plane: load_module(p, f"model.inference.views.{plane}") for plane, p in module.inference_config.views.items()}
    module.use_views(views, {plane: str(p) for plane, p in module.inference_config.views.items()})
    preprocessing, cache_dtype = preprocessing_of(config["data"])
    packaged = {**hparams, "inference": {**(hparams["inference"] or {}), "views": {}}}
    return TrainedModel(module.eval(), preprocessing, cache_dtype, config, packaged, views, str(path))


def load_trained(model: str | os.PathLike, checkpoint: str = "last.ckpt") -> TrainedModel:
    """``--model``: a run folder (``checkpoint`` chooses its weights) or a package file from ``medseg export``."""
    path = Path(model)
    if path.is_dir():
        return from_run(path, checkpoint)
    if path.is_file():
        from medseg.engine.package import read_package

        return read_package(path)
    raise ModelSourceError(f"--model {model}: no such run folder or package file")
