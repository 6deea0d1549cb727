"""Resuming under the config's optimizer settings (issue 12.3): unit tests on torch optimizers + the CLI."""

import pytest
import torch
import yaml

from medseg.engine.resume import apply_optimizer_config, optimizer_conflicts

SAVED = {"name": "adam", "lr": 0.1, "weight_decay": 0.0, "momentum": 0.9, "scheduler": "step", "step_size": 2, "gamma": 0.5}


def _adam_step(lr: float, steps: int, state=None):
    """An Adam + StepLR pair after ``steps`` epochs (or restored from ``state`` as Lightning does)."""
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    opt = torch.optim.Adam([w], lr=lr)
    sched = torch.optim.lr_scheduler.StepLR(opt, 2, 0.5)
    if state is not None:
        opt.load_state_dict(state[0])
        sched.load_state_dict(state[1])
    for _ in range(steps):
        opt.zero_grad()
        (w**2).sum().backward()
        opt.step()
        sched.step()
    return opt, sched


def test_changed_lr_rescales_the_schedule_and_keeps_the_moments():
    opt, sched = _adam_step(0.1, 3)
    state = (opt.state_dict(), sched.state_dict())
    moments = opt.state_dict()["state"][0]["exp_avg"].clone()
    new, new_sched = _adam_step(0.01, 0, state)  # configure_optimizers with lr 0.01, then Lightning restores
    assert new.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5)  # the checkpoint's rate wins without the fix
    changed = apply_optimizer_config(new, [new_sched], {**SAVED, "lr": 0.01}, SAVED)
    assert changed == ["model.optimizer.lr: 0.1 -> 0.01"]
    assert new.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**1)  # epoch 3 of a 0.01 run: 0.01 * 0.5^(3 // 2)
    torch.testing.assert_close(new.state_dict()["state"][0]["exp_avg"], moments, rtol=0, atol=0)
    for epoch in range(3, 7):  # and the schedule goes on as a run started with 0.01 would
        new_sched.step()
        assert new.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5 ** ((epoch + 1) // 2))


def test_unchanged_config_touches_nothing_and_other_settings_follow():
    opt, sched = _adam_step(0.1, 3)
    before = opt.state_dict()["param_groups"][0].copy()
    assert apply_optimizer_config(opt, [sched], dict(SAVED), SAVED) == []
    assert opt.state_dict()["param_groups"][0] == before
    changed = apply_optimizer_config(opt, [sched], {**SAVED, "weight_decay": 1e-4, "step_size": 3, "gamma": 0.1}, SAVED)
    assert len(changed) == 3 and opt.param_groups[0]["weight_decay"] == 1e-4
    assert (sched.step_size, sched.gamma) == (3, 0.1)


def test_another_optimizer_or_scheduler_is_refused_naming_both():
    assert optimizer_conflicts({**SAVED, "name": "sgd"}, SAVED) == ["model.optimizer.name: config 'sgd' vs checkpoint 'adam'"]
    opt, sched = _adam_step(0.1, 1)
    with pytest.raises(ValueError, match="model.optimizer.scheduler: config 'cosine' vs checkpoint 'step'"):
        apply_optimizer_config(opt, [sched], {**SAVED, "scheduler": "cosine"}, SAVED)


@pytest.mark.slow
def test_cli_resume_uses_the_config_lr_and_refuses_another_optimizer(tmp_path):
    from medseg.engine.checkpoint import CheckpointError
    from medseg.engine.cli import run_lightning_cli
    from tests.engine.test_cli import _config
    from tests.engine.tiny_data import TinyDataModule

    root = tmp_path / "run"
    config = _config(tmp_path, root)
    run_lightning_cli(["fit", "--config", config, "--trainer.max_epochs", "1"], TinyDataModule)
    run_lightning_cli(["fit", "--config", config, "--trainer.max_epochs", "2", "--ckpt_path", "last",
                       "--model.optimizer.lr", "0.0025"], TinyDataModule)
    saved = torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)
    assert saved["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(0.0025)  # was 0.01 in the YAML
    (resumed,) = root.glob("config_resume-*.yaml")  # the resume's config, beside the original (issue 25 defect 13)
    assert yaml.safe_load(resumed.read_text(encoding="utf-8"))["model"]["optimizer"]["lr"] == 0.0025
    assert yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))["model"]["optimizer"]["lr"] == 0.01
    with pytest.raises(CheckpointError, match="model.optimizer.name: config 'sgd' vs checkpoint 'adam'"):
        run_lightning_cli(["fit", "--config", config, "--trainer.max_epochs", "3", "--ckpt_path", "last",
                           "--model.optimizer.name", "sgd"], TinyDataModule)
