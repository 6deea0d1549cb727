"""Test results record which checkpoint produced them, so backed-up results stay attributable
(issue 25 defect 15)."""

import hashlib
import json

import pytest
import torch

from medseg.engine.cli import run_lightning_cli
from tests.engine.test_cli import _config
from tests.engine.tiny_data import TinyDataModule

pytestmark = pytest.mark.slow


def _expected(path):
    saved = torch.load(path, weights_only=True)
    return {"path": str(path.resolve()), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
            "epoch": saved["epoch"], "global_step": saved["global_step"]}


def test_issue25_defect15_summary_and_its_backup_name_the_tested_checkpoint(tmp_path):
    root = tmp_path / "run"
    config = _config(tmp_path, root)
    last = root / "checkpoints" / "last.ckpt"
    run_lightning_cli(["fit", "--config", config, "--trainer.max_epochs", "1"], TinyDataModule)
    first = _expected(last)
    run_lightning_cli(["test", "--config", config, "--ckpt_path", "last"], TinyDataModule)
    run_lightning_cli(["fit", "--config", config, "--ckpt_path", "last"], TinyDataModule)  # last.ckpt moves on
    second = _expected(last)
    assert (first["epoch"], second["epoch"]) == (0, 1) and first["sha256"] != second["sha256"]
    with pytest.warns(UserWarning, match="previous files moved to"):
        run_lightning_cli(["test", "--config", config, "--ckpt_path", "last"], TinyDataModule)
    (backup,) = (root / "results" / "previous").iterdir()
    assert json.loads((backup / "summary.json").read_text(encoding="utf-8"))["checkpoint"] == first
    assert json.loads((root / "results" / "summary.json").read_text(encoding="utf-8"))["checkpoint"] == second
