"""Data layer throughput and cache memory (issue 5).

1. slices/s from SegmentationDataModule.train_dataloader(): 2D coronal slices of 128³ phantoms (128²
   slices), batch 16, memory cache, no augmentation, ``--workers`` loader workers.
2. cache memory for ``--volumes`` volumes of ``--size``³ through VolumeCache (one 256³ phantom file
   listed ``--volumes`` times under different ids, so each is loaded and cached separately); reported
   as the cache's array bytes and the process RSS growth, for float32 and float16 image storage.

    .venv/bin/python benchmarks/data_throughput.py [--workers 2] [--volumes 30] [--size 256]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import psutil

from medseg.data import SegmentationDataModule
from medseg.data.cache import VolumeCache
from medseg.data.manifest import load_manifest
from medseg.data.preprocess import Preprocessing
from medseg.data.synth import synth

GIB = 2**30


def throughput(folder: Path, workers: int, epochs: int) -> float:
    synth("malc", str(folder), subjects=6, size=128, seed=0, validation=1, test=1)
    dm = SegmentationDataModule(str(folder / "dataset.json"), plane="coronal", batch_size=16, num_workers=workers)
    dm.setup("fit")
    loader = dm.train_dataloader()
    next(iter(loader))  # start workers
    count, start = 0, time.perf_counter()
    for _ in range(epochs):
        for batch in loader:
            count += batch["image"].shape[0]
    return count / (time.perf_counter() - start)


def cache_memory(folder: Path, volumes: int, size: int, dtype: str) -> dict[str, float]:
    synth("malc", str(folder), subjects=3, size=size, seed=0, validation=1, test=1)
    manifest = load_manifest(folder / "dataset.json")
    subject = manifest.splits["training"][0]
    cache = VolumeCache(Preprocessing(), manifest.label_map, "memory", dtype=dtype)
    process = psutil.Process()
    rss0, start = process.memory_info().rss, time.perf_counter()
    loaded = [cache.get(type(subject)(f"copy{i}", subject.image, subject.label)) for i in range(volumes)]
    return {
        "dtype": dtype,
        "array_gib": sum(v.nbytes for v in loaded) / GIB,
        "rss_growth_gib": (process.memory_info().rss - rss0) / GIB,
        "seconds_per_volume": (time.perf_counter() - start) / volumes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--volumes", type=int, default=30)
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {"slices_per_s": throughput(Path(tmp) / "t", args.workers, args.epochs)}
        for dtype in ("float16", "float32"):
            result[f"cache_{dtype}"] = cache_memory(Path(tmp) / f"c-{dtype}", args.volumes, args.size, dtype)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
