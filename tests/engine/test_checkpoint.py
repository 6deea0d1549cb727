"""Checkpoints given to fit/test/predict: unreadable files name their path; an explicit file keeps the
YAML's model section (inference options follow the config, a different network is an error)."""

import csv
import shutil

import pytest

from medseg.engine.checkpoint import CheckpointError, network_conflicts
from medseg.engine.cli import run_lightning_cli
from tests.engine.test_cli import _config
from tests.engine.tiny_data import TinyDataModule


def _bad_checkpoint(path, kind, good=None):
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random":
        path.write_bytes(bytes(range(256)) * 64)
    else:  # a real checkpoint cut in half (a copy killed mid-way)
        path.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return path


@pytest.mark.parametrize("subcommand", ["fit", "test", "predict"])
@pytest.mark.parametrize("kind", ["empty", "random"])
def test_unreadable_checkpoint_names_its_path_and_writes_nothing(tmp_path, subcommand, kind):
    bad = _bad_checkpoint(tmp_path / f"{kind}.ckpt", kind)
    root = tmp_path / "run"
    with pytest.raises(Exception) as error:
        run_lightning_cli([subcommand, "--config", _config(tmp_path, root), "--ckpt_path", str(bad)], TinyDataModule)
    assert str(bad) in str(error.value)
    assert not (root / "config.yaml").exists() and not list(root.glob("config_*.yaml"))


def test_network_conflicts_name_both_values():
    config = {"network": {"name": "unet", "attention": "scse", "options": {"features": 8}}, "num_classes": 3, "plane": "axial"}
    saved = {"network": {"name": "unet", "attention": "cse", "options": {"features": 4}}, "num_classes": 3, "plane": "axial",
             "inference": {"surface_distances": False}, "optimizer": {"lr": 1.0}}
    assert network_conflicts(config, saved) == [
        "model.network.attention: config 'scse' vs checkpoint 'cse'",
        "model.network.options.features: config 8 vs checkpoint 4",
    ]
    assert network_conflicts(config, config) == []


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny epoch; returns (tmp folder, its checkpoint)."""
    tmp = tmp_path_factory.mktemp("ckpt")
    run_lightning_cli(["fit", "--config", _config(tmp, tmp / "trained"), "--trainer.max_epochs", "1"], TinyDataModule)
    return tmp, tmp / "trained" / "checkpoints" / "last.ckpt"


@pytest.mark.slow
def test_explicit_checkpoint_keeps_the_configs_inference_options(trained, tmp_path):
    tmp, ckpt = trained
    root = tmp_path / "tested"
    run_lightning_cli(["test", "--config", _config(tmp_path, root), "--ckpt_path", str(ckpt),
                       "--model.inference.surface_distances", "true"], TinyDataModule)
    with (root / "results" / "dice_per_structure.csv").open(encoding="utf-8") as f:
        assert csv.DictReader(f).fieldnames == ["subject", "structure_id", "structure", "dice", "hd95", "asd", "reference_voxels", "predicted_voxels"]


@pytest.mark.slow
def test_surface_dice_tolerance_adds_an_nsd_column_after_hd95_and_asd(trained, tmp_path):
    """Issue 25 part 1.4, opt-in NSD: at a tolerance wider than the volume every boundary voxel counts, so
    NSD is 1 wherever the structure is in both masks (Dice > 0) and empty wherever Dice is (absent from both)."""
    tmp, ckpt = trained
    root = tmp_path / "tested"
    run_lightning_cli(["test", "--config", _config(tmp_path, root), "--ckpt_path", str(ckpt),
                       "--model.inference.surface_distances", "true",
                       "--model.inference.surface_dice_tolerance", "1000"], TinyDataModule)
    with (root / "results" / "dice_per_structure.csv").open(encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == ["subject", "structure_id", "structure", "dice", "hd95", "asd", "nsd", "reference_voxels", "predicted_voxels"]
    assert any(r["dice"] and float(r["dice"]) > 0 for r in rows)
    for r in rows:
        if r["dice"] == "":
            assert r["nsd"] == ""
        elif float(r["dice"]) > 0:
            assert float(r["nsd"]) == 1.0
    with pytest.raises(ValueError, match="surface_dice_tolerance must be a finite number of mm >= 0, got -1.0"):
        run_lightning_cli(["test", "--config", _config(tmp_path, tmp_path / "bad"), "--ckpt_path", str(ckpt),
                           "--model.inference.surface_dice_tolerance", "-1"], TinyDataModule)


@pytest.mark.slow
def test_missing_or_corrupt_views_checkpoint_is_an_error_naming_it(trained, tmp_path):
    tmp, ckpt = trained
    missing = tmp_path / "coronal-missing.ckpt"
    with pytest.raises(FileNotFoundError, match=f"model.inference.views.coronal: checkpoint {missing} does not exist"):
        run_lightning_cli(["test", "--config", _config(tmp_path, tmp_path / "a"), "--ckpt_path", str(ckpt),
                           "--model.inference.views", f"{{coronal: {missing}}}"], TinyDataModule)
    corrupt = _bad_checkpoint(tmp_path / "coronal-cut.ckpt", "truncated", ckpt)
    with pytest.raises(CheckpointError, match=f"model.inference.views.coronal: {corrupt} is not a readable checkpoint"):
        run_lightning_cli(["predict", "--config", _config(tmp_path, tmp_path / "b"), "--ckpt_path", str(ckpt),
                           "--model.inference.views", f"{{coronal: {corrupt}}}"], TinyDataModule)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["file", "last"])
def test_checkpoint_of_another_network_is_an_error_naming_both_values(trained, tmp_path, how):
    tmp, ckpt = trained
    root = tmp_path / "run"
    if how == "last":
        shutil.copytree(ckpt.parent, root / "checkpoints")
    with pytest.raises(CheckpointError) as error:
        run_lightning_cli(["test", "--config", _config(tmp_path, root), "--ckpt_path", str(ckpt) if how == "file" else "last",
                           "--model.network.attention", "cse"], TinyDataModule)
    assert "model.network.attention: config 'cse' vs checkpoint 'scse'" in str(error.value)
    assert not (root / "results").exists()

