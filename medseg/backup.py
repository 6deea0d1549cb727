"""Timestamped backups: earlier outputs are moved aside, never overwritten or deleted."""

from __future__ import annotations

import shutil
import time
import warnings
from pathlib import Path
from typing import Iterable


def move_to_backup(paths: Iterable[Path], previous: Path, what: str) -> Path | None:
    """Move the existing ``paths`` (files or folders) into ``previous/<YYYYmmdd-HHMMSS>[-k]/``, keeping
    their names; warn naming the backup; return it, or None when there was nothing to move."""
    existing = [Path(p) for p in paths if Path(p).exists()]
    if not existing:
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backup, suffix = previous / stamp, 1
    while backup.exists():
        backup, suffix = previous / f"{stamp}-{suffix}", suffix + 1
    backup.mkdir(parents=True)
    for path in existing:
        shutil.move(str(path), backup / path.name)
    warnings.warn(f"{what}: previous files moved to {backup}", stacklevel=3)
    return backup
