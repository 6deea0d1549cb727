"""``medseg export RUN_DIR --out model.zip``: a trained model as one file to share, and its reader.

A package is a zip holding (format version :data:`FORMAT_VERSION`):

- ``manifest.json``: ``format``, ``format_version``, ``medseg_version``, ``torch_version``, the source run and
  checkpoint, and ``members``: the sha256 of every other member;
- ``config.yaml``: the run's resolved config, as ``medseg fit`` saved it;
- ``model.json``: the module's arguments (``hparams``; network, classes, inference options) and those of the
  other per-plane views fused with it (``views``);
- ``labels.json``: the label table, class id → name;
- ``preprocessing.json``: orientation, spacing, conform, normalisation, window and cache dtype;
- ``weights/model.pt`` (and ``weights/<plane>.pt`` per view): weights-only state dicts (tensors, no pickled
  code), read with ``torch.load(weights_only=True)``.

Reading refuses, naming the file and the problem, anything that is not a zip, another format or format
version, a member missing, unlisted or whose sha256 differs. The zip is written atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any, Optional

import torch
import yaml

import medseg
from medseg.atomic import atomic_write
from medseg.data.preprocess import Preprocessing
from medseg.engine.checkpoint import module_from_weights, plain_config
from medseg.engine.trained_model import TrainedModel, from_run

FORMAT = "medseg-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
REQUIRED = ("config.yaml", "model.json", "labels.json", "preprocessing.json", "weights/model.pt")


class PackageError(ValueError):
    """A model package that cannot be used; the message names the file and the problem."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _weights(module: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save({k: v.detach().cpu() for k, v in module.state_dict().items()}, buffer)
    return buffer.getvalue()


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")


def package_members(trained: TrainedModel, config_text: bytes) -> dict[str, bytes]:
    """Every member but the manifest, by name."""
    members = {
        "config.yaml": config_text,
        "model.json": _json({"hparams": trained.hparams, "views": {p: _view_hparams(m) for p, m in trained.views.items()}}),
        "labels.json": _json({str(i): name for i, name in enumerate(trained.class_names)}),
        "preprocessing.json": _json({**trained.preprocessing.describe(), "cache_dtype": trained.cache_dtype}),
        "weights/model.pt": _weights(trained.module),
    }
    members.update({f"weights/{plane}.pt": _weights(view) for plane, view in trained.views.items()})
    return members


def _view_hparams(view: Any) -> dict[str, Any]:
    hparams = {k: v for k, v in plain_config(dict(view.hparams)).items() if not k.startswith("_")}
    return {**hparams, "inference": {**(hparams.get("inference") or {}), "views": {}}}


def export(run_dir: str, out: Optional[str] = None, checkpoint: str = "last.ckpt", overwrite: bool = False) -> int:
    """``medseg export RUN_DIR --out model.zip``: package a trained run for ``medseg predict --model model.zip``.

    Args:
        run_dir: run folder D (D/config.yaml and D/checkpoints/<checkpoint>).
        out: package file to write (default D/model.zip).
        checkpoint: the checkpoint whose weights are packaged: a file name in D/checkpoints, or last / best.
        overwrite: replace an existing package file.
    """
    trained = from_run(run_dir, checkpoint)
    path = Path(out) if out else Path(run_dir) / "model.zip"
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; choose another --out or pass --overwrite true")
    members = package_members(trained, (Path(run_dir) / "config.yaml").read_bytes())
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "medseg_version": medseg.__version__,
        "torch_version": torch.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": {"run": str(Path(run_dir).resolve()), "checkpoint": Path(trained.source).name},
        "members": {name: _sha256(data) for name, data in sorted(members.items())},
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, _json(manifest))
        for name, data in sorted(members.items()):
            archive.writestr(name, data)
    atomic_write(path, buffer.getvalue())
    print(f"model package: {path} ({len(members) + 1} members, format version {FORMAT_VERSION})")
    return 0


def _read_members(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    """The manifest and the checked members of package ``path``."""
    try:
        with zipfile.ZipFile(path) as archive:
            data = {info.filename: archive.read(info) for info in archive.infolist() if not info.is_dir()}
    except (zipfile.BadZipFile, OSError, EOFError, zipfile.LargeZipFile) as error:
        raise PackageError(f"{path}: not a medseg model package (not a readable zip file: {error})") from error
    if MANIFEST not in data:
        raise PackageError(f"{path}: not a medseg model package (no {MANIFEST})")
    try:
        manifest = json.loads(data.pop(MANIFEST).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise PackageError(f"{path}: {MANIFEST} is not valid JSON ({error})") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PackageError(f"{path}: not a medseg model package ({MANIFEST} has format "
                           f"{manifest.get('format') if isinstance(manifest, dict) else None!r}, expected {FORMAT!r})")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise PackageError(f"{path}: package format version {version!r}, but this medseg ({medseg.__version__}) reads "
                           f"version {FORMAT_VERSION}; export the run again with this medseg (made with medseg "
                           f"{manifest.get('medseg_version')!r})")
    listed = manifest.get("members")
    if not isinstance(listed, dict):
        raise PackageError(f"{path}: {MANIFEST} has no members table")
    problems = [f"member {name} is listed in {MANIFEST} but missing" for name in sorted(set(listed) - set(data))]
    problems += [f"member {name} is not listed in {MANIFEST}" for name in sorted(set(data) - set(listed))]
    problems += [f"member {name}: sha256 {_sha256(data[name])} does not match {listed[name]} in {MANIFEST} "
                 "(modified or corrupt)" for name in sorted(set(listed) & set(data)) if _sha256(data[name]) != listed[name]]
    problems += [f"member {name} is missing" for name in REQUIRED if name not in data and name not in listed]
    if problems:
        raise PackageError(f"{path}: refused: " + "; ".join(problems))
    return manifest, data


def _state_dict(path: Path, data: dict[str, bytes], name: str) -> dict[str, torch.Tensor]:
    try:
        return torch.load(io.BytesIO(data[name]), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - anything but plain tensors is refused
        raise PackageError(f"{path}: member {name} is not a weights-only state dict ({type(error).__name__})") from error


def read_package(path: str | os.PathLike) -> TrainedModel:
    """The model in package ``path`` (checked as described above), in eval mode on the CPU."""
    path = Path(path)
    manifest, data = _read_members(path)
    try:
        model = json.loads(data["model.json"].decode("utf-8"))
        preprocessing = json.loads(data["preprocessing.json"].decode("utf-8"))
        config = yaml.safe_load(data["config.yaml"].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as error:
        raise PackageError(f"{path}: unreadable member ({error})") from error
    if not isinstance(config, dict) or not isinstance(model, dict) or "hparams" not in model:
        raise PackageError(f"{path}: config.yaml or model.json does not hold what medseg export writes")
    module = module_from_weights(model["hparams"], _state_dict(path, data, "weights/model.pt"), f"{path}: weights/model.pt")
    views = {plane: module_from_weights(hp, _state_dict(path, data, f"weights/{plane}.pt"), f"{path}: weights/{plane}.pt")
             for plane, hp in (model.get("views") or {}).items()}
    module.use_views(views, {plane: f"{path}: weights/{plane}.pt" for plane in views})
    cache_dtype = str(preprocessing.pop("cache_dtype", "float32"))
    return TrainedModel(module.eval(), Preprocessing.from_options(preprocessing), cache_dtype, config,
                        model["hparams"], views, f"{path} (medseg {manifest.get('medseg_version')})")
