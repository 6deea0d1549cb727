"""LightningCLI in-process on the tiny data module: run folder, exact resume, offline wandb."""

from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Callback

from medseg.engine.cli import run_lightning_cli
from tests.engine.tiny_data import TinyDataModule


def _config(tmp_path, root, **extra):
    config = {
        "seed_everything": 7,
        "trainer": {"default_root_dir": str(root), "max_epochs": 2, "accelerator": "cpu", "limit_train_batches": 3,
                    "enable_progress_bar": False, "enable_model_summary": False},
        "model": {"network": {"name": "unet", "attention": "scse",
                              "options": {"features": 4, "depth": 2, "kernel_size": 3}},
                  "loss": {"name": "ce_dice"}, "optimizer": {"name": "adam", "lr": 0.01}},
        "data": {"train": 2, "val": 1, "test": 1},
        **extra,
    }
    path = tmp_path / f"{root.name}.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return str(path)


def _weights(root):
    return torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]


class CrashAtEpoch(Callback):
    """Kills a fit at the start of epoch ``epoch`` (after the previous epochs and their checkpoints)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if trainer.current_epoch == self.epoch:
            raise RuntimeError(f"simulated crash at epoch {self.epoch}")


@pytest.mark.slow
def test_crash_after_epoch_1_then_resume_last_equals_uninterrupted(tmp_path):
    full, split = tmp_path / "full", tmp_path / "split"
    run_lightning_cli(["fit", "--config", _config(tmp_path, full)], TinyDataModule)
    crashing = _config(tmp_path, split)
    config = yaml.safe_load(Path(crashing).read_text(encoding="utf-8"))
    config["trainer"]["callbacks"] = [{"class_path": f"{__name__}.CrashAtEpoch", "init_args": {"epoch": 1}}]
    Path(crashing).write_text(yaml.safe_dump(config), encoding="utf-8")
    with pytest.raises(RuntimeError, match="simulated crash at epoch 1"):
        run_lightning_cli(["fit", "--config", crashing], TinyDataModule)
    first = torch.load(split / "checkpoints" / "last.ckpt", weights_only=True)
    assert first["epoch"] == 0  # written at the end of epoch 1 (index 0), before the crash
    run_lightning_cli(["fit", "--config", _config(tmp_path, split), "--ckpt_path", "last"], TinyDataModule)
    resumed, uninterrupted = _weights(split), _weights(full)
    assert any(not torch.equal(first["state_dict"][k], resumed[k]) for k in resumed)  # epoch 2 did train
    for key in uninterrupted:
        torch.testing.assert_close(resumed[key], uninterrupted[key], atol=0, rtol=0, equal_nan=True)
    saved = yaml.safe_load((split / "config.yaml").read_text(encoding="utf-8"))
    assert saved["model"]["network"]["attention"] == "scse" and saved["seed_everything"] == 7
    assert (split / "csv").is_dir() and not list((split / "checkpoints").glob("*.tmp"))


@pytest.mark.slow
def test_wandb_logger_offline_writes_run_files(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_API_KEY", "")
    root = tmp_path / "wb"
    run_lightning_cli(["fit", "--config", _config(tmp_path, root, logging={"wandb": True}),
                       "--trainer.max_epochs", "1"], TinyDataModule)
    runs = list((root / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and list(runs[0].glob("*.wandb"))


def test_ckpt_path_last_without_checkpoint_fails_for_test(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*last.ckpt"):
        run_lightning_cli(["test", "--config", _config(tmp_path, tmp_path / "none"), "--ckpt_path", "last"], TinyDataModule)


@pytest.mark.parametrize("name", ["quicknat_2d.yaml", "unet_3d.yaml", "quicknat_aimed_2d.yaml"])
def test_base_configs_parse(name, capsys):
    from pathlib import Path

    config = Path(__file__).parents[2] / "experiments" / "base" / name
    with pytest.raises(SystemExit) as stop:
        run_lightning_cli(["fit", "--config", str(config), "--print_config"])
    assert stop.value.code == 0 and "network:" in capsys.readouterr().out
