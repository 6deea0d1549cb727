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
