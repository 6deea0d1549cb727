import json
import subprocess
import sys

import numpy as np
import pytest

from medseg.cli import main
from medseg.data.readers import write_volume

from .conftest import AFFINE


def listing(folder):
    return sorted((p.name, p.stat().st_size) for p in folder.rglob("*"))


def run_check(manifest, capsys):
    before = listing(manifest.parent)
    code = main(["data", "check", str(manifest)])
    out = capsys.readouterr()
    assert listing(manifest.parent) == before  # nothing written
    return code, out.out + out.err


def test_clean_manifest_passes(small_manifest, capsys):
    code, text = run_check(small_manifest, capsys)
    assert code == 0 and "0 error(s), 0 warning(s)" in text


def _corrupt_gzip(root):
    data = (root / "s0_img.nii.gz").read_bytes()
    (root / "s0_img.nii.gz").write_bytes(data[: len(data) // 2])


def _image(root, array, affine=AFFINE, name="s0_img.nii.gz"):
    write_volume(root / name, array, affine)


CASES = {
    "missing file": (lambda r: (r / "s0_img.nii.gz").unlink(), "s0_img.nii.gz: image of subject 's0': file not found"),
    "truncated gzip": (_corrupt_gzip, "s0_img.nii.gz: cannot read image data"),
    "shape mismatch": (lambda r: _image(r, np.zeros((16, 16, 15), np.float32)), "s0_lbl.nii.gz: label shape (16, 16, 16) differs from image shape (16, 16, 15)"),
    "affine mismatch": (lambda r: _image(r, np.zeros((16,) * 3, np.float32), np.diag([1.0, 1.0, 1.2, 1.0])), "s0_lbl.nii.gz: label affine differs"),
    "unknown label": (lambda r: _image(r, np.full((16,) * 3, 5, np.uint16), name="s1_lbl.nii.gz"), "s1_lbl.nii.gz: unknown label id(s) [5]"),
    "nan intensities": (lambda r: _image(r, np.full((16,) * 3, np.nan, np.float32)), "s0_img.nii.gz: image has 4096 NaN/Inf voxel(s)"),
    "5d image": (lambda r: _image(r, np.zeros((16, 16, 16, 1, 2), np.float32)), "s0_img.nii.gz: image must be 3D (X, Y, Z) or 4D with 1 channel(s), got 5D"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_an_error_naming_the_file(small_manifest, capsys, case):
    damage, message = CASES[case]
    damage(small_manifest.parent)
    code, text = run_check(small_manifest, capsys)
    assert code == 1
    assert message in text, text


def test_all_problems_reported_at_once(small_manifest, capsys):
    for case in ("missing file", "unknown label"):
        CASES[case][0](small_manifest.parent)
    code, text = run_check(small_manifest, capsys)
    assert code == 1 and "2 error(s)" in text


def test_empty_label_is_a_warning(small_manifest, capsys):
    write_volume(small_manifest.parent / "s1_lbl.nii.gz", np.zeros((16,) * 3, np.uint16), AFFINE)
    code, text = run_check(small_manifest, capsys)
    assert code == 0 and "WARNING:" in text and "s1_lbl.nii.gz: label volume is empty" in text


def test_unknown_manifest_key(small_manifest, capsys):
    data = json.loads(small_manifest.read_text(encoding="utf-8"))
    data["trainig"] = []
    small_manifest.write_text(json.dumps(data), encoding="utf-8")
    code, text = run_check(small_manifest, capsys)
    assert code == 1 and "dataset.json: unknown key 'trainig'" in text


def test_json_syntax_error_is_a_hard_failure(tmp_path):
    (tmp_path / "m.json").write_text('{\n "name": "x",\n "labels": {,\n}', encoding="utf-8")
    with pytest.raises(SystemExit, match=r"m.json: JSON syntax error at line 3"):
        main(["data", "check", str(tmp_path / "m.json")])


@pytest.mark.slow
def test_subprocess_exit_code(small_manifest):
    (small_manifest.parent / "s0_img.nii.gz").unlink()
    run = subprocess.run([sys.executable, "-m", "medseg.cli", "data", "check", str(small_manifest)], capture_output=True, text=True, encoding="utf-8")
    assert run.returncode == 1 and "s0_img.nii.gz: image of subject 's0': file not found" in run.stderr
