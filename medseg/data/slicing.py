"""Datasets over cached volumes: 2D slices of one plane, random 3D patches, whole subjects.

Slices and patches are numpy views into the cached arrays; without augmentation no MONAI transform runs
per item (the hot path). With augmentation, a MONAI dict transform runs on the 2D slice / 3D patch.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from .cache import Volume

# axis of the RAS (X, Y, Z) volume that is sliced for each plane
PLANE_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}


def _finish(image: np.ndarray, label: np.ndarray, transform: Callable | None) -> dict[str, torch.Tensor]:
    item = {
        "image": torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)),
        "label": torch.from_numpy(np.ascontiguousarray(label).astype(np.int64)),
    }
    if transform is not None:
        out = transform({"image": item["image"], "label": item["label"][None].float()})
        # plain tensors: MONAI returns MetaTensors, and every op of a step on one runs MONAI's Python
        # __torch_function__ (metadata copies), a per-op host cost that would follow the batch to the GPU
        image, label = (torch.as_tensor(out[k]).as_subclass(torch.Tensor) for k in ("image", "label"))
        item = {"image": image.float(), "label": label[0].round().long()}
    return item


class SliceDataset(Dataset):
    """All slices along ``plane`` of the volumes: ``{"image": (C, H, W) float32, "label": (H, W) int64}``.

    ``drop_background`` skips slices whose label has no foreground.
    """

    def __init__(self, volumes: Sequence[Volume], plane: str, drop_background: bool = False, transform: Callable | None = None) -> None:
        if plane not in PLANE_AXIS:
            raise ValueError(f"plane must be one of {sorted(PLANE_AXIS)}, got {plane!r}")
        self.volumes, self.axis, self.transform = list(volumes), PLANE_AXIS[plane], transform
        index = []
        for v, volume in enumerate(self.volumes):
            if volume.label is None:
                raise ValueError(f"subject {volume.id!r}: training slices need a label")
            n = volume.label.shape[self.axis]
            if drop_background:
                other = tuple(a for a in range(3) if a != self.axis)
                keep = np.flatnonzero(np.asarray(volume.label).any(axis=other))
            else:
                keep = np.arange(n)
            index.append(np.stack([np.full(len(keep), v), keep], axis=1))
        self.index = np.concatenate(index).astype(np.int64) if index else np.zeros((0, 2), np.int64)

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        v, k = self.index[i]
        volume = self.volumes[v]
        image = np.take(volume.image, k, axis=self.axis + 1)
        label = np.take(volume.label, k, axis=self.axis)
        return _finish(image, label, self.transform)

    def __getitems__(self, indices: Sequence[int]) -> dict[str, torch.Tensor] | list[dict[str, torch.Tensor]]:
        """A whole batch at once (the DataLoader's batched fetch): one stack, no per-item tensors.

        Falls back to per-item samples with augmentation or slices of different shapes.
        """
        items = [(self.volumes[v], k) for v, k in self.index[list(indices)]]
        images = [np.take(vol.image, k, axis=self.axis + 1) for vol, k in items]
        if self.transform is not None or len({im.shape for im in images}) > 1:
            return [self[i] for i in indices]
        labels = [np.take(vol.label, k, axis=self.axis) for vol, k in items]
        return {
            "image": torch.from_numpy(np.stack(images).astype(np.float32, copy=False)),
            "label": torch.from_numpy(np.stack(labels).astype(np.int64)),
        }


def collate(batch: dict[str, torch.Tensor] | list[dict[str, Any]]) -> dict[str, Any]:
    """Default collation, except for batches that :meth:`SliceDataset.__getitems__` already stacked."""
    return batch if isinstance(batch, dict) else default_collate(batch)


class PatchDataset(Dataset):
    """``samples_per_volume`` random patches per volume and epoch: ``{"image": (C, *patch), "label": patch}``.

    Patch corners are drawn with torch's RNG (seeded by Lightning, distinct per loader worker). With
    probability ``foreground`` the patch is centred on a voxel of a foreground class drawn uniformly among
    those present (medseg.data.sampling). Volumes smaller than the patch are zero-padded.
    """

    def __init__(self, volumes: Sequence[Volume], patch_size: Sequence[int], samples_per_volume: int = 8, transform: Callable | None = None,
                 foreground: float = 0.0) -> None:  # fmt: skip
        if len(patch_size) != 3 or min(patch_size) < 1:
            raise ValueError(f"patch_size must be 3 positive ints, got {patch_size!r}")
        self.volumes, self.patch, self.samples, self.transform = list(volumes), tuple(int(p) for p in patch_size), samples_per_volume, transform
        self.foreground = foreground
        self._voxels: dict[int, list[np.ndarray]] = {}  # volume -> flat voxel indices of each present class

    def _corner(self, v: int) -> list[int]:
        shape = self.volumes[v].label.shape
        if self.foreground > 0 and float(torch.rand(())) < self.foreground:
            if v not in self._voxels:
                flat = np.asarray(self.volumes[v].label).ravel()
                self._voxels[v] = [np.flatnonzero(flat == c) for c in np.unique(flat) if c > 0]
            classes = self._voxels[v]
            if classes:
                voxels = classes[int(torch.randint(0, len(classes), ()))]
                centre = np.unravel_index(voxels[int(torch.randint(0, len(voxels), ()))], shape)
                return [int(min(max(0, c - p // 2), max(0, s - p))) for c, s, p in zip(centre, shape, self.patch)]
        return [int(torch.randint(0, max(1, s - p + 1), ())) for s, p in zip(shape, self.patch)]

    def __len__(self) -> int:
        return len(self.volumes) * self.samples

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        volume = self.volumes[i // self.samples]
        start = self._corner(i // self.samples)
        region = tuple(slice(a, a + p) for a, p in zip(start, self.patch))
        image, label = volume.image[(slice(None), *region)], volume.label[region]
        pad = [(0, p - s) for s, p in zip(label.shape, self.patch)]
        if any(after for _, after in pad):
            image, label = np.pad(image, [(0, 0), *pad]), np.pad(label, pad)
        return _finish(image, label, self.transform)


class SubjectDataset(Dataset):
    """Whole preprocessed subjects: ``{"id", "image": (C, X, Y, Z), "label": (X, Y, Z) (if labelled), "meta"}``."""

    def __init__(self, volumes: Sequence[Volume]) -> None:
        self.volumes = list(volumes)

    def __len__(self) -> int:
        return len(self.volumes)

    def __getitem__(self, i: int) -> dict[str, Any]:
        volume = self.volumes[i]
        item: dict[str, Any] = {
            "id": volume.id,
            "image": torch.from_numpy(np.asarray(volume.image, dtype=np.float32)),
            "meta": {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in volume.meta.items()},
        }
        if volume.label is not None:
            item["label"] = torch.from_numpy(np.asarray(volume.label).astype(np.int64))
        return item
