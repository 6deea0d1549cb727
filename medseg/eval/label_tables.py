"""Label tables for viewers, written beside predictions: class names in medseg's figure colours.

- ITK-SNAP label description file (``labels_itksnap.txt``; Segmentation → Import Label Descriptions):
  ``#`` comment lines, then one line per label ``IDX -R- -G- -B- -A-- VIS MSH "LABEL"`` with R, G, B in
  0..255, A the opacity in 0..1, VIS/MSH 0 or 1 (shown in slices / in 3D) — the layout documented in the
  header of the files ITK-SNAP itself exports.
- 3D Slicer colour table (``labels_slicer.ctbl``; the "Color table file format (.txt, .ctbl)" of the Slicer
  developer guide, modules/colors): header lines starting ``# Color table file``, then
  ``index name R G B A`` with all four components in 0..255 and spaces in names replaced by ``_``.

Colours come from :func:`medseg.eval.plots.label_colours` (the figures' single definition); background
(class 0) is transparent and hidden, as in the figures.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from medseg.atomic import atomic_write
from medseg.eval.plots import label_colours

ITKSNAP_NAME = "labels_itksnap.txt"
SLICER_NAME = "labels_slicer.ctbl"


def _rgb255(colour: Sequence[float]) -> tuple[int, int, int]:
    r, g, b = (int(round(255 * c)) for c in colour[:3])
    return r, g, b


def itksnap_text(class_names: Sequence[str]) -> str:
    """The ITK-SNAP label description file for class ids ``0..K-1``."""
    lines = [
        "# ITK-SnAP Label Description File, written by medseg (class id = voxel value)",
        "# IDX   -R-  -G-  -B-  -A--  VIS MSH  LABEL",
        "#   IDX: label value; -R-/-G-/-B-: colour 0..255; -A--: opacity 0..1; VIS: shown in slices (0/1);",
        "#   MSH: shown in 3D (0/1); LABEL: description in double quotes",
    ]
    for index, (name, colour) in enumerate(zip(class_names, label_colours(len(class_names)))):
        r, g, b = _rgb255(colour)
        visible = int(index != 0)
        label = str(name).replace('"', "'")
        lines.append(f"{index:5d} {r:5d} {g:4d} {b:4d} {float(visible):8.2f} {visible:2d} {visible:2d}    \"{label}\"")
    return "\n".join(lines) + "\n"


def slicer_text(class_names: Sequence[str]) -> str:
    """The 3D Slicer colour table (discrete lookup table) for class ids ``0..K-1``."""
    lines = ["# Color table file written by medseg (class id = voxel value)", f"# {len(class_names)} values"]
    for index, (name, colour) in enumerate(zip(class_names, label_colours(len(class_names)))):
        r, g, b = _rgb255(colour)
        label = "_".join(str(name).split()) or f"class_{index}"
        lines.append(f"{index} {label} {r} {g} {b} {0 if index == 0 else 255}")
    return "\n".join(lines) + "\n"


def write_label_tables(folder: str | os.PathLike, class_names: Sequence[str]) -> list[Path]:
    """Write both files into ``folder`` atomically; return their paths."""
    folder = Path(folder)
    return [atomic_write(folder / ITKSNAP_NAME, itksnap_text(class_names)),
            atomic_write(folder / SLICER_NAME, slicer_text(class_names))]
