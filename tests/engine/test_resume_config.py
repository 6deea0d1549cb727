"""A resumed fit keeps the run's original ``D/config.yaml``, saves its own config beside it, and refuses
another dataset (issue 25 defect 13)."""

import pytest
import torch
import yaml

from medseg.engine.cli import run_lightning_cli
from medseg.run_folder import RunFolderError
from tests.engine.test_cli import _config
from tests.engine.tiny_data import TinyDataModule

pytestmark = pytest.mark.slow


class ManifestTiny(TinyDataModule):
    """The tiny data module with the dataset-defining key of the real one (``data.manifest``)."""

    def __init__(self, manifest: str = "a.json", **kwargs) -> None:
        super().__init__(**kwargs)


def _fit(config, *args):
    return run_lightning_cli(["fit", "--config", config, *args], ManifestTiny)


def test_issue25_defect13_resume_keeps_the_original_config_and_refuses_another_dataset(tmp_path):
    root = tmp_path / "run"
    config = _config(tmp_path, root)
    _fit(config, "--trainer.max_epochs", "1")
    original = (root / "config.yaml").read_bytes()
    assert yaml.safe_load(original)["data"]["manifest"] == "a.json"

    with pytest.raises(RunFolderError) as error:  # another dataset: refused before anything is written
        _fit(config, "--ckpt_path", "last", "--data.manifest", "b.json")
    assert "data.manifest: original 'a.json' vs resumed 'b.json'" in str(error.value)
    assert str(root / "config.yaml") in str(error.value)
    assert sorted(p.name for p in root.iterdir() if p.name.startswith("config")) == ["config.yaml"]
    assert torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 0  # untouched

    _fit(config, "--ckpt_path", "last", "--model.optimizer.lr", "0.5")  # another lr: allowed, and recorded
    assert (root / "config.yaml").read_bytes() == original  # the original record is kept
    (resumed,) = root.glob("config_resume-*.yaml")
    saved = yaml.safe_load(resumed.read_text(encoding="utf-8"))
    assert saved["model"]["optimizer"]["lr"] == 0.5 and yaml.safe_load(original)["model"]["optimizer"]["lr"] == 0.01
    assert saved["ckpt_path"] == str(root / "checkpoints" / "last.ckpt")
    assert torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1  # resumed to max_epochs 2
    assert not list(root.glob(".*.tmp"))  # written through a temp file, nothing left over

    with pytest.warns(UserWarning, match="previous files moved to"):  # --overwrite also moves resumed configs
        _fit(config, "--trainer.max_epochs", "1", "--overwrite", "true")
    (backup,) = (root / "previous").iterdir()
    assert (backup / "config.yaml").read_bytes() == original and (backup / resumed.name).is_file()
    assert not list(root.glob("config_resume-*.yaml"))
