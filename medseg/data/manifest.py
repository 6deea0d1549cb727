"""Manifests: Medical Decathlon style datalists (DESIGN.md §2), parsed and validated.

Paths are relative to ``root`` when given (the ``root`` argument, else the manifest's ``"root"`` key with
``$VARS`` expanded, e.g. ``"${MEDSEG_MALC_ROOT}"``), otherwise to the manifest's folder. ``label_map``
(optional) maps raw ids in the files to class ids; raw ids not in it map to 0.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medseg.atomic import atomic_write

SPLITS = ("training", "validation", "test")
TOP_KEYS = {
    "name", "description", "reference", "licence", "license", "release", "tensorImageSize",
    "modality", "labels", "label_map", "numTraining", "numTest", "root", *SPLITS,
}  # fmt: skip
ENTRY_KEYS = {"id", "image", "label", "fold"}
# a subject id names output files (``D/predictions/<id>.nii.gz``): no path separators, no leading dot
SUBJECT_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")
_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


class ManifestError(ValueError):
    """A manifest that cannot be used; the message lists every problem, each naming the file."""


@dataclass(frozen=True)
class Subject:
    id: str
    image: Path
    label: Path | None = None
    fold: int | None = None


@dataclass
class Manifest:
    path: Path
    name: str
    class_names: list[str]
    label_map: dict[int, int] | None
    in_channels: int
    splits: dict[str, list[Subject]] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def subject_id(image: str) -> str:
    name = Path(image).name
    for suffix in _SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def subject_id_problem(sid: str) -> str | None:
    """Why ``sid`` cannot be a subject id, or None. Ids become file names (``D/predictions/<id>.nii.gz``),
    so one with ``/`` or ``..`` would write outside the run folder (issue 25 defect 11): an id is 1-128 of
    ``A-Z a-z 0-9 _ . + -``, not starting with ``.``, ``+`` or ``-``."""
    if SUBJECT_ID.fullmatch(sid):
        return None
    return (f"subject id {sid!r} is not a plain file name: use 1-128 letters, digits, '_', '.', '+' or '-', "
            "starting with a letter, digit or '_' (no '/', '\\', '..' or spaces)")


def read_json(path: Path) -> dict[str, Any]:
    """The manifest's JSON; a syntax error or a byte that is not UTF-8 names the file, line and column."""
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:  # issue 25 defect 19: say where, not a raw traceback
        line = raw[: error.start].count(b"\n") + 1
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1) + 1
        raise ManifestError(f"{path}: not UTF-8 text: byte 0x{raw[error.start]:02x} at line {line}, column {column} "
                            "(save the manifest as UTF-8; JSON files must be UTF-8)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"{path}: JSON syntax error at line {error.lineno}, column {error.colno}: {error.msg}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{path}: expected a JSON object at the top level, got {type(data).__name__}")
    return data


def resolve_root(path: Path, data: dict[str, Any], root: str | os.PathLike | None) -> Path:
    if root is None and "root" not in data:
        return path.parent
    text = str(root if root is not None else data["root"])
    missing = [m[1] or m[2] for m in re.finditer(r"\$\{(\w+)\}|\$(\w+)", text) if (m[1] or m[2]) not in os.environ]
    if missing:
        raise ManifestError(
            f"{path}: root {text!r} uses unset environment variable(s) {', '.join(missing)}; "
            "set them or pass the root folder explicitly (data.root / --root)"
        )
    resolved = Path(os.path.expandvars(text)).expanduser()
    return resolved if resolved.is_absolute() else path.parent / resolved


def _labels(path: Path, data: dict[str, Any], problems: list[str]) -> list[str]:
    labels = data.get("labels")
    if not isinstance(labels, dict) or not labels:
        problems.append(f"{path}: 'labels' must be a non-empty object {{\"0\": \"background\", ...}}, got {labels!r}")
        return []
    try:
        ids = sorted(int(k) for k in labels)
    except ValueError:
        problems.append(f"{path}: 'labels' keys must be integer class ids, got {sorted(labels)}")
        return []
    if ids != list(range(len(ids))):
        problems.append(f"{path}: 'labels' ids must be 0..{len(ids) - 1} without gaps, got {ids}")
        return []
    return [str(labels[str(i)] if str(i) in labels else labels[i]) for i in ids]


def _label_map(path: Path, data: dict[str, Any], num_classes: int, problems: list[str]) -> dict[int, int] | None:
    if "label_map" not in data:
        return None
    raw = data["label_map"]
    if not isinstance(raw, dict):
        problems.append(f"{path}: 'label_map' must be an object {{raw id: class id}}, got {type(raw).__name__}")
        return None
    result: dict[int, int] = {}
    for key, value in raw.items():
        if not re.fullmatch(r"\d+", str(key)) or not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{path}: label_map entry {key!r}: {value!r} must map a raw id >= 0 to an integer class id")
        elif num_classes and not 0 <= value < num_classes:
            problems.append(f"{path}: label_map entry {key!r}: {value} is not a class id in 0..{num_classes - 1}")
        else:
            result[int(key)] = value
    return result


def _entries(path: Path, data: dict[str, Any], root: Path, problems: list[str]) -> dict[str, list[Subject]]:
    splits: dict[str, list[Subject]] = {}
    seen: dict[str, str] = {}
    images: dict[str, str] = {}  # real path of each image -> "split[i] (id)" that listed it first
    for split in SPLITS:
        entries = data.get(split, [])
        if not isinstance(entries, list):
            problems.append(f"{path}: '{split}' must be a list, got {type(entries).__name__}")
            continue
        subjects = []
        for i, entry in enumerate(entries):
            where = f"{path}: {split}[{i}]"
            if isinstance(entry, str):
                entry = {"image": entry}
            if not isinstance(entry, dict):
                problems.append(f"{where}: expected an object with 'image' (and 'label'), got {entry!r}")
                continue
            unknown = sorted(set(entry) - ENTRY_KEYS)
            if unknown:
                problems.append(f"{where}: unknown key(s) {unknown}; allowed: {sorted(ENTRY_KEYS)}")
            if not isinstance(entry.get("image"), str):
                problems.append(f"{where}: 'image' must be a path string, got {entry.get('image')!r}")
                continue
            if split != "test" and not isinstance(entry.get("label"), str):
                problems.append(f"{where}: '{split}' entries need a 'label' path, got {entry.get('label')!r}")
                continue
            sid = str(entry.get("id", subject_id(entry["image"])))
            bad_id = subject_id_problem(sid)
            if bad_id:
                problems.append(f"{where}: {bad_id}")
                continue
            if sid in seen:
                problems.append(f"{where}: duplicate subject id {sid!r} (also in {seen[sid]})")
                continue
            seen[sid] = split
            image = os.path.realpath(root / entry["image"])
            if image in images:  # the same scan under two ids: train/test leakage (issue 25 defect 7)
                problems.append(f"{where}: image {entry['image']!r} of subject {sid!r} is the same file as the image "
                                f"of {images[image]}; each scan must be listed once")
                continue
            images[image] = f"{split}[{i}] (subject {sid!r})"
            label = root / entry["label"] if isinstance(entry.get("label"), str) else None
            fold = entry.get("fold")
            if fold is not None and (not isinstance(fold, int) or fold < 0):
                problems.append(f"{where}: 'fold' must be an integer >= 0, got {fold!r}")
                fold = None
            subjects.append(Subject(sid, root / entry["image"], label, fold))
        splits[split] = subjects
    return splits


def parse_manifest(path: str | os.PathLike, root: str | os.PathLike | None = None) -> tuple[Manifest, list[str]]:
    """``(manifest, problems)``: every schema problem found, each naming the file and the key.

    Raises :class:`ManifestError` only when nothing can be parsed (missing file, JSON syntax, unset root).
    """
    path = Path(path)
    data = read_json(path)
    problems = [
        f"{path}: unknown key {key!r}; allowed keys: {sorted(TOP_KEYS)}" for key in sorted(set(data) - TOP_KEYS)
    ]
    names = _labels(path, data, problems)
    label_map = _label_map(path, data, len(names), problems)
    modality = data.get("modality", "image")
    if not isinstance(modality, (str, dict)) or (isinstance(modality, dict) and not modality):
        problems.append(f"{path}: 'modality' must be a string or an object {{\"0\": \"T1\", ...}}, got {modality!r}")
        modality = "image"
    splits = _entries(path, data, resolve_root(path, data, root), problems)
    if not splits.get("training") and not splits.get("test"):
        problems.append(f"{path}: no subjects: 'training' and 'test' are both empty or missing")
    manifest = Manifest(
        path=path,
        name=str(data.get("name", path.stem)),
        class_names=names,
        label_map=label_map,
        in_channels=len(modality) if isinstance(modality, dict) else 1,
        splits=splits,
    )
    return manifest, problems


def load_manifest(path: str | os.PathLike, root: str | os.PathLike | None = None) -> Manifest:
    """Parse and validate the schema (not the files: see :func:`medseg.data.check.check_manifest`)."""
    manifest, problems = parse_manifest(path, root)
    if problems:
        raise ManifestError("invalid manifest:\n  " + "\n  ".join(problems))
    return manifest


def write_manifest(path: str | os.PathLike, manifest: dict[str, Any]) -> None:
    """Write a manifest atomically (temp file then ``os.replace``)."""
    atomic_write(path, json.dumps(manifest, indent=1) + "\n")
