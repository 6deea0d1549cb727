"""The transfer scan (issue 21): tissue merge and reference rule against independent code; its fetch."""

import hashlib
import zipfile
from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from medseg.data.brain import BrainDataError
from medseg.data.brain import transfer_scan as ts
from medseg.data.labels import MALC


def test_tissue_merge_keeps_pairs_together_and_ventricles_out():
    """Left/right twins share a tissue; ventricles and background are neither; cerebral WM/cortex are WM/GM."""
    names = list(MALC.names)
    for i, name in enumerate(names):
        if name.startswith("Left-"):
            assert ts.TISSUE_OF[i] == ts.TISSUE_OF[names.index("Right-" + name[5:])], name
        if "Ventricle" in name or name == "background":
            assert ts.TISSUE_OF[i] == 0, name
    assert ts.TISSUES[ts.TISSUE_OF[names.index("Left-Cerebral-White-Matter")]] == "white matter"
    assert ts.TISSUES[ts.TISSUE_OF[names.index("Right-Cerebral-Cortex")]] == "grey matter"
    assert set(np.unique(ts.TISSUE_OF)) == {0, 1, 2}


def test_reference_is_the_argmax_of_the_maps(tmp_path):
    """On the maps' own grid (no interpolation), each voxel's tissue is the largest of 1-gm-wm, gm, wm (loop)."""
    rng = np.random.default_rng(1)
    shape, affine = (9, 8, 7), np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-8, -7, -6)
    gm = rng.integers(0, 256, shape)
    wm = np.minimum(rng.integers(0, 256, shape), 255 - gm)
    paths = {}
    for key, data in (("gm", gm), ("wm", wm)):
        paths[key] = tmp_path / f"{key}.nii.gz"
        nib.save(nib.Nifti1Image(data.astype(np.float32), affine), str(paths[key]))
    got = ts.reference_tissue(paths, shape, affine)
    for index in np.ndindex(shape):
        p = [1 - (gm[index] + wm[index]) / 255, gm[index] / 255, wm[index] / 255]
        assert got[index] == int(np.argmax(p)), index


def _fake_nilearn_wheel(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for member in ts.NILEARN.files:
            archive.writestr(member, f"fake {member}\n")
    return path


def test_fetch_from_downloads_caches_once_and_bad_archive_names_the_fix(tmp_path, monkeypatch, capsys):
    wheel = _fake_nilearn_wheel(tmp_path / "dl" / ts.NILEARN.filename)
    with pytest.raises(BrainDataError, match="pip download --no-deps --only-binary=:all: nilearn==0.14.1"):
        ts.fetch_icbm2009a(tmp_path / "cache", downloads=wheel.parent)  # the fake's sha256 is not nilearn's
    assert not (tmp_path / "cache" / ts.NILEARN.folder).exists()
    monkeypatch.setattr(ts, "NILEARN", replace(ts.NILEARN, sha256=hashlib.sha256(wheel.read_bytes()).hexdigest()))
    paths = ts.fetch_icbm2009a(tmp_path / "cache", downloads=wheel.parent)
    assert paths["gm"].read_text() == "fake nilearn/datasets/data/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz\n"
    wheel.unlink()  # cached now: a second call needs no archive
    assert ts.fetch_icbm2009a(tmp_path / "cache", downloads=wheel.parent) == paths
    assert capsys.readouterr().out.count("cached nilearn") == 1
