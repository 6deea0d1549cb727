"""Preprocessed volumes, loaded once: in memory, or in a persistent disk cache of ``.npy`` files.

The disk cache key hashes the image/label paths, their size and mtime, the preprocessing options, the
``label_map`` and the storage dtype, so a changed file or option makes a new entry. Entries are read
memory-mapped (shared between loader workers, nothing copied until a slice is taken) and written
atomically (temp file then ``os.replace``). Each entry's ``.json`` records the shape, dtype and size of its
arrays; an entry that does not match (truncated, missing, unreadable) is rebuilt with a warning. ``dtype="float16"`` halves image memory (labels are uint8).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .manifest import Subject
from .preprocess import Preprocessing, preprocess_subject

DTYPES = ("float32", "float16")


@dataclass
class Volume:
    """One preprocessed subject: image ``(C, X, Y, Z)``, label ``(X, Y, Z)`` (None for unlabelled)."""

    id: str
    image: np.ndarray
    label: np.ndarray | None
    meta: dict[str, Any]

    @property
    def nbytes(self) -> int:
        return self.image.nbytes + (self.label.nbytes if self.label is not None else 0)


def _stat(path: Path | None) -> list:
    if path is None:
        return [None]
    st = path.stat()
    return [str(path.resolve()), st.st_size, st.st_mtime_ns]


def _meta_json(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: v.tolist() if isinstance(v, np.ndarray) else v for k, v in meta.items()}


def _meta_arrays(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: np.asarray(v) if isinstance(v, list) else v for k, v in meta.items()}


def _save_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


class VolumeCache:
    """Loads each subject once through :class:`Preprocessing` and keeps it (``mode`` memory|disk)."""

    def __init__(
        self,
        preprocessing: Preprocessing,
        label_map: dict[int, int] | None,
        mode: str = "memory",
        cache_dir: str | os.PathLike | None = None,
        dtype: str = "float32",
        in_channels: int | None = None,
        num_classes: int | None = None,
        reorient_labels: bool = False,
    ) -> None:
        if mode not in ("memory", "disk"):
            raise ValueError(f"cache must be 'memory' or 'disk', got {mode!r}")
        if mode == "disk" and cache_dir is None:
            raise ValueError("cache='disk' needs cache_dir (a folder for the persistent cache)")
        if dtype not in DTYPES:
            raise ValueError(f"cache_dtype must be one of {DTYPES}, got {dtype!r}")
        self.preprocessing, self.label_map, self.mode, self.dtype = preprocessing, label_map, mode, dtype
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.in_channels, self.num_classes, self.reorient_labels = in_channels, num_classes, reorient_labels
        self._volumes: dict[str, Volume] = {}

    def key(self, subject: Subject, with_label: bool) -> str:
        label = subject.label if with_label else None
        parts = [_stat(subject.image), _stat(label), self.preprocessing.describe(), sorted((self.label_map or {}).items()), self.dtype]
        if with_label and self.reorient_labels:  # an entry made with reoriented labels is not reused without
            parts.append("reorient_labels")
        return hashlib.sha1(json.dumps(parts, default=str).encode()).hexdigest()[:20]

    def get(self, subject: Subject, with_label: bool = True) -> Volume:
        name = f"{subject.id}:{int(with_label)}"
        if name not in self._volumes:
            self._volumes[name] = self._load(subject, with_label)
        return self._volumes[name]

    def load(self, subject: Subject, with_label: bool = True) -> Volume:
        """Load and preprocess ``subject`` as :meth:`get` does, without keeping it (``medseg predict -i``)."""
        return self._load(subject, with_label)

    def _preprocess(self, subject: Subject, with_label: bool) -> tuple[np.ndarray, np.ndarray | None, dict[str, Any]]:
        label = str(subject.label) if with_label and subject.label is not None else None
        return preprocess_subject(
            str(subject.image), label, self.preprocessing, self.label_map, subject.id, self.in_channels, self.num_classes,
            self.reorient_labels,
        )

    def _load(self, subject: Subject, with_label: bool) -> Volume:
        if self.mode == "memory" or self.cache_dir is None:
            image, label, meta = self._preprocess(subject, with_label)
            return Volume(subject.id, image.astype(self.dtype, copy=False), label, meta)
        stem = self.cache_dir / self.key(subject, with_label)
        if stem.with_suffix(".json").exists():
            try:
                return self._read_entry(stem, subject.id, with_label)
            except (OSError, ValueError, EOFError, KeyError, TypeError) as error:  # issue 25 defect 21: heal
                warnings.warn(f"data.cache disk: entry {stem}.* of subject {subject.id} is damaged ({error}); "
                              "rebuilding it", stacklevel=2)
                for path in self._entry_files(stem):
                    path.unlink(missing_ok=True)
        self._write_entry(stem, subject, with_label)
        return self._read_entry(stem, subject.id, with_label)

    @staticmethod
    def _entry_files(stem: Path) -> list[Path]:
        return [stem.with_suffix(s) for s in (".json", ".image.npy", ".label.npy")]

    def _write_entry(self, stem: Path, subject: Subject, with_label: bool) -> None:
        """Preprocess and store one entry; the ``.json`` (with each array's shape, dtype and file size) is
        written last: its presence marks a complete entry."""
        image, label, meta = self._preprocess(subject, with_label)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        arrays = {"image": image.astype(self.dtype, copy=False), "label": label}
        files = {}
        for name, array in arrays.items():
            if array is not None:
                path = stem.with_suffix(f".{name}.npy")
                _save_npy(path, array)
                files[name] = {"shape": list(array.shape), "dtype": str(array.dtype), "bytes": path.stat().st_size}
        meta_file = stem.with_suffix(".json")
        tmp = meta_file.with_name(f".{meta_file.name}.tmp-{os.getpid()}")
        tmp.write_text(json.dumps({"meta": _meta_json(meta), "files": files}), encoding="utf-8")
        os.replace(tmp, meta_file)

    def _read_entry(self, stem: Path, subject_id: str, with_label: bool) -> Volume:
        """The entry memory-mapped; ValueError when a file is missing, truncated, or not the shape and dtype
        its ``.json`` records (a killed copy, a full disk, a file edited by hand)."""
        record = json.loads(stem.with_suffix(".json").read_text(encoding="utf-8"))
        if not isinstance(record, dict) or "files" not in record:
            raise ValueError("its .json is not a complete record (written by an older medseg?)")
        arrays = {}
        for name in ("image", "label") if with_label else ("image",):
            if name == "label" and "label" not in record["files"]:
                continue  # an unlabelled subject
            expected, path = record["files"][name], stem.with_suffix(f".{name}.npy")
            if path.stat().st_size != expected["bytes"]:
                raise ValueError(f"{path.name} has {path.stat().st_size} bytes, expected {expected['bytes']}")
            array = np.load(path, mmap_mode="r")
            if list(array.shape) != expected["shape"] or str(array.dtype) != expected["dtype"]:
                raise ValueError(f"{path.name} holds {array.dtype}{list(array.shape)}, expected "
                                 f"{expected['dtype']}{expected['shape']}")
            arrays[name] = array
        return Volume(subject_id, arrays["image"], arrays.get("label"), _meta_arrays(record["meta"]))
