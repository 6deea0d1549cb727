"""``WallClockCheckpoints``: a checkpoint at each wall-clock budget (issue 24's time-to-Dice points)."""

from pathlib import Path

import pytest
import torch
import yaml
from lightning.pytorch.callbacks import Callback

from medseg.engine.callbacks import WallClockCheckpoints
from medseg.engine.cli import run_lightning_cli
from tests.engine.test_cli import _config
from tests.engine.tiny_data import TinyDataModule

CLOCK = {"t": 0.0}


class Tick(Callback):
    """Advances the fake clock by 2 minutes per training batch (runs before WallClockCheckpoints)."""

    def on_train_batch_end(self, *args) -> None:
        CLOCK["t"] += 120.0


def test_minutes_must_be_numbers_at_least_zero():
    for bad in ([], [-1], ["5"], [True]):
        with pytest.raises(ValueError, match="minutes"):
            WallClockCheckpoints(bad)


def test_due_budgets_are_saved_once_and_the_clock_survives_a_resume(tmp_path, monkeypatch):
    """A fake clock: 0 at the start, +2 minutes per training batch. With budgets 0, 3 and 1000 minutes, 0 is
    saved after the first batch (step 1) and 3 after the second (step 2, at 4 minutes); 1000 never. A fit
    resumed from last.ckpt continues the clock and saves nothing twice."""
    import medseg.engine.callbacks as callbacks

    CLOCK["t"] = 0.0
    monkeypatch.setattr(callbacks.time, "monotonic", lambda: CLOCK["t"])
    root = tmp_path / "run"
    config = _config(tmp_path, root)
    data = yaml.safe_load(Path(config).read_text(encoding="utf-8"))
    data["trainer"]["max_epochs"] = 1
    data["trainer"]["callbacks"] = [{"class_path": f"{__name__}.Tick"},
                                    {"class_path": "medseg.engine.callbacks.WallClockCheckpoints", "init_args": {"minutes": [3, 0, 1000]}}]  # fmt: skip
    Path(config).write_text(yaml.safe_dump(data), encoding="utf-8")
    run_lightning_cli(["fit", "--config", config], TinyDataModule)
    ckpts = root / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("at-*")) == ["at-0min.ckpt", "at-3min.ckpt"]
    assert torch.load(ckpts / "at-0min.ckpt", weights_only=True)["global_step"] == 1
    assert torch.load(ckpts / "at-3min.ckpt", weights_only=True)["global_step"] == 2
    state = next(v for k, v in torch.load(ckpts / "last.ckpt", weights_only=True)["callbacks"].items() if "WallClock" in k)
    assert state["seconds"] == pytest.approx(360.0) and state["saved"] == [0.0, 3.0]  # 3 batches x 2 minutes
    (ckpts / "at-0min.ckpt").unlink()
    run_lightning_cli(["fit", "--config", config, "--ckpt_path", "last", "--trainer.max_epochs", "2"], TinyDataModule)
    assert not (ckpts / "at-0min.ckpt").exists()  # already saved before the resume: not again
