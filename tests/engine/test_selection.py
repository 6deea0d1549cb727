"""best.ckpt, --ckpt_path best, early stopping, max_time and the poly schedule through the CLI (tiny data)."""

import csv

import pytest
import torch
from lightning.pytorch.callbacks import EarlyStopping

from medseg.engine.cli import run_lightning_cli
from medseg.engine.schedules import poly_lr
from tests.engine.test_cli import _config
from tests.engine.tiny_data import TinyDataModule


def _val_dice_by_epoch(root):
    rows = list(csv.DictReader(open(next((root / "csv").rglob("metrics.csv")), encoding="utf-8")))
    return {int(r["epoch"]): float(r["val/mean_dice"]) for r in rows if r.get("val/mean_dice")}


@pytest.mark.slow
def test_best_checkpoint_is_the_best_validated_epoch_and_test_loads_it(tmp_path):
    root = tmp_path / "run"
    model = {"network": {"name": "unet", "options": {"features": 4, "depth": 2, "kernel_size": 3}},
             "loss": {"name": "ce_dice"}, "optimizer": {"name": "adam", "lr": 0.05, "scheduler": "poly"}}  # fmt: skip
    config = _config(tmp_path, root, model=model)
    run_lightning_cli(["fit", "--config", config, "--trainer.max_epochs", "4"], TinyDataModule)
    dice = _val_dice_by_epoch(root)
    assert sorted(dice) == [0, 1, 2, 3]
    best = torch.load(root / "checkpoints" / "best.ckpt", weights_only=True)
    assert best["epoch"] == max(dice, key=lambda e: (dice[e], -e))  # first epoch reaching the maximum
    last = torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 3
    # poly, stepped per epoch: lr = 0.05 * (1 - steps / max_epochs)^0.9 at the scheduler's saved step count
    lrs = [g["lr"] for g in last["optimizer_states"][0]["param_groups"]]
    assert lrs[0] == pytest.approx(0.05 * (1 - last["lr_schedulers"][0]["last_epoch"] / 4) ** 0.9)
    cli = run_lightning_cli(["test", "--config", config, "--ckpt_path", "best"], TinyDataModule)
    assert cli.trainer.ckpt_path == str(root / "checkpoints" / "best.ckpt")


@pytest.mark.slow
def test_early_stopping_stops_after_patience(tmp_path):
    root = tmp_path / "es"
    # an improvement of more than 1.0 in mean Dice is impossible: the second validation already fails
    cli = run_lightning_cli(["fit", "--config", _config(tmp_path, root), "--trainer.max_epochs", "6",
                             "--selection.patience", "1", "--selection.min_delta", "1.0"], TinyDataModule)  # fmt: skip
    stopper = next(c for c in cli.trainer.callbacks if isinstance(c, EarlyStopping))
    assert stopper.stopped_epoch == 1 and cli.trainer.current_epoch == 2
    assert torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1
    assert torch.load(root / "checkpoints" / "best.ckpt", weights_only=True)["epoch"] == 0


@pytest.mark.slow
def test_max_time_stops_and_keeps_last_and_best(tmp_path):
    root = tmp_path / "mt"
    cli = run_lightning_cli(["fit", "--config", _config(tmp_path, root), "--trainer.max_epochs", "1000",
                             "--trainer.max_time", "00:00:00:03"], TinyDataModule)  # fmt: skip
    assert cli.trainer.current_epoch < 999
    last = torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] >= cli.trainer.current_epoch - 1 and (root / "checkpoints" / "best.ckpt").is_file()


def test_ckpt_path_best_without_checkpoint_fails_for_test(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at .*best.ckpt"):
        run_lightning_cli(["test", "--config", _config(tmp_path, tmp_path / "none"), "--ckpt_path", "best"], TinyDataModule)


def test_poly_schedule_matches_nnunet_formula():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    scheduler = poly_lr(optimizer, 10)
    for epoch in range(10):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * (1 - epoch / 10) ** 0.9, rel=1e-12)
        optimizer.step()
        scheduler.step()
    with pytest.raises(ValueError, match="max_epochs"):
        poly_lr(optimizer, None)


def test_selection_errors_name_the_key(tmp_path):
    with pytest.raises(ValueError, match="selection.patience"):
        run_lightning_cli(["fit", "--config", _config(tmp_path, tmp_path / "x"), "--selection.patience", "0"], TinyDataModule)


def test_poly_schedule_follows_the_time_budget_when_it_comes_first():
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    spent = {"fraction": 0.0}
    scheduler = poly_lr(optimizer, 100, time_progress=lambda: spent["fraction"])
    spent["fraction"] = 0.5  # half the budget gone after one epoch of a hundred
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**0.9, rel=1e-12)
    spent["fraction"] = 1.2
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == 0.0
