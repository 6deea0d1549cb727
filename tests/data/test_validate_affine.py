"""A zero or singular affine is one clear error naming the file and subject, in ``medseg data check``,
fit/test and predict alike (issue 25 defect 20)."""

import json

import nibabel as nib
import numpy as np
import pytest

from medseg.cli import main
from medseg.data import SegmentationDataModule
from medseg.data.preprocess import validated_arrays
from medseg.data.validate import DataError, affine_problem

from .conftest import write_subject


def _write_with_affine(path, affine):
    """Rewrite ``path`` with this sform and no qform (nibabel refuses to *make* such a qform)."""
    data = np.asanyarray(nib.load(path).dataobj)
    image = nib.Nifti1Image(data, None)
    image.set_qform(None, code=0)
    image.set_sform(affine, code=1)
    nib.save(image, path)


def _manifest(tmp_path):
    entries = [write_subject(tmp_path, f"s{i}") for i in range(3)]
    data = {"name": "z", "labels": {"0": "background", "1": "thing"}, "label_map": {"2": 1},
            "training": entries[:1], "validation": entries[1:2], "test": entries[2:]}
    (tmp_path / "dataset.json").write_text(json.dumps(data), encoding="utf-8")
    return tmp_path / "dataset.json"


@pytest.mark.parametrize("kind", ["img", "lbl"])
def test_issue25_defect20_zero_affine_is_an_error_naming_file_and_subject(tmp_path, capsys, kind):
    manifest = _manifest(tmp_path)
    bad = tmp_path / f"s0_{kind}.nii.gz"
    _write_with_affine(bad, np.zeros((4, 4)))
    what = "image" if kind == "img" else "label"
    assert main(["data", "check", str(manifest)]) == 1
    err = capsys.readouterr().err
    assert f"ERROR: {bad}: {what} affine is singular" in err and "subject 's0'" in err
    with pytest.raises(DataError, match=rf"{bad}: {what} affine is singular.*subject 's0'"):
        SegmentationDataModule(str(manifest)).setup("fit")
    if kind == "img":  # predict reads the image alone
        with pytest.raises(DataError, match=rf"{bad}: image affine is singular"):
            validated_arrays(str(bad), None, "s0", None)


def test_issue25_defect20_affine_rule():
    assert affine_problem(np.diag([1.0, 2.0, 0.5, 1.0]), "image") is None
    sheared = np.eye(4)
    sheared[:3, 1] = [0.5, 1.0, 0.0]  # oblique but independent axes: a valid grid
    assert affine_problem(sheared, "image") is None
    collapsed = np.eye(4)
    collapsed[:3, 2] = [1.0, 1.0, 0.0]  # third axis in the plane of the first two: det = 0, lengths > 0
    assert "singular" in affine_problem(collapsed, "label")
    assert "NaN/Inf" in affine_problem(np.diag([1.0, np.nan, 1.0, 1.0]), "image")
