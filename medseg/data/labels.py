"""Label tables: class id -> name and raw file id -> class id (DESIGN.md §3).

MALC (MICCAI 2012, Neuromorphometrics protocol) as used by QuickNAT: 27 structures (``malc``, the paper's
protocol), or the 32 of the authors' PyTorch code (``malc33``: ``remap_labels(..., "Neo")`` in
ai-med/quickNAT_pytorch ``utils/preprocessor.py``, which adds CSF, both accumbens and the inferior lateral
ventricles as classes and orders the classes differently). Cortical parcels are the ids >= 100 (odd = left
hemisphere, even = right). Visceral Anatomy benchmark: 20
organs by RadLex id; ``torso`` has the same 20 classes with raw TotalSegmentator v2 ids (the torsos from real
CT, :mod:`medseg.data.totalsegmentator`). Raw ids absent from a ``label_map`` map to background (0) when remapping;
``medseg data check`` reports them as unknown, so tables list the ids meant as background explicitly. The phantoms write the same
raw ids, so they share these tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import totalsegmentator

# Neuromorphometrics cortical parcels span 100..207 in the MICCAI 2012 release.
MALC_CORTEX_IDS = range(100, 208)

# class id -> (name, raw Neuromorphometrics ids); cortex ids are added from MALC_CORTEX_IDS
_MALC = [
    ("Left-Cerebral-White-Matter", [45]),
    ("Left-Cerebral-Cortex", []),
    ("Right-Cerebral-White-Matter", [44]),
    ("Right-Cerebral-Cortex", []),
    ("Left-Lateral-Ventricle", [52, 50]),
    ("Left-Cerebellum-White-Matter", [41]),
    ("Left-Cerebellum-Cortex", [39]),
    ("Left-Thalamus", [60]),
    ("Left-Caudate", [37]),
    ("Left-Putamen", [58]),
    ("Left-Pallidum", [56]),
    ("3rd-Ventricle", [4]),
    ("4th-Ventricle", [11]),
    ("Brain-Stem", [35]),
    ("Left-Hippocampus", [48]),
    ("Left-Amygdala", [32]),
    ("Left-VentralDC", [62]),
    ("Right-Lateral-Ventricle", [51, 49]),
    ("Right-Cerebellum-White-Matter", [40]),
    ("Right-Cerebellum-Cortex", [38]),
    ("Right-Thalamus", [59]),
    ("Right-Caudate", [36]),
    ("Right-Putamen", [57]),
    ("Right-Pallidum", [55]),
    ("Right-Hippocampus", [47]),
    ("Right-Amygdala", [31]),
    ("Right-VentralDC", [61]),
]

# quickNAT_pytorch's 'Neo' remap: class id -> (name, raw ids); [] = the left (odd) / right (even) cortex ids
_MALC33 = [
    ("Left-Cerebral-White-Matter", [45]),
    ("Left-Cerebral-Cortex", []),
    ("Left-Lateral-Ventricle", [52]),
    ("Left-Inf-Lat-Vent", [50]),
    ("Left-Cerebellum-White-Matter", [41]),
    ("Left-Cerebellum-Cortex", [39]),
    ("Left-Thalamus", [60]),
    ("Left-Caudate", [37]),
    ("Left-Putamen", [58]),
    ("Left-Pallidum", [56]),
    ("3rd-Ventricle", [4]),
    ("4th-Ventricle", [11]),
    ("Brain-Stem", [35]),
    ("Left-Hippocampus", [48]),
    ("Left-Amygdala", [32]),
    ("CSF", [46]),
    ("Left-Accumbens-area", [30]),
    ("Left-VentralDC", [62]),
    ("Right-Cerebral-White-Matter", [44]),
    ("Right-Cerebral-Cortex", []),
    ("Right-Lateral-Ventricle", [51]),
    ("Right-Inf-Lat-Vent", [49]),
    ("Right-Cerebellum-White-Matter", [40]),
    ("Right-Cerebellum-Cortex", [38]),
    ("Right-Thalamus", [59]),
    ("Right-Caudate", [36]),
    ("Right-Putamen", [57]),
    ("Right-Pallidum", [55]),
    ("Right-Hippocampus", [47]),
    ("Right-Amygdala", [31]),
    ("Right-Accumbens-area", [23]),
    ("Right-VentralDC", [61]),
]

# class id -> (name, RadLex id)
_VISCERAL = [
    ("liver", 58),
    ("spleen", 86),
    ("pancreas", 170),
    ("gallbladder", 187),
    ("urinary_bladder", 237),
    ("aorta", 480),
    ("trachea", 1247),
    ("right_lung", 1302),
    ("left_lung", 1326),
    ("sternum", 2473),
    ("thyroid_gland", 7578),
    ("first_lumbar_vertebra", 29193),
    ("right_kidney", 29662),
    ("left_kidney", 29663),
    ("right_adrenal_gland", 30324),
    ("left_adrenal_gland", 30325),
    ("right_psoas_major", 32248),
    ("left_psoas_major", 32249),
    ("right_rectus_abdominis", 40357),
    ("left_rectus_abdominis", 40358),
]


@dataclass(frozen=True)
class LabelTable:
    """``names[c]`` is class c (0 = background); ``label_map`` maps raw file ids to class ids."""

    name: str
    names: tuple[str, ...]
    label_map: dict[int, int] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.names)

    def labels_json(self) -> dict[str, str]:
        """The manifest ``labels`` entry."""
        return {str(c): n for c, n in enumerate(self.names)}

    def label_map_json(self) -> dict[str, int]:
        """The manifest ``label_map`` entry."""
        return {str(raw): c for raw, c in sorted(self.label_map.items())}


def _neuromorphometrics(name: str, structures: list[tuple[str, list[int]]]) -> LabelTable:
    # every non-cortical Neuromorphometrics id (< 100) is listed, unlisted ones explicitly as background
    # (e.g. CSF 46, accumbens 23/30, vermis 71-73 for "malc"), so that `medseg data check` can flag unknown ids
    label_map: dict[int, int] = {raw: 0 for raw in range(1, 100)}
    for cls, (_, raw_ids) in enumerate(structures, start=1):
        label_map.update({raw: cls for raw in raw_ids})
    names = [n for n, _ in structures]
    left, right = names.index("Left-Cerebral-Cortex") + 1, names.index("Right-Cerebral-Cortex") + 1
    label_map.update({raw: left if raw % 2 else right for raw in MALC_CORTEX_IDS})
    return LabelTable(name, ("background", *names), label_map)


def _visceral() -> LabelTable:
    label_map = {raw: cls for cls, (_, raw) in enumerate(_VISCERAL, start=1)}
    return LabelTable("visceral", ("background", *(n for n, _ in _VISCERAL)), label_map)


def _torso() -> LabelTable:
    """The Visceral classes on TotalSegmentator v2 ids: every raw id 1-118 listed, unmapped ones as background."""
    names = VISCERAL.names
    label_map = {raw: 0 for raw in (*totalsegmentator.NAMES, *totalsegmentator.DIFFDRR_EXTRA)}
    for name, raw_ids in totalsegmentator.TO_VISCERAL.items():
        label_map.update({raw: names.index(name) for raw in raw_ids})
    return LabelTable("torso", names, label_map)


MALC = _neuromorphometrics("malc", _MALC)
MALC33 = _neuromorphometrics("malc33", _MALC33)
VISCERAL = _visceral()
TORSO = _torso()
TABLES: dict[str, LabelTable] = {"malc": MALC, "visceral": VISCERAL, "malc33": MALC33, "torso": TORSO}


def lookup_table(label_map: dict[int, int], max_raw: int) -> np.ndarray:
    """A uint8/int16 array ``lut`` with ``lut[raw] = class`` (0 for raw ids not in ``label_map``)."""
    top = max(max_raw, max(label_map, default=0))
    dtype = np.uint8 if max(label_map.values(), default=0) < 256 else np.int16
    lut = np.zeros(top + 1, dtype=dtype)
    for raw, cls in label_map.items():
        lut[raw] = cls
    return lut


def remap_labels(raw: np.ndarray, label_map: dict[int, int] | None) -> np.ndarray:
    """Raw ids -> class ids through ``label_map`` (identity when None); negative raw ids are an error."""
    raw = np.asarray(raw)
    if not np.issubdtype(raw.dtype, np.integer):
        if not np.all(np.equal(np.mod(raw, 1), 0)):
            raise ValueError("label volume has non-integer values")
        raw = raw.astype(np.int64)
    if raw.size and raw.min() < 0:
        raise ValueError(f"label volume has a negative id {int(raw.min())}")
    if label_map is None:
        return raw.astype(np.uint8 if raw.size == 0 or raw.max() < 256 else np.int16)
    lut = lookup_table(label_map, int(raw.max()) if raw.size else 0)
    return lut[raw]
