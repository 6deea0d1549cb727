"""Brain phantom with the 27 MALC structures, T1-like contrast, raw Neuromorphometrics ids.

Layout in template coordinates (see :mod:`.common`): scalp, skull and CSF around a cerebrum whose outer
shell (thickness 0.13, ≥ 4 voxels at 64³) is cortex in six parcels per hemisphere (odd ids ≥ 101 left,
even ids ≥ 102 right), white matter inside, a CSF fissure between the hemispheres; lateral ventricles,
caudate, putamen, pallidum, thalamus, ventral DC, hippocampus, amygdala; 3rd and 4th ventricle on the
midline; brainstem; cerebellar hemispheres (cortex around a white-matter core) with a vermis (id 72,
unlabelled). Small nuclei are exaggerated so that each stays several voxels thick at 64³.

Not solvable by intensity: left/right partners share a tissue value, and cortex, hippocampus, amygdala,
cerebellar cortex and vermis share one (as do cerebral and cerebellar WM; ventricles and CSF; pallidum
and ventral DC), so structures differ by position and shape.
"""

from __future__ import annotations

import numpy as np

from .common import Canvas, Warp, bias_field, cylinder_z, ellipsoid, grid, render

# tissue index -> T1-like intensity (arbitrary units, WM brightest)
TISSUES = {
    "background": 0.0, "scalp": 0.7, "skull": 0.1, "csf": 0.2, "cortex": 0.5, "wm": 0.95,
    "caudate": 0.64, "putamen": 0.68, "pallidum": 0.83, "thalamus": 0.77, "brainstem": 0.88,
}  # fmt: skip
TISSUE_INDEX = {name: i for i, name in enumerate(TISSUES)}
FOV_MM = (180.0, 216.0, 180.0)
ZOOM = 1.1  # the head fills the field of view: larger structures per voxel
CSF_ID, VERMIS_ID = 46, 72

# (left raw id, right raw id, tissue, centre for the left side (x < 0), radii); right = mirrored in x
PAIRED = [
    (37, 36, "caudate", (-0.21, 0.2, 0.14), (0.09, 0.17, 0.13)),
    (58, 57, "putamen", (-0.37, 0.06, 0.0), (0.08, 0.21, 0.15)),
    (56, 55, "pallidum", (-0.27, 0.0, -0.03), (0.075, 0.13, 0.11)),
    (60, 59, "thalamus", (-0.16, -0.14, 0.02), (0.11, 0.17, 0.12)),
    (62, 61, "pallidum", (-0.14, -0.08, -0.23), (0.1, 0.12, 0.1)),  # ventral DC
    (48, 47, "cortex", (-0.33, -0.2, -0.26), (0.09, 0.22, 0.09)),  # hippocampus
    (32, 31, "cortex", (-0.31, 0.12, -0.3), (0.11, 0.11, 0.11)),  # amygdala
    (52, 51, "csf", (-0.11, 0.02, 0.2), (0.075, 0.4, 0.12)),  # lateral ventricle body
    (50, 49, "csf", (-0.27, -0.1, -0.12), (0.07, 0.13, 0.08)),  # inferior horn
]


def _mirror(centre: tuple[float, float, float]) -> tuple[float, float, float]:
    return (-centre[0], centre[1], centre[2])


def malc_phantom(size: tuple[int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """``(image float32, raw labels int32, fov_mm)`` for one subject."""
    rng = np.random.default_rng(seed)
    u = grid(size)
    q = Warp()(u, rng) / ZOOM
    canvas = Canvas(size)
    t = TISSUE_INDEX
    head_r = np.array([0.8, 0.95, 0.88])
    canvas.paint(ellipsoid(q, (0, 0, 0), head_r), 0, t["scalp"])
    canvas.paint(ellipsoid(q, (0, 0, 0), head_r - 0.07), 0, t["skull"])
    canvas.paint(ellipsoid(q, (0, 0, 0), head_r - 0.12), CSF_ID, t["csf"])

    cerebrum_c, cerebrum_r = (0.0, 0.04, 0.12), np.array([0.66, 0.8, 0.66])
    cerebrum = ellipsoid(q, cerebrum_c, cerebrum_r)
    left = q[0] < 0
    sector = np.clip(((np.arctan2(q[2] - 0.12, q[1]) + np.pi) / (2 * np.pi) * 6).astype(np.int32), 0, 5)
    cortex_ids = np.where(left, 101 + 2 * sector, 102 + 2 * sector)
    canvas.paint(cerebrum, cortex_ids, t["cortex"])
    white = ellipsoid(q, cerebrum_c, cerebrum_r - 0.13)
    canvas.paint(white & left, 45, t["wm"])
    canvas.paint(white & ~left, 44, t["wm"])
    canvas.paint(cerebrum & (np.abs(q[0]) < 0.03) & (q[2] > -0.05), CSF_ID, t["csf"])

    for side, x in ((39, -0.3), (38, 0.3)):  # cerebellar cortex, then WM core (id - 2)
        canvas.paint(ellipsoid(q, (x, -0.5, -0.5), (0.3, 0.3, 0.24)), side, t["cortex"])
    canvas.paint(ellipsoid(q, (0, -0.5, -0.5), (0.05, 0.28, 0.22)), VERMIS_ID, t["cortex"])
    for side, x in ((41, -0.32), (40, 0.32)):
        canvas.paint(ellipsoid(q, (x, -0.5, -0.5), (0.17, 0.16, 0.12)), side, t["wm"])
    canvas.paint(cylinder_z(q, (0, -0.2), (0.14, 0.14), (-1.0, -0.22)), 35, t["brainstem"])
    canvas.paint(ellipsoid(q, (0, -0.36, -0.48), (0.1, 0.08, 0.12)), 11, t["csf"])  # 4th ventricle

    for left_id, right_id, tissue, centre, radii in PAIRED:
        canvas.paint(ellipsoid(q, centre, radii), left_id, t[tissue])
        canvas.paint(ellipsoid(q, _mirror(centre), radii), right_id, t[tissue])
    canvas.paint(ellipsoid(q, (0, -0.1, 0.02), (0.06, 0.19, 0.12)), 4, t["csf"])  # 3rd ventricle

    values = np.array(list(TISSUES.values()), dtype=np.float32) * rng.uniform(0.95, 1.05, len(TISSUES))
    image = render(canvas, values, blur_voxels=0.6, noise=0.025, rng=rng)
    image = np.abs(image * bias_field(u, rng, 0.15)) * 1000  # magnitude image (Rician-like floor)
    return image.astype(np.float32), canvas.raw, FOV_MM
