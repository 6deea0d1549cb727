from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from medseg.data.readers import write_volume

AFFINE = np.diag([1.0, 1.0, 1.0, 1.0])


def write_subject(root: Path, sid: str, shape=(16, 16, 16), label_value: int = 2, affine=AFFINE) -> dict:
    rng = np.random.default_rng(zlib.crc32(sid.encode()))  # hash(str) changes per process
    image = rng.normal(100, 10, shape).astype(np.float32)
    label = np.zeros(shape, np.uint16)
    label[4:12, 5:11, 6:10] = label_value
    write_volume(root / f"{sid}_img.nii.gz", image, affine)
    write_volume(root / f"{sid}_lbl.nii.gz", label, affine)
    return {"id": sid, "image": f"{sid}_img.nii.gz", "label": f"{sid}_lbl.nii.gz"}


@pytest.fixture
def small_manifest(tmp_path: Path) -> Path:
    """Four subjects (2 training, 1 validation, 1 test) with raw label id 2 -> class 1 through label_map."""
    entries = [write_subject(tmp_path, f"s{i}") for i in range(4)]
    manifest = {
        "name": "tiny",
        "labels": {"0": "background", "1": "thing"},
        "label_map": {"2": 1},
        "training": entries[:2],
        "validation": entries[2:3],
        "test": entries[3:],
    }
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(manifest), encoding="utf-8")
    return path
