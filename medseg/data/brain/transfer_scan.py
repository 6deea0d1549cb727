"""A real brain that no generator sees, with its own tissue labels: the transfer check of issue 21.

Source: the ``nilearn==0.14.1`` wheel (BSD-3) ships in ``nilearn/datasets/data/`` the ICBM 2009a nonlinear
symmetric template (skull-stripped T1, 197 x 233 x 189 at 1 mm, RAS, 0..255) with its grey- and white-matter
probability maps (0..255) -- the tissue classification of the same 152 subjects the template averages
(Fonov et al., NeuroImage 2011; the templates carry the McGill/MNI permissive licence, as ICBM 2009c in
fetch.py; nilearn's own code is BSD-3 and its LICENSE is cached beside them; never committed). medseg's subjects come from two *other* templates (FSL's MNI152 and ICBM
2009c asymmetric), so 2009a is anatomy no generator samples, though from an overlapping population: a check
that gains carry over to a real scan, not a test of generalisation to new people. Fetched like the torsos
(:mod:`medseg.data.archive_cache`): nilearn is neither installed nor imported.

Scoring is by tissue. The reference is the hard classification argmax(1 - p_GM - p_WM, p_GM, p_WM) of the
maps resampled to the scan's grid; a prediction in the 27 MALC classes is merged into the same tissues by
:data:`TISSUE_OF`: white matter = cerebral and cerebellar WM, brain stem, ventral DC, pallidum (all bright on
T1 and WM in the maps); grey matter = cerebral and cerebellar cortex, thalamus, caudate, putamen,
hippocampus, amygdala; ventricles and background = neither.
"""

from __future__ import annotations

import os
from pathlib import Path

import nibabel as nib
import numpy as np

from ..archive_cache import ArchiveError, Package, fetch_package
from ..labels import MALC, remap_labels
from .fetch import ATLAS, TEMPLATES, BrainDataError, data_root, fetch_templates
from .generate import Source, grid_points, prepare, sample

_DATA = "nilearn/datasets/data/"
NILEARN = Package("nilearn==0.14.1", "nilearn-0.14.1-py3-none-any.whl",
                  "725206484e9fb3f6691f9c2d20204a068759d5072f12055324702ee0cb2bbe8a", {
                      _DATA + "mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz": "icbm2009a_t1.nii.gz",
                      _DATA + "mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz": "icbm2009a_gm.nii.gz",
                      _DATA + "mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz": "icbm2009a_wm.nii.gz",
                      "nilearn-0.14.1.dist-info/licenses/LICENSE": "LICENSE",
                  })  # fmt: skip

TISSUES = ("other", "grey matter", "white matter")
_WM = ("Cerebral-White-Matter", "Cerebellum-White-Matter", "Brain-Stem", "VentralDC", "Pallidum")
_GM = ("Cerebral-Cortex", "Cerebellum-Cortex", "Thalamus", "Caudate", "Putamen", "Hippocampus", "Amygdala")
# MALC class id -> tissue id (index into TISSUES)
TISSUE_OF = np.array([2 if name.endswith(_WM) else 1 if name.endswith(_GM) else 0 for name in MALC.names], np.uint8)


def fetch_icbm2009a(root: str | os.PathLike | None = None, index_url: str | None = None,
                    downloads: str | os.PathLike | None = None) -> dict[str, Path]:
    """``{"t1", "gm", "wm"}`` -> cached file, fetched on first use (see :func:`medseg.data.archive_cache.fetch_package`).

    Raises:
        BrainDataError: what failed and how to fetch the wheel by hand.
    """
    base = Path(root) if root is not None else data_root()
    try:
        folder = fetch_package(NILEARN, base, index_url, Path(downloads) if downloads is not None else None,
                               what="ICBM 2009a template and tissue maps")
    except ArchiveError as err:
        raise BrainDataError(
            f"the ICBM 2009a transfer scan is not cached in {base} and could not be fetched: {err}; fetch it by hand on "
            f"a machine with access to PyPI: `{NILEARN.pip_command()}`, then pass the folder as downloads") from None
    return {k: folder / f"icbm2009a_{k}.nii.gz" for k in ("t1", "gm", "wm")}


def tissue(classes: np.ndarray) -> np.ndarray:
    """MALC class ids (0..27) -> tissue ids (:data:`TISSUES`)."""
    return TISSUE_OF[np.asarray(classes, dtype=np.int64)]


def _read_ras(path: Path) -> tuple[np.ndarray, np.ndarray]:
    image = nib.as_closest_canonical(nib.load(str(path)))
    return np.asarray(image.dataobj, dtype=np.float32), image.affine


def reference_tissue(paths: dict[str, Path], shape: tuple[int, ...], affine: np.ndarray) -> np.ndarray:
    """The hard tissue classification of the 2009a maps on the grid (``shape``, ``affine``): argmax of
    (1 - p_GM - p_WM, p_GM, p_WM) after trilinear resampling."""
    points = grid_points(shape, affine)
    probs = [sample(*_read_ras(paths[k]), points, "bilinear") / 255.0 for k in ("gm", "wm")]
    return np.argmax(np.stack([1.0 - probs[0] - probs[1], *probs]), axis=0).astype(np.uint8)


def prepare_scan(resolution: float, root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray, Source]:
    """``(image, reference tissue, source)``: the 2009a T1 as medseg's subjects are made, without the random warp
    and intensity changes (reoriented, low-passed by the acquisition FWHM, sampled at ``resolution`` mm, cropped
    to the brain, 99th percentile = 1000), its tissue reference on the same grid, and the prepared
    :class:`Source` (its ``label``: the Neuromorphometrics atlas overlaid by MNI coordinates, raw ids)."""
    paths = fetch_icbm2009a(root)
    atlas = fetch_templates(root) / ATLAS
    source = prepare(paths["t1"], atlas, resolution, labels="atlas")
    image = sample(source.fine_image, source.fine_affine, grid_points(source.image.shape, source.affine), "bilinear")
    return (image * 1000.0).astype(np.float32), reference_tissue(paths, source.image.shape, source.affine), source


def atlas_overlay(source: Source) -> np.ndarray:
    """Tissue of the Neuromorphometrics atlas laid on the scan by MNI coordinates (no image information beyond
    the skull-stripped brain mask)."""
    return tissue(remap_labels(source.label, MALC.label_map))


def template_overlay(source: Source, resolution: float, template: int = 1, root: str | os.PathLike | None = None) -> np.ndarray:
    """Tissue of a training template's harmonised labels (``TEMPLATES[template]``, default ICBM 2009c) laid on the
    scan by MNI coordinates: what copying the unwarped training labels would score."""
    folder = fetch_templates(root)
    other = prepare(folder / TEMPLATES[template], folder / ATLAS, resolution, labels="harmonised")
    label = sample(other.fine_label.astype(np.float32), other.fine_affine, grid_points(source.image.shape, source.affine), "nearest")
    return tissue(remap_labels(np.rint(label).astype(np.int64), MALC.label_map))
