"""Preprocessed volumes, loaded once: in memory, or in a persistent disk cache of ``.npy`` files.

The disk cache key hashes the image/label paths, their size and mtime, the preprocessing options, the
``label_map`` and the storage dtype, so a changed file or option makes a new entry. Entries are read
memory-mapped (shared between loader workers, nothing copied until a slice is taken) and written
atomically (temp file then ``os.replace``). ``dtype="float16"`` halves image memory (labels are uint8).
"""

from __future__ import annotations

import hashlib
import json
import os
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
        meta_file = stem.with_suffix(".json")
        if not meta_file.exists():
            image, label, meta = self._preprocess(subject, with_label)
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            _save_npy(stem.with_suffix(".image.npy"), image.astype(self.dtype, copy=False))
            if label is not None:
                _save_npy(stem.with_suffix(".label.npy"), label)
            tmp = meta_file.with_name(f".{meta_file.name}.tmp-{os.getpid()}")
            tmp.write_text(json.dumps(_meta_json(meta)), encoding="utf-8")
            os.replace(tmp, meta_file)  # written last: its presence marks a complete entry
        image = np.load(stem.with_suffix(".image.npy"), mmap_mode="r")
        label = np.load(stem.with_suffix(".label.npy"), mmap_mode="r") if with_label else None
        return Volume(subject.id, image, label, _meta_arrays(json.loads(meta_file.read_text(encoding="utf-8"))))
