"""Torso CT phantom in Hounsfield units with the 20 Visceral organs, raw labels as RadLex ids.

Template coordinates (see :mod:`.common`): z runs from the pelvis (-1) to the neck (+1). An elliptic body
with a subcutaneous fat layer holds lungs, trachea, thyroid, heart, ribs and sternum above, liver,
gallbladder, spleen, pancreas, kidneys and adrenals in the middle, the bladder below, a spine of
vertebrae (only L1 labelled), psoas and rectus muscles and the aorta. Not solvable by intensity: L1
shares its HU with the other vertebrae, ribs and sternum; liver and spleen, psoas and rectus, adrenals
and pancreas, left and right partners share HU values. Organs stay several voxels thick at 64³.
"""

from __future__ import annotations

import numpy as np

from .common import Canvas, Warp, bias_field, cylinder_z, ellipsoid, grid, render

TISSUES = {
    "air": -1000.0, "fat": -100.0, "soft": 30.0, "lung": -850.0, "airway": -980.0, "bone": 420.0,
    "disc": 90.0, "muscle": 50.0, "liver": 65.0, "kidney": 170.0, "gland": 45.0, "blood": 190.0,
    "fluid": 8.0, "thyroid": 110.0, "heart": 40.0,
}  # fmt: skip
TISSUE_INDEX = {name: i for i, name in enumerate(TISSUES)}
FOV_MM = (400.0, 400.0, 500.0)
L1_Z = -0.08  # centre of the first lumbar vertebra; vertebrae every 0.15

# (raw RadLex id, tissue, shape kind, parameters) painted in order
ORGANS = [
    (58, "liver", "ellipsoid", ((0.3, 0.05, 0.14), (0.36, 0.34, 0.2))),
    (187, "fluid", "ellipsoid", ((0.24, 0.3, -0.04), (0.1, 0.1, 0.1))),  # gallbladder
    (86, "liver", "ellipsoid", ((-0.44, -0.12, 0.14), (0.13, 0.16, 0.15))),  # spleen
    (170, "gland", "ellipsoid", ((-0.02, 0.02, 0.0), (0.3, 0.09, 0.08))),  # pancreas
    (29662, "kidney", "ellipsoid", ((0.32, -0.27, -0.12), (0.1, 0.11, 0.16))),
    (29663, "kidney", "ellipsoid", ((-0.32, -0.27, -0.1), (0.1, 0.11, 0.16))),
    (30324, "gland", "ellipsoid", ((0.25, -0.2, 0.12), (0.09, 0.09, 0.09))),
    (30325, "gland", "ellipsoid", ((-0.25, -0.2, 0.13), (0.09, 0.09, 0.09))),
    (237, "fluid", "ellipsoid", ((0.0, 0.15, -0.8), (0.18, 0.15, 0.12))),  # urinary bladder
    (32248, "muscle", "psoas", 0.2),
    (32249, "muscle", "psoas", -0.2),
    (40357, "muscle", "cylinder", ((0.14, 0.43), (0.1, 0.06), (-0.85, 0.22))),  # right rectus
    (40358, "muscle", "cylinder", ((-0.14, 0.43), (0.1, 0.06), (-0.85, 0.22))),
    (480, "blood", "cylinder", ((-0.08, -0.2), (0.07, 0.07), (-0.45, 0.5))),  # aorta
    (1302, "lung", "ellipsoid", ((0.33, 0.0, 0.58), (0.28, 0.38, 0.38))),
    (1326, "lung", "ellipsoid", ((-0.33, 0.0, 0.58), (0.26, 0.38, 0.36))),
    (1247, "airway", "cylinder", ((0.0, 0.08), (0.065, 0.065), (0.55, 1.0))),  # trachea
    (7578, "thyroid", "ellipsoid", ((0.12, 0.1, 0.88), (0.07, 0.08, 0.1))),
    (7578, "thyroid", "ellipsoid", ((-0.12, 0.1, 0.88), (0.07, 0.08, 0.1))),
    (2473, "bone", "ellipsoid", ((0.0, 0.46, 0.5), (0.08, 0.06, 0.25))),  # sternum
]


def _shape(q: np.ndarray, kind: str, params) -> np.ndarray:
    if kind == "ellipsoid":
        return ellipsoid(q, *params)
    if kind == "cylinder":
        return cylinder_z(q, *params)
    # psoas: a muscle widening from L1 down to the pelvis, x = params
    radius = 0.05 + 0.06 * np.clip((L1_Z - q[2]) / 0.7, 0, 1)
    return ((q[0] - params) ** 2 + (q[1] + 0.3) ** 2 <= radius**2) & (q[2] > -0.85) & (q[2] < L1_Z + 0.05)


def visceral_phantom(size: tuple[int, int, int], seed: int) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """``(image float32 HU, raw labels int32, fov_mm)`` for one subject."""
    rng = np.random.default_rng(seed)
    u = grid(size)
    q = Warp(displacement=0.025)(u, rng)
    canvas = Canvas(size)
    t = TISSUE_INDEX
    body = cylinder_z(q, (0, 0), (0.9, 0.6), (-1.5, 0.8)) | cylinder_z(q, (0, 0.05), (0.25, 0.22), (0.7, 1.5))
    canvas.paint(body, 0, t["fat"])
    canvas.paint(cylinder_z(q, (0, 0), (0.82, 0.53), (-1.5, 0.8)), 0, t["soft"])
    ribs = cylinder_z(q, (0, 0), (0.78, 0.5), (0.1, 0.8)) & ~cylinder_z(q, (0, 0), (0.72, 0.45), (-2, 2))
    canvas.paint(ribs & (np.mod(q[2] - 0.1, 0.12) < 0.05), 0, t["bone"])
    canvas.paint(ellipsoid(q, (-0.05, 0.15, 0.33), (0.24, 0.2, 0.16)), 0, t["heart"])
    for k in range(-7, 8):  # vertebral bodies with discs between them; only L1 (k = 0) is labelled
        z = L1_Z + 0.15 * k
        canvas.paint(cylinder_z(q, (0, -0.4), (0.13, 0.12), (z - 0.075, z + 0.075)), 0, t["disc"])
        canvas.paint(cylinder_z(q, (0, -0.4), (0.13, 0.12), (z - 0.055, z + 0.055)), 29193 if k == 0 else 0, t["bone"])
    for raw_id, tissue, kind, params in ORGANS:
        canvas.paint(_shape(q, kind, params), raw_id, t[tissue])

    values = np.array(list(TISSUES.values()), dtype=np.float32) + rng.normal(0, 8, len(TISSUES)).astype(np.float32)
    image = render(canvas, values, blur_voxels=0.6, noise=15.0, rng=rng)
    image += 30.0 * (bias_field(u, rng, 0.3) - 1)  # beam-hardening-like smooth offset, a few tens of HU
    return np.clip(image, -1024, 3071).astype(np.float32), canvas.raw, FOV_MM
