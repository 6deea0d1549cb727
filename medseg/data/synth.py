"""``medseg synth``: write phantom subjects as NIfTI plus a manifest (DESIGN.md §2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tqdm import tqdm

from .labels import TABLES
from .manifest import write_manifest
from .phantoms import PHANTOMS, make_phantom
from .readers import write_volume

MODALITY = {"malc": "T1", "visceral": "CT"}
FOLDERS = {"training": "Tr", "validation": "Tr", "test": "Ts"}


def split_sizes(subjects: int, validation: int | None, test: int | None) -> dict[str, int]:
    """Default: a quarter for test, an eighth for validation (each at least 1), the rest training."""
    n_test = max(1, subjects // 4) if test is None else test
    n_val = max(1, subjects // 8) if validation is None else validation
    n_train = subjects - n_test - n_val
    if n_test < 0 or n_val < 0 or n_train < 1:
        raise ValueError(
            f"synth: {subjects} subjects cannot hold {n_val} validation + {n_test} test subjects and at least "
            "1 training subject"
        )
    return {"training": n_train, "validation": n_val, "test": n_test}


def synth(
    kind: str = "malc",
    out: str = "data/synthetic",
    subjects: int = 12,
    size: int = 64,
    seed: int = 0,
    validation: int | None = None,
    test: int | None = None,
    labels: str | None = None,
) -> int:
    """Write ``subjects`` phantoms of ``kind`` (malc|visceral) at ``size``³ voxels and ``out/dataset.json``.

    ``labels``: the manifest's label table (a ``medseg.data.TABLES`` key; default ``kind``; ``malc33`` for
    the 32 structures of the authors' PyTorch QuickNAT).

    Subject i uses seed ``seed * 100003 + i``. Raw labels are Neuromorphometrics (malc) or RadLex
    (visceral) ids; the manifest's ``label_map`` maps them to class ids. Split: ``validation`` and
    ``test`` subjects (default an eighth and a quarter, at least 1 each), the rest training.
    """
    if kind not in PHANTOMS:
        raise ValueError(f"synth: unknown kind {kind!r}; choose one of {sorted(PHANTOMS)}")
    if size < 8:
        raise ValueError(f"synth: size must be at least 8 voxels, got {size}")
    if (labels or kind) not in TABLES:
        raise ValueError(f"synth: unknown labels table {labels!r}; choose one of {sorted(TABLES)}")
    sizes = split_sizes(subjects, validation, test)
    root = Path(out)
    table = TABLES[labels or kind]
    manifest: dict = {
        "name": f"{kind}-synthetic",
        "description": f"medseg {kind} phantoms, {size}^3 voxels, seed {seed}",
        "modality": MODALITY[kind],
        "labels": table.labels_json(),
        "label_map": table.label_map_json(),
    }
    index = 0
    with tqdm(total=subjects, desc=f"synth {kind}", unit="subject") as bar:
        for split, count in sizes.items():
            entries = []
            for _ in range(count):
                sid = f"s{index:03d}"
                image, raw, affine = make_phantom(kind, size, seed * 100003 + index)
                tag = FOLDERS[split]
                entry = {"id": sid, "image": f"images{tag}/{sid}.nii.gz", "label": f"labels{tag}/{sid}.nii.gz"}
                write_volume(root / entry["image"], image, affine)
                write_volume(root / entry["label"], raw.astype(np.uint16), affine)
                entries.append(entry)
                index += 1
                bar.update()
            manifest[split] = entries
    write_manifest(root / "dataset.json", manifest)
    print(f"wrote {subjects} {kind} phantoms and {root / 'dataset.json'}")
    return 0
