"""``SegmentationDataModule``: the YAML ``data:`` section (docs/internals.md "Data -> engine")."""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import lightning as L
import numpy as np
from lightning.pytorch.accelerators import CUDAAccelerator
from monai.data.utils import worker_init_fn
from torch.utils.data import DataLoader
from tqdm import tqdm

from .augment import build_augmentation
from .cache import Volume, VolumeCache
from .manifest import Subject, load_manifest
from .preprocess import Preprocessing
from .validate import DataError
from .sampling import foreground_sampler
from .slicing import PLANE_AXIS, PatchDataset, SliceDataset, SubjectDataset, collate


class SegmentationDataModule(L.LightningDataModule):
    """2D slices or 3D patches for training; one whole preprocessed subject per batch for val/test/predict.

    Args:
        manifest: manifest JSON (DESIGN.md §2); paths relative to its folder or to ``root``.
        root: folder the manifest's paths are relative to (overrides the manifest's ``"root"``).
        plane: ``axial`` | ``coronal`` | ``sagittal``: the slicing plane for 2D (axis Z, Y, X of RAS).
        spatial_dims: 2 (slices of ``plane``) or 3 (random patches of ``patch_size``).
        patch_size: 3D patch size in voxels (``spatial_dims=3``).
        samples_per_volume: random 3D patches drawn per training volume and epoch.
        batch_size: training batch size (val/test/predict always use 1 subject).
        num_workers: DataLoader workers (volumes are cached first, then shared with the workers).
        cache: ``memory`` or ``disk`` (persistent ``.npy`` cache in ``cache_dir``, memory-mapped).
        cache_dir: folder for ``cache="disk"``.
        cache_dtype: ``float32`` or ``float16`` image storage in the cache.
        orientation: canonical orientation codes (``RAS``), or null to keep the file's.
        spacing: resample to this spacing in mm (a number or 3 numbers), null to keep.
        conform: crop/pad (centred) to this size in voxels (QuickNAT: 256), null to keep.
        normalize: ``minmax`` (per volume, QuickNAT) | ``zscore`` | ``window`` (CT) | ``none``.
        window: CT window ``[lo, hi]`` in HU for ``normalize="window"``.
        reorient_labels: accept a label stored in another voxel order on the image's world grid and reorder
            it to the image's (default false: any image/label shape or affine disagreement is an error, as in
            nnU-Net and TorchIO; medseg.data.validate).
        augmentation: names from ``affine, elastic, intensity, noise, bias_field`` (no flips: labels are
            lateralised); empty for none.
        augmentation_prob: probability of each augmentation.
        drop_background_slices: skip training slices without foreground.
        foreground_sampling: fraction of training slices (2D) drawn class-balanced (a class uniformly among
            those present, then a slice containing it), or of 3D patches centred on a voxel of such a
            class, so small structures are seen (medseg.data.sampling); 0 = uniform.
        fold: cross-validation fold; when set, training+validation subjects are pooled and fold ``fold``
            of ``num_folds`` is validation (entries' ``"fold"`` keys if present, else a seeded split).
        num_folds: number of folds for ``fold``.
        predict_split: manifest split used by ``predict_dataloader`` (images only).
        seed: seed of the fold split.
    """

    def __init__(
        self,
        manifest: str,
        root: str | None = None,
        plane: str = "coronal",
        spatial_dims: int = 2,
        patch_size: Sequence[int] = (64, 64, 64),
        samples_per_volume: int = 8,
        batch_size: int = 16,
        num_workers: int = 0,
        cache: str = "memory",
        cache_dir: str | None = None,
        cache_dtype: str = "float32",
        orientation: str | None = "RAS",
        spacing: float | Sequence[float] | None = None,
        conform: int | Sequence[int] | None = None,
        normalize: str = "minmax",
        window: Sequence[float] = (-1000.0, 1000.0),
        reorient_labels: bool = False,
        augmentation: Sequence[str] = (),
        augmentation_prob: float = 0.3,
        drop_background_slices: bool = False,
        foreground_sampling: float = 0.0,
        fold: int | None = None,
        num_folds: int = 5,
        predict_split: str = "test",
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        if plane not in PLANE_AXIS:
            raise ValueError(f"data.plane must be one of {sorted(PLANE_AXIS)}, got {plane!r}")
        if spatial_dims not in (2, 3):
            raise ValueError(f"data.spatial_dims must be 2 or 3, got {spatial_dims}")
        if fold is not None and not 0 <= fold < num_folds:
            raise ValueError(f"data.fold must be in 0..{num_folds - 1}, got {fold}")
        if not 0.0 <= foreground_sampling <= 1.0:
            raise ValueError(f"data.foreground_sampling must be in [0, 1], got {foreground_sampling}")
        if predict_split not in ("training", "validation", "test"):
            raise ValueError(f"data.predict_split must be training, validation or test, got {predict_split!r}")
        self.manifest = load_manifest(manifest, root)
        self._plane, self._spatial_dims = plane, spatial_dims
        self.preprocessing = Preprocessing.from_options(
            {"orientation": orientation, "spacing": spacing, "conform": conform, "normalize": normalize, "window": window}
        )
        self.augmentation = build_augmentation(augmentation, spatial_dims, augmentation_prob)
        self.cache = VolumeCache(
            self.preprocessing, self.manifest.label_map, cache, cache_dir, cache_dtype,
            self.manifest.in_channels, self.manifest.num_classes, reorient_labels,
        )
        self.splits = self._split(fold, num_folds, seed)

    # --- properties the engine reads right after __init__ (no volume loaded) ---
    @property
    def num_classes(self) -> int:
        return self.manifest.num_classes

    @property
    def class_names(self) -> list[str]:
        return list(self.manifest.class_names)

    @property
    def in_channels(self) -> int:
        return self.manifest.in_channels

    @property
    def spatial_dims(self) -> int:
        return self._spatial_dims

    @property
    def plane(self) -> str:
        return self._plane

    def _split(self, fold: int | None, num_folds: int, seed: int) -> dict[str, list[Subject]]:
        splits = {k: list(v) for k, v in self.manifest.splits.items()}
        if fold is None:
            return splits
        pool = splits["training"] + splits["validation"]
        if all(s.fold is not None for s in pool):
            folds = np.array([s.fold % num_folds for s in pool])
        else:
            folds = np.random.default_rng(seed).permutation(len(pool)) % num_folds
        splits["training"] = [s for s, f in zip(pool, folds) if f != fold]
        splits["validation"] = [s for s, f in zip(pool, folds) if f == fold]
        return splits

    def volumes(self, split: str, with_label: bool = True) -> list[Volume]:
        """The split's subjects, loaded and preprocessed once (cached)."""
        subjects = self.splits[split]
        if not subjects:
            raise ValueError(f"{self.manifest.path}: split {split!r} has no subjects (set data.fold or edit the manifest)")
        if with_label:
            missing = [s.id for s in subjects if s.label is None]
            if missing:
                raise ValueError(f"{self.manifest.path}: {split} subjects {missing} have no 'label'")
        return [self.cache.get(s, with_label) for s in tqdm(subjects, desc=f"load {split}", unit="volume", leave=False)]

    def setup(self, stage: str | None = None) -> None:
        needed = {"fit": ["training", "validation"], "validate": ["validation"], "test": ["test"]}.get(stage or "fit", [])
        for split in needed:
            if self.splits[split]:
                self.volumes(split)
        if "training" in needed and self.spatial_dims == 2 and self.hparams.drop_background_slices:
            self._check_some_foreground()

    def input_sizes(self, stage: str | None) -> list[tuple[str, str, tuple[int, ...]]]:
        """``(subject id, image file, preprocessed spatial shape)`` of every subject ``stage`` uses
        (fit: training + validation; validate; test; predict: ``predict_split``), loaded once (cached)."""
        splits = {"fit": ["training", "validation"], "validate": ["validation"], "test": ["test"],
                  "predict": [self.hparams.predict_split]}.get(stage or "fit", [])
        with_label = stage != "predict"
        return [(s.id, str(s.image), tuple(v.image.shape[1:])) for split in splits if self.splits[split]
                for s, v in zip(self.splits[split], self.volumes(split, with_label))]

    def _check_some_foreground(self) -> None:
        """``drop_background_slices`` needs foreground somewhere, else no training slice is left."""
        volumes = self.volumes("training")
        if not any(np.asarray(v.label).any() for v in volumes):
            subjects = ", ".join(f"{s.id!r} ({s.label})" for s in self.splits["training"])
            raise DataError(
                f"{self.manifest.path}: data.drop_background_slices is true but every training label is empty "
                f"(no foreground class after label_map), so no training slice is left: {subjects}"
            )

    def _loader(self, dataset, batch_size: int, shuffle: bool, sampler=None) -> DataLoader:
        workers = self.hparams.num_workers
        return DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            num_workers=workers,
            worker_init_fn=worker_init_fn,
            collate_fn=collate,
            persistent_workers=workers > 0,
            pin_memory=self._pin_memory(),
            drop_last=False,
        )

    def _pin_memory(self) -> bool:
        """Page-locked batches (faster, asynchronous host → GPU copies) when the trainer runs on CUDA."""
        return self.trainer is not None and isinstance(self.trainer.accelerator, CUDAAccelerator)

    def train_dataloader(self) -> DataLoader:
        volumes = self.volumes("training")
        fraction, sampler = self.hparams.foreground_sampling, None
        if self.spatial_dims == 2:
            dataset = SliceDataset(volumes, self.plane, self.hparams.drop_background_slices, self.augmentation)
            sampler = foreground_sampler(dataset, fraction) if fraction > 0 else None
        else:
            dataset = PatchDataset(volumes, self.hparams.patch_size, self.hparams.samples_per_volume, self.augmentation, fraction)
        return self._loader(dataset, self.hparams.batch_size, shuffle=True, sampler=sampler)

    def val_dataloader(self) -> DataLoader | list:
        """Whole validation subjects; during fit an empty split (e.g. MALC's 15/15 protocol) skips
        validation with a warning instead of failing (``medseg validate`` still needs subjects)."""
        fitting = self.trainer is not None and self.trainer.state.fn == "fit"
        if fitting and not self.splits["validation"]:
            warnings.warn(
                f"{self.manifest.path}: no validation subjects, so fit runs without validation "
                "(set data.fold to hold out a fold of the training subjects)", stacklevel=2
            )
            return []
        return self._loader(SubjectDataset(self.volumes("validation")), 1, shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader(SubjectDataset(self.volumes("test")), 1, shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        split = self.hparams.predict_split
        return self._loader(SubjectDataset(self.volumes(split, with_label=False)), 1, shuffle=False)

    def state_dict(self) -> dict[str, Any]:
        return {"splits": {k: [s.id for s in v] for k, v in self.splits.items()}}
