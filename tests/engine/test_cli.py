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


class SigtermAt(Callback):
    """Sends this process a SIGTERM (what ``kill``, ``timeout`` and schedulers send) in the second epoch's first
    train batch, or at the first test batch."""

    def _kill(self) -> None:
        import os
        import signal

        assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_DFL, None)  # Lightning's handler, not death
        os.kill(os.getpid(), signal.SIGTERM)

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.current_epoch == 1 and not trainer.received_sigterm:
            self._kill()

    def on_test_batch_end(self, trainer, *args) -> None:
        self._kill()


@pytest.mark.slow
def test_sigterm_makes_fit_and_test_exit_non_zero_issue25_defect2(tmp_path, capsys):
    """issue 25 defect 2: SIGTERM made ``fit``/``test`` exit 0 (Lightning's SIGTERMException is a SystemExit
    with code None), so a sweep took a one-epoch fit for a finished one; a terminated test left no results."""
    import json

    from medseg.engine.cli import SIGTERM_EXIT, lightning_main
    from medseg.engine.stop_reason import budget_met

    root = tmp_path / "run"
    config = _config(tmp_path, root)
    data = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    data["trainer"]["callbacks"] = [{"class_path": f"{__name__}.SigtermAt"}]
    data["data"]["test"] = 3  # a SIGTERM before the last test batch stops the loop
    Path(config).write_text(yaml.safe_dump(data), encoding="utf-8")
    assert lightning_main(["fit", "--config", config], TinyDataModule) == SIGTERM_EXIT == 143
    record = json.loads((root / "results" / "training.json").read_text(encoding="utf-8"))
    assert record["stop_reason"] == "terminated" and record["epochs"] == 1 and record["max_epochs"] == 2
    assert budget_met(root) == (False, f"{root / 'results' / 'training.json'} says the fit stopped with 'terminated' "
                                       "after 1 epoch(s), before its budget")
    assert lightning_main(["test", "--config", config, "--ckpt_path", "last"], TinyDataModule) == SIGTERM_EXIT
    assert not (root / "results" / "summary.json").exists()
    assert "stopped by SIGTERM" in capsys.readouterr().err
    data["trainer"].pop("callbacks")
    Path(config).write_text(yaml.safe_dump(data), encoding="utf-8")
    assert lightning_main(["fit", "--config", config, "--ckpt_path", "last"], TinyDataModule) == 0  # resumed, to the end
    assert budget_met(root) == (True, "max_epochs")
