"""Run folders protect themselves under ``medseg fit``: one process per folder, no fresh fit over an
earlier one (``--overwrite true`` keeps it as a backup), and a killed save leaves no temp file outside D."""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from medseg.engine.cli import run_lightning_cli
from medseg.run_folder import RunFolderError
from tests.engine.test_cli import _config
from tests.engine.tiny_data import TinyDataModule

pytestmark = pytest.mark.slow
REPO = Path(__file__).parents[2]

FIT = textwrap.dedent("""
    import os, signal, sys, time
    from medseg.engine.cli import run_lightning_cli
    from medseg.engine.module import SegmentationModule
    from tests.engine.tiny_data import TinyDataModule
    if sys.argv[2] == "pause":  # hold the folder: sleep at the start of the first epoch
        SegmentationModule.on_train_epoch_start = lambda self: time.sleep(120)
    else:  # die like `kill -9` at the moment a checkpoint file would be renamed into place
        real_replace, real_rename = os.replace, os.rename
        def die(real):
            def rename(src, dst, *args, **kwargs):
                if ".ckpt" in os.fspath(dst):
                    os.kill(os.getpid(), signal.SIGKILL)
                return real(src, dst, *args, **kwargs)
            return rename
        os.replace, os.rename = die(real_replace), die(real_rename)
    run_lightning_cli(["fit", "--config", sys.argv[1]], TinyDataModule)
""")


def _start_fit(config, mode, **env):
    return subprocess.Popen([sys.executable, "-c", FIT, config, mode], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(REPO), **env})


def _wait_for(path, proc, seconds=120):
    end = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None and time.monotonic() < end, f"{path} did not appear"
        time.sleep(0.2)


def test_second_fit_on_a_busy_folder_fails_fast_then_takes_over_after_a_kill(tmp_path):
    root = tmp_path / "run"
    config = _config(tmp_path, root)
    first = _start_fit(config, "pause")
    try:
        _wait_for(root / "config.yaml", first)  # the first fit is training
        start = time.perf_counter()
        with pytest.raises(RunFolderError) as error:
            run_lightning_cli(["fit", "--config", config, "--ckpt_path", "last"], TinyDataModule)
        assert str(root) in str(error.value) and f"process {first.pid}" in str(error.value)
        assert time.perf_counter() - start < 10
        assert not (root / "checkpoints").exists()  # the refused process wrote nothing
    finally:
        first.kill()
        first.wait()
    with pytest.warns(UserWarning, match=f"stale lock of process {first.pid}"):
        run_lightning_cli(["fit", "--config", config, "--ckpt_path", "last"], TinyDataModule)
    assert torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 1


def test_fresh_fit_in_a_finished_folder_is_refused_unless_overwrite_keeps_a_backup(tmp_path):
    root = tmp_path / "run"
    config = _config(tmp_path, root)
    run_lightning_cli(["fit", "--config", config, "--trainer.max_epochs", "1"], TinyDataModule)
    before = {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(RunFolderError, match="already holds a fit.*--ckpt_path last.*--overwrite true"):
        run_lightning_cli(["fit", "--config", config, "--model.optimizer.lr", "0.5"], TinyDataModule)
    assert {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()} == before
    with pytest.warns(UserWarning, match="previous files moved to"):
        run_lightning_cli(["fit", "--config", config, "--model.optimizer.lr", "0.5", "--trainer.max_epochs", "1",
                           "--overwrite", "true"], TinyDataModule)
    (backup,) = (root / "previous").iterdir()
    for name in ("config.yaml", "checkpoints/last.ckpt"):
        assert (backup / name).read_bytes() == before[Path(name)]
    assert sorted(p.name for p in (root / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]  # no *-v1.ckpt
    assert "lr: 0.5" in (root / "config.yaml").read_text(encoding="utf-8")
    assert "overwrite: false" in (root / "config.yaml").read_text(encoding="utf-8")  # re-running it will not overwrite


def test_killed_save_leaves_no_temp_file_outside_the_run_folder(tmp_path):
    root, system_tmp = tmp_path / "run", tmp_path / "system-tmp"
    system_tmp.mkdir()
    config = _config(tmp_path, root)
    killed = _start_fit(config, "die", TMPDIR=str(system_tmp))
    assert killed.wait(timeout=300) == -9
    orphans = [p for p in system_tmp.rglob("*") if p.is_file() and p.read_bytes()[:2] == b"PK"]  # torch zip files
    assert orphans == []
    assert list((root / "checkpoints").glob("*.tmp"))  # the half-done save stayed inside D ...
    with pytest.warns(UserWarning, match="removed 1 temp file"):
        run_lightning_cli(["fit", "--config", config, "--ckpt_path", "last", "--trainer.max_epochs", "1"], TinyDataModule)
    assert sorted(p.name for p in (root / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]  # ... and is removed on the next start
