"""Manifests, label tables, readers, transforms, slice/patch data modules, phantoms."""

from .labels import MALC, MALC33, TABLES, TORSO, VISCERAL, LabelTable, remap_labels
from .manifest import Manifest, ManifestError, load_manifest
from .phantoms import make_phantom
from .preprocess import Preprocessing, preprocess_image, to_original_grid
from .readers import load_volume, write_volume
from .slicing import PLANE_AXIS

__all__ = [
    "MALC", "MALC33", "PLANE_AXIS", "TABLES", "TORSO", "VISCERAL", "LabelTable", "Manifest", "ManifestError", "Preprocessing",
    "SegmentationDataModule", "load_manifest", "load_volume", "make_phantom", "preprocess_image",
    "remap_labels", "to_original_grid", "write_volume",
]  # fmt: skip


def __getattr__(name: str):
    # imported on first use so that `medseg synth` / `medseg data check` do not import Lightning
    if name == "SegmentationDataModule":
        from .datamodule import SegmentationDataModule

        return SegmentationDataModule
    raise AttributeError(f"module 'medseg.data' has no attribute {name!r}")
