"""`medseg fit|test|predict` on synthetic phantoms: DDP results (subprocess), predict geometry.

Only the DDP run is a subprocess (each costs an interpreter start and imports); the rest runs in-process.
"""

import json
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest
import yaml

from medseg.data.synth import synth
from medseg.engine.cli import run_lightning_cli

pytestmark = pytest.mark.slow


def medseg(*args, cwd):
    result = subprocess.run([sys.executable, "-m", "medseg.cli", *args], cwd=cwd, capture_output=True, text=True, encoding="utf-8",
                            timeout=300, env={**__import__("os").environ, "WANDB_SILENT": "true"})
    assert result.returncode == 0, f"medseg {' '.join(args)} failed:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Phantoms (3 test subjects: odd for 2 ranks), a config and one trained epoch."""
    tmp = tmp_path_factory.mktemp("cli")
    synth("malc", str(tmp / "data"), subjects=5, size=16, validation=1, test=3)
    config = {
        "seed_everything": 3,
        "trainer": {"default_root_dir": str(tmp / "run"), "max_epochs": 1, "accelerator": "cpu",
                    "limit_train_batches": 2, "enable_progress_bar": False, "enable_model_summary": False},
        "model": {"network": {"name": "unet", "attention": "scse",
                              "options": {"features": 4, "depth": 2, "kernel_size": 3}}},
        "data": {"manifest": str(tmp / "data" / "dataset.json"), "plane": "axial", "batch_size": 8},
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    run_lightning_cli(["fit", "--config", str(tmp / "config.yaml")])
    return tmp


def test_ddp_two_processes_odd_subjects_equal_single_process_csv(run):
    results = run / "run" / "results"
    run_lightning_cli(["test", "--config", str(run / "config.yaml"), "--ckpt_path", "last"])
    single = (results / "dice_per_structure.csv").read_text(encoding="utf-8")
    medseg("test", "--config", "config.yaml", "--ckpt_path", "last", "--trainer.strategy", "ddp",
           "--trainer.devices", "2", cwd=run)
    ddp = (results / "dice_per_structure.csv").read_text(encoding="utf-8")
    assert ddp == single
    assert sorted({line.split(",")[0] for line in single.splitlines()[1:]}) == ["s002", "s003", "s004"]
    assert json.loads((results / "summary.json").read_text(encoding="utf-8"))["num_subjects"] == 3
    assert len(list((results / "previous").iterdir())) == 1  # the single-process results were kept


def test_predict_keeps_shape_and_affine_of_a_non_canonical_input(run):
    data = run / "data"
    manifest = json.loads((data / "dataset.json").read_text(encoding="utf-8"))
    source = nib.load(data / manifest["test"][0]["image"])
    # LAS -> PIL-like: permute and flip the voxel axes, and change the affine so the anatomy is unchanged
    ornt = nib.orientations.axcodes2ornt(("P", "I", "L"))
    transform = nib.orientations.ornt_transform(nib.orientations.io_orientation(source.affine), ornt)
    odd = source.as_reoriented(transform)
    nib.save(odd, data / "odd.nii.gz")
    manifest["test"] = [{"id": "canonical", "image": manifest["test"][0]["image"]}, {"id": "odd", "image": "odd.nii.gz"}]
    (data / "predict.json").write_text(json.dumps(manifest), encoding="utf-8")
    run_lightning_cli(["predict", "--config", str(run / "config.yaml"), "--ckpt_path", "last",
                       "--data.manifest", str(data / "predict.json")])
    out = nib.load(run / "run" / "predictions" / "odd.nii.gz")
    assert nib.aff2axcodes(odd.affine) == ("P", "I", "L")
    assert out.shape == odd.shape
    np.testing.assert_allclose(out.affine, odd.affine, atol=1e-6)
    canonical = nib.load(run / "run" / "predictions" / "canonical.nii.gz")
    back = canonical.as_reoriented(transform)  # the same anatomy predicted from either orientation
    np.testing.assert_array_equal(np.asarray(out.dataobj), np.asarray(back.dataobj))


def test_maps_subcommand_writes_the_attention_figure(run, tmp_path):
    from medseg.cli import main

    out = tmp_path / "maps.png"
    assert main(["maps", str(run / "run"), "--out", str(out)]) == 0
    assert out.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(FileNotFoundError, match="checkpoints/nope.ckpt not found"):
        main(["maps", str(run / "run"), "--checkpoint", "nope.ckpt"])


def test_maps_with_a_truncated_checkpoint_names_its_path(run, tmp_path):
    from medseg.cli import main

    (tmp_path / "checkpoints").mkdir()
    shutil.copy(run / "run" / "config.yaml", tmp_path / "config.yaml")
    good = (run / "run" / "checkpoints" / "last.ckpt").read_bytes()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(good[: len(good) // 2])
    with pytest.raises(Exception, match=f"{tmp_path / 'checkpoints' / 'last.ckpt'} is not a readable checkpoint"):
        main(["maps", str(tmp_path), "--out", str(tmp_path / "maps.png")])
    assert not (tmp_path / "maps.png").exists()


def test_fit_without_validation_subjects_warns_and_checkpoints(tmp_path):
    """MALC's QuickNAT protocol has no validation split: fit must run (and checkpoint) without one."""
    synth("malc", str(tmp_path / "data"), subjects=3, size=16, validation=0, test=1)
    config = {
        "trainer": {"default_root_dir": str(tmp_path / "run"), "max_epochs": 1, "accelerator": "cpu",
                    "limit_train_batches": 1, "enable_progress_bar": False, "enable_model_summary": False},
        "model": {"network": {"name": "unet", "options": {"features": 4, "depth": 2, "kernel_size": 3}}},
        "data": {"manifest": str(tmp_path / "data" / "dataset.json"), "plane": "axial", "batch_size": 4},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.warns(UserWarning, match="no validation subjects"):
        run_lightning_cli(["fit", "--config", str(tmp_path / "config.yaml")])
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    with pytest.raises(ValueError, match="split 'validation' has no subjects"):
        run_lightning_cli(["validate", "--config", str(tmp_path / "config.yaml"), "--ckpt_path", "last"])


def test_predict_again_keeps_the_earlier_predictions_as_a_backup(run, tmp_path):
    data = run / "data"
    manifest = json.loads((data / "dataset.json").read_text(encoding="utf-8"))
    manifest["test"] = manifest["test"][:1]
    (tmp_path / "one.json").write_text(json.dumps({**manifest, "test": [
        {**manifest["test"][0], "image": str(data / manifest["test"][0]["image"])}]}), encoding="utf-8")
    args = ["predict", "--config", str(run / "config.yaml"), "--ckpt_path", str(run / "run" / "checkpoints" / "last.ckpt"),
            "--data.manifest", str(tmp_path / "one.json"), "--trainer.default_root_dir", str(tmp_path / "D")]
    run_lightning_cli(args)
    subject = f"{manifest['test'][0]['id']}.nii.gz"
    first = (tmp_path / "D" / "predictions" / subject).read_bytes()
    with pytest.warns(UserWarning, match="previous files moved to"):
        run_lightning_cli(args)
    backups = list((tmp_path / "D" / "predictions" / "previous").iterdir())
    assert len(backups) == 1 and (backups[0] / subject).read_bytes() == first
    assert (tmp_path / "D" / "predictions" / subject).is_file()
