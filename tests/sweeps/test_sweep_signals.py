"""SIGTERM to ``medseg sweep`` stops its running fit and releases the run folder (issue 25 defect 17)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from medseg.run_folder import RunLock
from medseg.sweep import expand, load_grid
from tests.sweeps.test_sweep import write_grid

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")]


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _sweep_in_its_fit(tmp_path):
    """A sweep whose second run's fit hangs (FAKE_HANG) after writing last.ckpt; (sweep, fit pid, runs)."""
    path = write_grid(tmp_path)
    runs = expand(load_grid(path))
    proc = subprocess.Popen([sys.executable, "-m", "medseg.cli", "sweep", str(path)], env={**os.environ, "FAKE_HANG": "cse-"},
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while not runs[1].last_ckpt.exists():
        assert time.time() < deadline and proc.poll() is None, "sweep did not reach the second run"
        time.sleep(0.1)
    (fit,) = _children(proc.pid)
    return proc, fit, runs


def _lock_is_free(run_dir: Path) -> None:
    with RunLock(run_dir):  # acquiring raises RunFolderLocked while any process holds it
        pass


def test_issue25_defect17_sigterm_to_sweep_stops_its_fit_and_releases_the_lock(tmp_path, sweep_data):
    proc, fit, runs = _sweep_in_its_fit(tmp_path)
    try:
        start = time.monotonic()
        os.kill(proc.pid, signal.SIGTERM)  # the sweep only, as `kill PID` or a scheduler would
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 128 + signal.SIGTERM and time.monotonic() - start < 30
        assert "stopped by SIGTERM" in err and "re-run the same command" in err
        assert not _alive(fit)  # no orphan left training
        _lock_is_free(runs[1].dir)
        assert [r.status for r in runs] == ["done", "partial", "todo"]
    finally:
        os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
        os.kill(fit, signal.SIGKILL) if _alive(fit) else None


def test_issue25_defect17_sigkill_to_sweep_still_stops_its_fit(tmp_path, sweep_data):
    proc, fit, runs = _sweep_in_its_fit(tmp_path)
    try:
        os.kill(proc.pid, signal.SIGKILL)  # no cleanup possible: the kernel tells the child (PR_SET_PDEATHSIG)
        proc.wait(timeout=30)
        deadline = time.time() + 30
        while _alive(fit):
            assert time.time() < deadline, "the fit outlived the killed sweep"
            time.sleep(0.1)
        _lock_is_free(runs[1].dir)
    finally:
        os.kill(fit, signal.SIGKILL) if _alive(fit) else None
