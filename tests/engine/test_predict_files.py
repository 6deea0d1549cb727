"""``medseg predict -i FILES -o OUT --model RUN_OR_PACKAGE`` (issue 25 part 1.1): the same labels as the
manifest-based ``medseg predict --config``, on each input's own grid; unreadable inputs named."""

import json
import shutil
import zipfile

import nibabel as nib
import numpy as np
import pytest
import yaml

from medseg.cli import _file_predict_args, _wants_file_predict, main
from medseg.engine.cli import run_lightning_cli
from medseg.engine.predict_files import PredictError
from medseg.eval.label_tables import ITKSNAP_NAME, SLICER_NAME


def test_dispatch_file_form_on_input_or_model_without_config():
    assert _wants_file_predict(["-i", "a.nii.gz", "-o", "out", "--model", "run"])
    assert _wants_file_predict(["--input=a.nii.gz", "--out", "o", "--model", "run"])
    assert _wants_file_predict(["--model", "run", "--out", "o"])
    assert not _wants_file_predict(["--config", "c.yaml", "--ckpt_path", "last"])
    assert not _wants_file_predict(["--config", "c.yaml", "--model.inference.mc_samples", "4"])
    assert not _wants_file_predict(["--config", "c.yaml", "--model", "model.yaml"])  # LightningCLI's --model CONFIG
    assert _file_predict_args(["-i", "a", "b", "-o", "O", "--model", "R", "-i", "c"]) == [
        "--inputs", '["a", "b", "c"]', "--out", "O", "--model", "R"]


def _odd_copy(source, target):
    """``source`` stored in another voxel order (P, I, L) with the same anatomy: a non-canonical input."""
    image = nib.load(source)
    transform = nib.orientations.ornt_transform(nib.orientations.io_orientation(image.affine),
                                                nib.orientations.axcodes2ornt(("P", "I", "L")))
    nib.save(image.as_reoriented(transform), target)
    return target


@pytest.fixture(scope="module")
def inputs(tiny_run, tmp_path_factory):
    """Two test images (one non-canonical) and the manifest-based predictions of the same files."""
    tmp = tmp_path_factory.mktemp("inputs")
    data = tiny_run.parent / "data"
    folder = tmp / "scans"
    folder.mkdir()
    shutil.copy(data / "images" / "s003.nii.gz", folder / "s003.nii.gz")
    _odd_copy(data / "images" / "s004.nii.gz", folder / "odd.nii.gz")
    manifest = json.loads((data / "dataset.json").read_text(encoding="utf-8"))
    manifest["test"] = [{"id": "s003", "image": str(folder / "s003.nii.gz")}, {"id": "odd", "image": str(folder / "odd.nii.gz")}]
    (tmp / "predict.json").write_text(json.dumps(manifest), encoding="utf-8")
    # the manifest-based LightningCLI form, through `medseg predict` itself: it must still go to LightningCLI
    assert main(["predict", "--config", str(tiny_run / "config.yaml"), "--data.manifest", str(tmp / "predict.json"),
                 "--ckpt_path", str(tiny_run / "checkpoints" / "last.ckpt"), "--trainer.default_root_dir", str(tmp / "D")]) == 0
    assert (tmp / "D" / "config_predict.yaml").is_file()  # written by LightningCLI's run folder config
    return folder, tmp / "D" / "predictions"


def _labels(path):
    image = nib.load(path)
    return np.asarray(image.dataobj), image.affine


@pytest.mark.slow
def test_run_folder_predict_equals_manifest_predict_on_each_inputs_grid(tiny_run, inputs, tmp_path, capsys):
    folder, reference = inputs
    out = tmp_path / "out"
    assert main(["predict", "-i", str(folder / "s003.nii.gz"), str(folder / "odd.nii.gz"), "-o", str(out),
                 "--model", str(tiny_run)]) == 0
    assert "predict: 100%" in capsys.readouterr().err  # the progress bar over files
    for name in ("s003", "odd"):
        ours, affine = _labels(out / f"{name}.nii.gz")
        theirs, _ = _labels(reference / f"{name}.nii.gz")
        source = nib.load(folder / f"{name}.nii.gz")
        assert ours.shape == source.shape and np.allclose(affine, source.affine, atol=1e-6)
        np.testing.assert_array_equal(ours, theirs)
    assert len(np.unique(_labels(out / "s003.nii.gz")[0])) > 1  # a real prediction, not an all-background map
    for table in (ITKSNAP_NAME, SLICER_NAME):  # written beside both forms of predict, the same
        assert (out / table).read_text(encoding="utf-8") == (reference / table).read_text(encoding="utf-8")


@pytest.mark.slow
def test_package_predict_on_a_clean_folder_equals_manifest_predict(tiny_run, inputs, tmp_path, monkeypatch):
    """Export from a copy of the run whose dataset path no longer exists, delete the copy, then predict a folder
    from an empty working folder with only the package: the run's labels come back."""
    folder, reference = inputs
    copy = tmp_path / "run-copy"
    shutil.copytree(tiny_run, copy)
    config = yaml.safe_load((copy / "config.yaml").read_text(encoding="utf-8"))
    config["data"]["manifest"] = str(tmp_path / "gone" / "dataset.json")
    (copy / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    assert main(["export", str(copy), "--out", str(tmp_path / "model.zip")]) == 0
    shutil.rmtree(copy)
    clean = tmp_path / "clean"
    clean.mkdir()
    monkeypatch.chdir(clean)
    assert main(["predict", "-i", str(folder), "-o", "out", "--model", str(tmp_path / "model.zip")]) == 0
    assert sorted(p.name for p in (clean / "out").iterdir()) == sorted(["odd.nii.gz", "s003.nii.gz", ITKSNAP_NAME, SLICER_NAME])
    for name in ("s003", "odd"):
        np.testing.assert_array_equal(_labels(clean / "out" / f"{name}.nii.gz")[0], _labels(reference / f"{name}.nii.gz")[0])


@pytest.mark.slow
def test_unreadable_input_is_named_and_stops_unless_continue_on_error(tiny_run, inputs, tmp_path, capsys):
    folder, reference = inputs
    bad = tmp_path / "broken.nii.gz"
    bad.write_bytes((folder / "s003.nii.gz").read_bytes()[:200])  # truncated
    args = ["predict", "-i", str(bad), str(folder / "s003.nii.gz"), "--model", str(tiny_run)]
    with pytest.raises(PredictError, match=f"(?s)^medseg predict: {bad}: cannot read volume.*--continue_on_error true"):
        main([*args, "-o", str(tmp_path / "a")])
    assert not (tmp_path / "a" / "s003.nii.gz").exists()  # stopped at the bad file
    capsys.readouterr()
    assert main([*args, "-o", str(tmp_path / "b"), "--continue_on_error", "true"]) == 1
    printed = capsys.readouterr()
    assert f"skipped: {bad}" in printed.err and "1 of 2 inputs predicted" in printed.out and str(bad) in printed.out
    np.testing.assert_array_equal(_labels(tmp_path / "b" / "s003.nii.gz")[0], _labels(reference / "s003.nii.gz")[0])
    assert not (tmp_path / "b" / "broken.nii.gz").exists()


@pytest.mark.slow
def test_clashing_outputs_and_missing_models_are_refused_before_anything_is_written(tiny_run, inputs, tmp_path):
    folder, _ = inputs
    (tmp_path / "other").mkdir()
    shutil.copy(folder / "s003.nii.gz", tmp_path / "other" / "s003.nii.gz")
    with pytest.raises(PredictError, match="would both be predicted to"):
        main(["predict", "-i", str(folder), str(tmp_path / "other"), "-o", str(tmp_path / "o"), "--model", str(tiny_run)])
    with pytest.raises(PredictError, match=f"would overwrite the input {tmp_path / 'other' / 's003.nii.gz'}"):
        main(["predict", "-i", str(tmp_path / "other"), "-o", str(tmp_path / "other"), "--model", str(tiny_run)])
    with pytest.raises(ValueError, match=f"--model {tmp_path / 'nope'}: no such run folder or package file"):
        main(["predict", "-i", str(folder), "-o", str(tmp_path / "o"), "--model", str(tmp_path / "nope")])
    with pytest.raises(ValueError, match="no .*config.yaml"):
        main(["predict", "-i", str(folder), "-o", str(tmp_path / "o"), "--model", str(folder)])
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_predicting_again_keeps_the_earlier_outputs_as_a_backup(tiny_run, inputs, tmp_path):
    folder, _ = inputs
    args = ["predict", "-i", str(folder / "s003.nii.gz"), "-o", str(tmp_path), "--model", str(tiny_run)]
    assert main(args) == 0
    first = (tmp_path / "s003.nii.gz").read_bytes()
    with pytest.warns(UserWarning, match="previous files moved to"):
        assert main(args) == 0
    (backup,) = (tmp_path / "previous").iterdir()
    assert (backup / "s003.nii.gz").read_bytes() == first and (backup / ITKSNAP_NAME).is_file()


@pytest.mark.slow
def test_the_runs_inference_options_views_included_travel_with_the_run_and_the_package(tiny_run, inputs, tmp_path):
    """A run whose saved config fuses a second (coronal) view, saves probabilities and predicts in bf16-mixed:
    predict -i on the run and on its package give the manifest-based predict's labels and probabilities (bf16
    rounding alone would change them by ~1e-3)."""
    folder, _ = inputs
    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
    config["model"]["inference"] = {"views": {"coronal": str(run / "checkpoints" / "best.ckpt")}, "save_probabilities": True}
    config["trainer"]["precision"] = "bf16-mixed"  # the manifest predict runs under autocast: so must predict -i
    (run / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    run_lightning_cli(["predict", "--config", str(run / "config.yaml"), "--data.manifest", str(folder.parent / "predict.json"),
                       "--ckpt_path", str(run / "checkpoints" / "last.ckpt"), "--trainer.default_root_dir", str(tmp_path / "D")])
    assert main(["export", str(run), "--out", str(tmp_path / "model.zip")]) == 0
    with zipfile.ZipFile(tmp_path / "model.zip") as archive:
        assert "weights/coronal.pt" in archive.namelist()
    for model in (run, tmp_path / "model.zip"):
        out = tmp_path / f"out-{model.name}"
        assert main(["predict", "-i", str(folder), "-o", str(out), "--model", str(model)]) == 0
        for name in ("s003", "odd"):
            reference = tmp_path / "D" / "predictions" / f"{name}.nii.gz"
            np.testing.assert_array_equal(_labels(out / f"{name}.nii.gz")[0], _labels(reference)[0])
            probabilities = nib.load(out / f"{name}_probabilities.nii.gz")
            assert probabilities.shape == (*nib.load(folder / f"{name}.nii.gz").shape, 3)
            fused = nib.load(tmp_path / "D" / "predictions" / f"{name}_probabilities.nii.gz").get_fdata()
            np.testing.assert_allclose(probabilities.get_fdata(), fused, atol=1e-6)  # the fused views, not one
