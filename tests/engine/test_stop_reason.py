"""D/results/training.json: the stop reason of a fit, detected from the trainer's callbacks and loop."""

import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from lightning.pytorch.callbacks import Callback, EarlyStopping, Timer

from medseg.engine.cli import run_lightning_cli
from medseg.engine.stop_reason import stop_reason
from tests.engine.test_cli import _config
from tests.engine.tiny_data import TinyDataModule


def _trainer(callbacks=(), current_epoch=3, max_epochs=10, global_step=30, max_steps=-1):
    return SimpleNamespace(callbacks=list(callbacks), current_epoch=current_epoch, global_step=global_step,
                           max_steps=max_steps, fit_loop=SimpleNamespace(max_epochs=max_epochs))


def _timer(elapsed: float, duration: float) -> Timer:
    timer = Timer(duration={"seconds": duration})
    timer.time_elapsed = lambda stage=None: elapsed  # noqa: ARG005 - the clock, frozen
    return timer


def test_reason_from_callbacks_and_loop():
    stopper = EarlyStopping(monitor="val/mean_dice", mode="max")
    assert stop_reason(_trainer([stopper])) == "stopped"  # not stopped by it, loop below its limits
    stopper.stopped_epoch = 3
    assert stop_reason(_trainer([stopper], current_epoch=4)) == "early_stopping"
    assert stop_reason(_trainer([_timer(61.0, 60.0)])) == "max_time"
    assert stop_reason(_trainer([_timer(59.0, 60.0)], current_epoch=10)) == "max_epochs"
    assert stop_reason(_trainer(current_epoch=10, max_epochs=10)) == "max_epochs"
    assert stop_reason(_trainer(current_epoch=2, max_epochs=-1, global_step=50, max_steps=50)) == "max_steps"


def _fit(tmp_path, name, callbacks=(), **trainer):
    path = Path(_config(tmp_path, tmp_path / name))
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["trainer"].update(trainer, callbacks=list(callbacks))
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    run_lightning_cli(["fit", "--config", str(path)], TinyDataModule)
    return json.loads((tmp_path / name / "results" / "training.json").read_text(encoding="utf-8"))


class SlowBatches(Callback):
    def on_train_batch_end(self, *args, **kwargs) -> None:
        time.sleep(0.4)


@pytest.mark.slow
def test_fits_record_max_epochs_early_stopping_and_max_time(tmp_path):
    record = _fit(tmp_path, "epochs")
    assert record["stop_reason"] == "max_epochs" and record["epochs"] == 2 and record["max_epochs"] == 2
    assert record["max_time"] is None and record["train_seconds"] > 0 and "early_stopping" not in record
    # min_delta 2 > any Dice gain: epoch 0 improves on -inf, epoch 1 does not → stop after epoch 1
    stopper = {"class_path": "lightning.pytorch.callbacks.EarlyStopping",
               "init_args": {"monitor": "val/mean_dice", "mode": "max", "patience": 1, "min_delta": 2.0}}
    record = _fit(tmp_path, "early", [stopper], max_epochs=6)
    assert record["stop_reason"] == "early_stopping" and record["epochs"] == 2
    assert record["early_stopping"]["stopped_epoch"] == 1 and record["early_stopping"]["patience"] == 1
    record = _fit(tmp_path, "timed", [{"class_path": f"{__name__}.SlowBatches"}], max_epochs=50,
                  max_time="00:00:00:01")
    assert record["stop_reason"] == "max_time" and record["max_time"] == 1.0 and record["epochs"] < 50


class Crash(Callback):
    def on_train_epoch_start(self, trainer, pl_module) -> None:
        raise RuntimeError("simulated crash")


@pytest.mark.slow
def test_failed_fit_records_the_error(tmp_path):
    with pytest.raises(RuntimeError, match="simulated crash"):
        _fit(tmp_path, "crash", [{"class_path": f"{__name__}.Crash"}])
    record = json.loads((tmp_path / "crash" / "results" / "training.json").read_text(encoding="utf-8"))
    assert record["stop_reason"] == "error" and "simulated crash" in record["error"]


@pytest.mark.parametrize("record,met", [
    ({"stop_reason": "max_epochs", "epochs": 3}, True), ({"stop_reason": "early_stopping"}, True),
    ({"stop_reason": "max_time"}, True), ({"stop_reason": "max_steps"}, True),
    ({"stop_reason": "terminated", "epochs": 1}, False), ({"stop_reason": "interrupted"}, False),
    ({"stop_reason": "error"}, False), ({"stop_reason": "stopped"}, False), ([], False), (None, False),
])
def test_budget_met_only_for_a_fit_that_ran_to_its_budget_issue25_defect2(tmp_path, record, met):
    """issue 25 defect 2: a sweep counts a fit done only when training.json says its budget was met."""
    from medseg.engine.stop_reason import budget_met

    (tmp_path / "results").mkdir()
    if record is not None:
        (tmp_path / "results" / "training.json").write_text(json.dumps(record), encoding="utf-8")
    assert budget_met(tmp_path)[0] is met
    (tmp_path / "results" / "training.json").write_text('{"stop_reason": "max_ep', encoding="utf-8")  # truncated
    assert budget_met(tmp_path)[0] is False and "unreadable" in budget_met(tmp_path)[1]
