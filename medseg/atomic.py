"""Atomic file writes: a temp file beside the target, then ``os.replace``, so readers (and a killed
process) never see a half-written file."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path


def atomic_write(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write ``data`` (text as UTF-8, or bytes) to ``path`` atomically; create parent folders."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; results and configs are shared files
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_figure(figure, path: str | os.PathLike, dpi: int = 120, **savefig: object) -> Path:
    """A matplotlib figure as PNG at ``path``, atomically (rendered to memory, then :func:`atomic_write`)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, **savefig)
    return atomic_write(path, buffer.getvalue())
