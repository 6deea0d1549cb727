"""Test results files: ``D/results/dice_per_structure.csv`` and ``D/results/summary.json``.

CSV columns: ``subject,structure_id,structure,dice`` (+ ``hd95,asd`` in mm and ``nsd``, the normalized surface
Dice at ``inference.surface_dice_tolerance`` mm, when computed; + ``reference_voxels,predicted_voxels``, the
structure's voxel counts in the reference and in the prediction, which tell a Dice of 0 for an organ predicted in a
subject that lacks it from one for an organ missed), one row per subject and foreground structure, subjects sorted
by id; NaN is written as an empty cell.
``summary.json``: ``mean_dice`` (mean over subjects of each subject's mean foreground Dice),
``per_structure`` ({name: mean over the subjects where it is defined; null when absent from both reference
and prediction in every subject}), ``per_structure_subjects`` ({name: how many subjects that mean rests
on}), ``num_subjects`` plus whatever the caller adds
(``params``, ``config_hash``, ``checkpoint``: path, sha256, epoch and step of the tested weights, ...). Files are written atomically (temp file + ``os.replace``). Results
already in the folder are never overwritten silently: they are moved to
``results/previous/<YYYYmmdd-HHMMSS>/`` first and a warning names the backup.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from medseg.atomic import atomic_write
from medseg.backup import move_to_backup
from medseg.eval.metrics import mean_foreground

CSV_NAME = "dice_per_structure.csv"
SUMMARY_NAME = "summary.json"
METRIC_COLUMNS = ("hd95", "asd", "nsd")  # optional columns after dice, in this order
COUNT_COLUMNS = ("reference_voxels", "predicted_voxels")  # optional, after the metrics


def _number(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else float(x)


def result_rows(
    subject: str,
    dice: np.ndarray,
    class_names: list[str],
    hd95: np.ndarray | None = None,
    asd: np.ndarray | None = None,
    nsd: np.ndarray | None = None,
    confusion: np.ndarray | None = None,
) -> list[dict[str, Any]]:
    """One row per foreground structure (class ids 1..K-1) of one subject; with ``confusion`` (the subject's
    ``[reference, prediction]`` voxel counts, :func:`medseg.eval.metrics.confusion_matrix`) its voxel counts too."""
    if len(class_names) != len(dice):
        raise ValueError(f"subject {subject!r}: {len(dice)} Dice values but {len(class_names)} class names")
    if confusion is not None and np.shape(confusion) != (len(dice), len(dice)):
        raise ValueError(f"subject {subject!r}: a {np.shape(confusion)} confusion matrix for {len(dice)} classes")
    rows = []
    for c in range(1, len(dice)):
        row: dict[str, Any] = {"subject": subject, "structure_id": c, "structure": class_names[c], "dice": dice[c]}
        if hd95 is not None:
            row["hd95"] = hd95[c]
        if asd is not None:
            row["asd"] = asd[c]
        if nsd is not None:
            row["nsd"] = nsd[c]
        if confusion is not None:
            row["reference_voxels"], row["predicted_voxels"] = int(confusion[c].sum()), int(confusion[:, c].sum())
        rows.append(row)
    return rows


def summarise(per_subject: Mapping[str, np.ndarray], class_names: list[str]) -> dict[str, Any]:
    """``mean_dice``, ``per_structure``, ``per_structure_subjects`` and ``num_subjects`` from {subject: Dice per
    class}; NaN (a structure absent from both reference and prediction) is excluded, never counted as 0 or 1."""
    if not per_subject:
        raise ValueError("no subjects to summarise")
    table = np.stack([np.asarray(per_subject[s], dtype=np.float64) for s in sorted(per_subject)])
    subject_means = np.array([mean_foreground(row) for row in table])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN structure → NaN, written as null
        structure_means = np.nanmean(table, axis=0)
        mean_dice = float(np.nanmean(subject_means))
    return {
        "mean_dice": _number(mean_dice),
        "per_structure": {class_names[c]: _number(structure_means[c]) for c in range(1, len(class_names))},
        "per_structure_subjects": {class_names[c]: int(np.isfinite(table[:, c]).sum()) for c in range(1, len(class_names))},
        "num_subjects": len(per_subject),
    }


def _csv_text(rows: list[dict[str, Any]]) -> str:
    columns = ["subject", "structure_id", "structure", "dice"] + [k for k in METRIC_COLUMNS + COUNT_COLUMNS if rows and k in rows[0]]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in sorted(rows, key=lambda r: (r["subject"], r["structure_id"])):
        writer.writerow({k: ("" if _number(row[k]) is None else repr(float(row[k]))) if k in ("dice", *METRIC_COLUMNS)
                         else row[k] for k in columns})
    return buffer.getvalue()


def read_summary(path: str | os.PathLike) -> dict[str, Any]:
    """A test ``summary.json``, parsed and checked (a JSON object with ``num_subjects``);
    a truncated or foreign file is a ``ValueError`` naming it (issue 25 defect 3)."""
    path = Path(path)
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not a test summary (not UTF-8 text: {error})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a test summary (JSON error at line {error.lineno}, column {error.colno}: "
                         f"{error.msg}; truncated?)") from None
    missing = [k for k in ("num_subjects",) if not isinstance(summary, dict) or k not in summary]
    if missing:
        raise ValueError(f"{path}: not a test summary (no {', '.join(missing)})")
    return summary


def has_results(run_dir: str | os.PathLike) -> bool:
    """Whether run folder ``run_dir`` holds finished test results: ``results/summary.json`` that
    :func:`read_summary` accepts (``medseg sweep`` counts a run complete, or reuses it, only then)."""
    try:
        read_summary(Path(run_dir) / "results" / SUMMARY_NAME)
    except (OSError, ValueError):
        return False
    return True


def backup_previous(results_dir: str | os.PathLike) -> Path | None:
    """Move existing results files to ``results/previous/<timestamp>/``; return that folder (or None)."""
    results_dir = Path(results_dir)
    return move_to_backup([results_dir / CSV_NAME, results_dir / SUMMARY_NAME], results_dir / "previous", str(results_dir))


def write_results(results_dir: str | os.PathLike, rows: list[dict[str, Any]], summary: dict[str, Any]) -> tuple[Path, Path]:
    """Write the CSV and summary atomically, backing up any previous results first."""
    results_dir = Path(results_dir)
    backup_previous(results_dir)
    csv_path = atomic_write(results_dir / CSV_NAME, _csv_text(rows))
    summary_path = atomic_write(results_dir / SUMMARY_NAME, json.dumps(summary, indent=2, allow_nan=False) + "\n")
    return csv_path, summary_path
