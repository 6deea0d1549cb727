"""A run folder D protects itself: one process at a time, no silent reuse of a finished fit.

* Lock: ``D/.medseg.lock`` held with ``flock`` by the process working in D (``medseg fit|validate|test|
  predict``, or ``medseg sweep`` for its run). The kernel drops the lock when the holder exits, however it
  dies, so a lock left by a dead process is taken over (the file still names it; a warning says so). The
  file holds ``<pid> <token>``; a child started by the holder with ``MEDSEG_RUN_LOCK=<token>`` in its
  environment works under the parent's lock (``medseg sweep`` → its ``fit``/``test``).
* A fresh ``medseg fit`` in a folder that holds an earlier fit is refused unless ``--overwrite true``,
  which moves the earlier files to ``D/previous/<YYYYmmdd-HHMMSS>/`` first.
* A resumed fit keeps ``D/config.yaml`` (the run's original record) and saves its own config beside it
  as ``D/config_resume-<stamp>.yaml``.
"""

from __future__ import annotations

import fcntl
import os
import time
import uuid
import warnings
from pathlib import Path
from typing import Optional

from medseg.backup import move_to_backup

LOCK_NAME = ".medseg.lock"
LOCK_ENV = "MEDSEG_RUN_LOCK"
# what medseg writes into D; ``--overwrite true`` moves these to D/previous/<stamp>/
RUN_OUTPUTS = ("config.yaml", "config_validate.yaml", "config_test.yaml", "config_predict.yaml", "checkpoints",
               "csv", "tensorboard", "wandb", "lightning_logs", "results", "predictions")
RESUMED_PREFIX = "config_resume-"  # D/config_resume-<stamp>.yaml: the config of each resumed fit


class RunFolderError(RuntimeError):
    """The run folder cannot be used as asked (held by another process, or holding an earlier fit)."""


class RunFolderLocked(RunFolderError):
    """Another live process holds the run folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """Exclusive lock on run folder ``root`` (context manager); ``acquire`` raises :class:`RunFolderLocked`
    naming D and the holder's pid when a live process holds it."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.path = self.root / LOCK_NAME
        self.token = uuid.uuid4().hex
        self._fd: Optional[int] = None

    def _holder(self, fd: int) -> tuple[Optional[int], str]:
        text = os.pread(fd, 256, 0).decode("ascii", "replace").split()
        pid = int(text[0]) if text and text[0].isdigit() else None
        return pid, text[1] if len(text) > 1 else ""

    def acquire(self) -> "RunLock":
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid, token = self._holder(fd)
            os.close(fd)
            if token and token == os.environ.get(LOCK_ENV):
                return self  # our parent (medseg sweep) holds D for us
            raise RunFolderLocked(
                f"run folder {self.root} is in use by process {pid if pid is not None else '?'} (lock {self.path}); "
                "wait for it to finish, or use another trainer.default_root_dir"
            ) from None
        pid, _ = self._holder(fd)
        if pid is not None and pid != os.getpid():
            state = "no longer running" if not _alive(pid) else "released without clearing it"
            warnings.warn(f"{self.path}: took over the stale lock of process {pid} ({state})", stacklevel=2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {self.token}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)  # an empty file = a lock released cleanly
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def owned(self) -> bool:
        """True when this object holds the lock itself (not through a parent's token)."""
        return self._fd is not None

    def __enter__(self) -> "RunLock":
        return self if self.owned else self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def previous_fit(root: str | os.PathLike) -> list[Path]:
    """Files showing that D already holds a fit: ``config.yaml`` and checkpoints."""
    root = Path(root)
    found = [root / "config.yaml"] if (root / "config.yaml").is_file() else []
    return found + sorted((root / "checkpoints").glob("*.ckpt"))


def resumed_config(root: str | os.PathLike) -> Path:
    """Where a resumed fit saves its config: ``D/config_resume-<YYYYmmdd-HHMMSS>[-k].yaml``, beside the
    original ``D/config.yaml``, which a resume never rewrites (issue 25 defect 13)."""
    root, stamp = Path(root), time.strftime("%Y%m%d-%H%M%S")
    path, k = root / f"{RESUMED_PREFIX}{stamp}.yaml", 1
    while path.exists():
        path, k = root / f"{RESUMED_PREFIX}{stamp}-{k}.yaml", k + 1
    return path


def backup_run(root: str | os.PathLike) -> Optional[Path]:
    """Move D's earlier outputs (:data:`RUN_OUTPUTS`, resumed configs) to ``D/previous/<stamp>/``; return the backup."""
    root = Path(root)
    earlier = [root / name for name in RUN_OUTPUTS] + sorted(root.glob(f"{RESUMED_PREFIX}*.yaml"))
    return move_to_backup(earlier, root / "previous", f"run folder {root}")


def remove_stale_temp_files(checkpoints: str | os.PathLike) -> list[Path]:
    """Delete ``*.tmp`` files left in ``D/checkpoints`` by a save that was killed (call under the lock)."""
    folder = Path(checkpoints)
    stale = sorted(p for p in folder.iterdir() if p.name.endswith(".tmp") and p.is_file()) if folder.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    if stale:
        warnings.warn(f"{checkpoints}: removed {len(stale)} temp file(s) of an interrupted save: "
                      f"{', '.join(p.name for p in stale)}", stacklevel=2)
    return stale
