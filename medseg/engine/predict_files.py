"""``medseg predict -i FILES_OR_FOLDERS -o OUT --model RUN_DIR_or_PACKAGE``: predict image files, no manifest.

As ``nnUNetv2_predict -i -o`` and ``TotalSegmentator -i -o``. Each input is an image file (NIfTI, NRRD,
MHA/MHD), a DICOM series folder, or a folder whose image files (not recursive) are all predicted. Every
volume goes through the run's own preprocessing and inference (:mod:`medseg.engine.trained_model`; under
its ``trainer.precision`` autocast), the same code the manifest-based ``medseg predict --config`` runs, and ``OUT/<name>.nii.gz`` (``name``: the file
name without its suffix) lands on the input's own grid and affine (:mod:`medseg.engine.prediction_output`),
with the viewer label tables beside. Earlier files of the same names in OUT are moved to
``OUT/previous/<timestamp>/``. An input that cannot be read or predicted stops the command with an error
naming it; with ``--continue_on_error true`` it is reported and skipped, the others are predicted, and the
exit status is 1.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any, ContextManager

import torch
from tqdm.auto import tqdm

from medseg.backup import move_to_backup
from medseg.data.cache import VolumeCache
from medseg.data.manifest import Subject, subject_id
from medseg.data.readers import NIFTI_SUFFIXES, SITK_SUFFIXES, is_dicom_dir
from medseg.data.slicing import SubjectDataset
from medseg.engine.precision import resolve_precision
from medseg.engine.prediction_output import prediction_paths, write_prediction
from medseg.engine.trained_model import TrainedModel, load_trained
from medseg.eval.label_tables import ITKSNAP_NAME, SLICER_NAME, write_label_tables

IMAGE_SUFFIXES = NIFTI_SUFFIXES + SITK_SUFFIXES


class PredictError(ValueError):
    """An input that cannot be predicted (the message names it), or inputs that clash."""


def input_files(inputs: list[str]) -> list[Path]:
    """Image files and DICOM series folders named by ``inputs`` (files, DICOM folders, folders of images)."""
    files: list[Path] = []
    for item in inputs:
        path = Path(item)
        found = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(IMAGE_SUFFIXES)) if path.is_dir() else []
        if found:
            files += found
        elif path.is_dir() and not is_dicom_dir(path):
            raise PredictError(f"-i {path}: folder holds no image files ({', '.join(IMAGE_SUFFIXES)}) and no DICOM series")
        else:
            files.append(path)  # a missing or unreadable file fails, naming itself, when it is read
    return files


def output_names(files: list[Path], out_dir: Path) -> list[str]:
    """``OUT/<name>.nii.gz`` for each file; two inputs of one name, or an output onto an input, are refused."""
    names = [subject_id(str(f)) for f in files]
    seen: dict[str, Path] = {}
    for name, f in zip(names, files):
        if name in seen:
            raise PredictError(f"-i: {seen[name]} and {f} would both be predicted to {out_dir / (name + '.nii.gz')}; "
                               "predict them into different -o folders")
        seen[name] = f
        target = (out_dir / f"{name}.nii.gz").resolve()
        if f.exists() and f.resolve() == target:
            raise PredictError(f"-o {out_dir}: the prediction would overwrite the input {f}; choose another -o folder")
    return names


def precision_context(precision: Any, device: torch.device) -> ContextManager:
    """The autocast ``trainer.precision`` puts the manifest-based predict under (Lightning's own
    ``MixedPrecision.forward_context`` for ``16-mixed``/``bf16-mixed``); nothing for full precision."""
    name = str(precision) if precision is not None else "32-true"
    if name in ("16-mixed", "bf16-mixed", "16", "bf16"):
        from lightning.pytorch.plugins.precision import MixedPrecision

        return MixedPrecision(name if name.endswith("-mixed") else f"{name}-mixed", device.type).forward_context()
    return nullcontext()


def _predict_one(trained: TrainedModel, cache: VolumeCache, path: Path, name: str, out_dir: Path,
                 device: torch.device) -> None:
    item = SubjectDataset([cache.load(Subject(name, path), with_label=False)])[0]
    trainer = trained.config.get("trainer") or {}
    precision = resolve_precision(trainer.get("precision"), trained.config.get("cpu_bf16"), device.type == "cpu")
    with precision_context(precision, device):
        probs = trained.module.predict_probabilities(item["image"].to(device))
    write_prediction(out_dir, name, probs, item["meta"], trained.module.num_classes, trained.module.inference_config)


def predict_files(
    inputs: list[str],
    out: str,
    model: str,
    checkpoint: str = "last.ckpt",
    continue_on_error: bool = False,
    device: str = "auto",
) -> int:
    """Predict image files with a trained run or an exported package.

    Args:
        inputs: image files, DICOM series folders or folders of image files (``-i``, one or more).
        out: output folder (``-o``).
        model: run folder D (trained with ``medseg fit``) or a package from ``medseg export``.
        checkpoint: for a run folder, the checkpoint in D/checkpoints (a file name, or last / best).
        continue_on_error: report an input that fails and go on with the others (exit status 1 at the end).
        device: ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1``, ...
    """
    if not inputs:
        raise PredictError("medseg predict: no input given (-i FILE_OR_FOLDER [...])")
    out_dir = Path(out)
    files = input_files(list(inputs))
    names = output_names(files, out_dir)
    trained = load_trained(model, checkpoint)
    target = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else "cpu" if device == "auto" else device)
    trained.module.to(target)
    inference = trained.module.inference_config
    earlier = [p for name in names for p in prediction_paths(out_dir, name, inference)]
    move_to_backup(earlier + [out_dir / ITKSNAP_NAME, out_dir / SLICER_NAME], out_dir / "previous", f"-o {out_dir}")
    in_channels = int(trained.hparams.get("in_channels", 1))
    cache = VolumeCache(trained.preprocessing, None, "memory", dtype=trained.cache_dtype, in_channels=in_channels)
    failed: list[str] = []
    for path, name in zip(tqdm(files, desc="predict", unit="file"), names):
        try:
            _predict_one(trained, cache, path, name, out_dir, target)
        except Exception as error:  # noqa: BLE001 - any failure of one input is reported naming that input
            first = (str(error).strip().splitlines() or [type(error).__name__])[0]  # readers append whole tracebacks
            message = first if str(path) in first else f"{path}: {type(error).__name__}: {first}"
            if not continue_on_error:
                raise PredictError(f"medseg predict: {message}\n(--continue_on_error true skips such inputs)") from error
            failed.append(message)
            tqdm.write(f"skipped: {message}", file=sys.stderr)
    if len(failed) < len(files):
        write_label_tables(out_dir, trained.class_names)
    print(f"medseg predict: {len(files) - len(failed)} of {len(files)} inputs predicted into {out_dir} "
          f"with {trained.source}" + (f"; {len(failed)} failed:\n  " + "\n  ".join(failed) if failed else ""))
    return 1 if failed else 0

