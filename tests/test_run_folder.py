"""``medseg.run_folder``: the per-folder lock (live holder refused, dead holder taken over), backups, temp files."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from medseg.run_folder import LOCK_ENV, RunFolderLocked, RunLock, backup_run, remove_stale_temp_files

HOLD = textwrap.dedent("""
    import sys, time
    from medseg.run_folder import RunLock
    lock = RunLock(sys.argv[1]).acquire()
    print("held", flush=True)
    time.sleep(60)
""")


def _holder(root):
    """A separate process that takes the lock on ``root`` and sleeps; returns it once it holds the lock."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_process_fails_fast_naming_folder_and_holder_pid(tmp_path):
    proc = _holder(tmp_path / "D")
    try:
        start = time.perf_counter()
        with pytest.raises(RunFolderLocked) as error:
            RunLock(tmp_path / "D").acquire()
        assert time.perf_counter() - start < 1.0  # no waiting
        assert str(tmp_path / "D") in str(error.value) and f"process {proc.pid}" in str(error.value)
    finally:
        proc.kill()
        proc.wait()


def test_lock_of_a_killed_process_is_taken_over(tmp_path):
    proc = _holder(tmp_path / "D")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "D" / ".medseg.lock").read_text().split()[0] == str(proc.pid)  # the file still names it
    with pytest.warns(UserWarning, match=f"stale lock of process {proc.pid} \\(no longer running\\)"):
        lock = RunLock(tmp_path / "D").acquire()
    assert lock.owned and (tmp_path / "D" / ".medseg.lock").read_text().split()[0] == str(os.getpid())
    lock.release()


def test_lock_is_released_when_the_holder_raises(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        with RunLock(tmp_path):
            with pytest.raises(RunFolderLocked):  # a second holder in this very process is refused too
                RunLock(tmp_path).acquire()
            raise RuntimeError("boom")
    with RunLock(tmp_path) as again:
        assert again.owned


def test_child_with_the_holders_token_works_under_its_lock(tmp_path, monkeypatch):
    with RunLock(tmp_path) as parent:
        monkeypatch.setenv(LOCK_ENV, "another-token")
        with pytest.raises(RunFolderLocked):
            RunLock(tmp_path).acquire()
        monkeypatch.setenv(LOCK_ENV, parent.token)
        child = RunLock(tmp_path).acquire()
        assert not child.owned
        child.release()  # a no-op: the parent still holds D
        monkeypatch.delenv(LOCK_ENV)
        with pytest.raises(RunFolderLocked):
            RunLock(tmp_path).acquire()


def test_backup_run_moves_earlier_outputs_and_keeps_the_rest(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "last.ckpt").write_bytes(b"old weights")
    (tmp_path / "config.yaml").write_text("old: config")
    (tmp_path / "run_config.yaml").write_text("sweep's")
    with pytest.warns(UserWarning, match="previous files moved to"):
        backup = backup_run(tmp_path)
    assert backup.parent == tmp_path / "previous"
    assert (backup / "checkpoints" / "last.ckpt").read_bytes() == b"old weights"
    assert (backup / "config.yaml").read_text() == "old: config"
    assert not (tmp_path / "config.yaml").exists() and not (tmp_path / "checkpoints").exists()
    assert (tmp_path / "run_config.yaml").read_text() == "sweep's"
    (tmp_path / "config.yaml").write_text("second")
    with pytest.warns(UserWarning):
        second = backup_run(tmp_path)
    assert second != backup and (backup / "config.yaml").read_text() == "old: config"  # same second: a new folder
    assert backup_run(tmp_path) is None


def test_remove_stale_temp_files_only_removes_temp_files(tmp_path):
    for name in ("last.ckpt.tmp", ".last.ckpt.abc123.tmp", "last.ckpt"):
        (tmp_path / name).write_bytes(b"x")
    with pytest.warns(UserWarning, match="removed 2 temp file"):
        removed = remove_stale_temp_files(tmp_path)
    assert sorted(p.name for p in removed) == [".last.ckpt.abc123.tmp", "last.ckpt.tmp"]
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
