"""A tiny in-memory data module following the data → engine contract (docs/internals.md)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from lightning.pytorch import LightningDataModule
from torch.utils.data import DataLoader, Dataset

PLANE_AXIS = {"sagittal": 0, "coronal": 1, "axial": 2}


def phantom(seed: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Two nested boxes (classes 1, 2) at a random offset; image = label + noise."""
    rng = np.random.default_rng(seed)
    label = np.zeros((size,) * 3, np.int64)
    o = rng.integers(1, 4, 3)
    label[o[0] : o[0] + 10, o[1] : o[1] + 11, o[2] : o[2] + 9] = 1
    label[o[0] + 3 : o[0] + 7, o[1] + 2 : o[1] + 6, o[2] + 3 : o[2] + 6] = 2
    image = label.astype(np.float32) + rng.normal(0, 0.3, label.shape).astype(np.float32)
    return image[None], label


class _Subjects(Dataset):
    def __init__(self, seeds: list[int], size: int) -> None:
        self.items = [(f"s{seed:03d}", *phantom(seed, size)) for seed in seeds]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict:
        sid, image, label = self.items[i]
        return {"id": sid, "image": torch.from_numpy(image), "label": torch.from_numpy(label),
                "meta": {"affine": torch.eye(4, dtype=torch.float64)}}


class _Slices(Dataset):
    def __init__(self, subjects: _Subjects, axis: int) -> None:
        self.slices = [(torch.from_numpy(im).select(axis + 1, k), torch.from_numpy(lab).select(axis, k))
                       for _, im, lab in subjects.items for k in range(lab.shape[axis])]

    def __len__(self) -> int:
        return len(self.slices)

    def __getitem__(self, i: int) -> dict:
        image, label = self.slices[i]
        return {"image": image, "label": label}


class TinyDataModule(LightningDataModule):
    def __init__(self, train: int = 2, val: int = 1, test: int = 3, size: int = 16, plane: str = "axial",
                 batch_size: int = 8) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.num_classes, self.in_channels, self.spatial_dims, self.plane = 3, 1, 2, plane
        self.class_names = ["background", "outer", "inner"]
        self.manifest = SimpleNamespace(name="tiny")
        seeds = list(range(train + val + test))
        self.splits = {"train": seeds[:train], "val": seeds[train : train + val], "test": seeds[train + val :]}
        self.size, self.batch_size = size, batch_size

    def train_dataloader(self) -> DataLoader:
        slices = _Slices(_Subjects(self.splits["train"], self.size), PLANE_AXIS[self.plane])
        return DataLoader(slices, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(_Subjects(self.splits["val"], self.size), batch_size=1)

    def test_dataloader(self) -> DataLoader:
        return DataLoader(_Subjects(self.splits["test"], self.size), batch_size=1)
