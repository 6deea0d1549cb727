import json

import numpy as np
import pytest

from medseg.cli import main
from medseg.data.check import check_manifest
from medseg.data.labels import MALC, MALC33
from medseg.data.phantoms import make_phantom
from medseg.data.readers import load_volume


def test_synth_writes_valid_manifest(tmp_path):
    out = tmp_path / "synth"
    assert main(["synth", "--kind", "malc", "--out", str(out), "--subjects", "5", "--size", "16", "--seed", "2"]) == 0
    manifest = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert [len(manifest[k]) for k in ("training", "validation", "test")] == [3, 1, 1]
    assert manifest["labels"] == MALC.labels_json()
    assert check_manifest(out / "dataset.json", progress=False) == []
    image, affine = load_volume(out / manifest["training"][0]["image"])
    expected, _, expected_affine = make_phantom("malc", 16, seed=2 * 100003)
    np.testing.assert_allclose(image[0], expected, rtol=1e-6)
    np.testing.assert_allclose(affine, expected_affine)


def test_synth_split_options_and_visceral(tmp_path):
    out = tmp_path / "v"
    main(["synth", "--kind", "visceral", "--out", str(out), "--subjects", "4", "--size", "16", "--validation", "0", "--test", "2"])
    manifest = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert [len(manifest[k]) for k in ("training", "validation", "test")] == [2, 0, 2]
    assert manifest["modality"] == "CT" and manifest["label_map"]["58"] == 1


def test_synth_with_the_33_class_table(tmp_path):
    out = tmp_path / "s33"
    main(["synth", "--kind", "malc", "--labels", "malc33", "--out", str(out), "--subjects", "3", "--size", "16"])
    manifest = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert manifest["labels"] == MALC33.labels_json() and manifest["label_map"] == MALC33.label_map_json()
    assert check_manifest(out / "dataset.json", progress=False) == []


@pytest.mark.parametrize(
    "args, message",
    [(["--kind", "mri"], "unknown kind 'mri'"), (["--labels", "malc34"], "unknown labels table 'malc34'"), (["--subjects", "2"], "cannot hold"), (["--size", "4"], "at least 8")],
)
def test_bad_arguments_write_nothing(tmp_path, args, message):
    with pytest.raises(ValueError, match=message):
        main(["synth", "--out", str(tmp_path / "x"), "--size", "16", *args])
    assert not (tmp_path / "x").exists()


def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_non_empty_out_is_refused_unless_overwrite_which_keeps_a_backup_issue25_defect12(tmp_path):
    """issue 25 defect 12: synth over an existing dataset left a mixture (an old training subject beside a new
    test subject of the same id). A non-empty --out is refused; --overwrite true moves it to previous/<stamp>/."""
    out = tmp_path / "d"
    args = ["synth", "--kind", "malc", "--out", str(out), "--subjects", "4", "--size", "16", "--validation", "0"]
    assert main([*args, "--test", "1"]) == 0  # s000-s002 training (imagesTr), s003 test (imagesTs)
    first = _files(out)
    with pytest.raises(ValueError, match=rf"--out {out} is not empty .*--overwrite true"):
        main([*args, "--test", "2", "--seed", "1"])
    assert _files(out) == first  # nothing touched
    assert main([*args, "--test", "2", "--seed", "1", "--overwrite", "true"]) == 0
    (stamp,) = (out / "previous").iterdir()
    assert _files(stamp) == first  # the old dataset, whole
    new = {k: v for k, v in _files(out).items() if not k.startswith("previous/")}
    manifest = json.loads(new["dataset.json"])
    listed = {e[k] for split in ("training", "test") for e in manifest[split] for k in ("image", "label")}
    assert set(new) - {"dataset.json"} == listed  # no old file left beside the new ones
    assert "imagesTr/s002.nii.gz" not in new and "imagesTs/s002.nii.gz" in new
    assert check_manifest(out / "dataset.json", progress=False) == []
    assert main([*args, "--test", "1", "--overwrite", "true"]) == 0  # a second backup beside the first
    assert len(list((out / "previous").iterdir())) == 2 and _files(stamp) == first
