"""Dice per structure on a size³ volume with K labels: medseg (one bincount) vs MONAI DiceMetric (one-hot).

    .venv/bin/python benchmarks/dice_speed.py --size 256 --classes 28
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from monai.metrics import DiceMetric
from monai.networks.utils import one_hot

from medseg.eval import dice_per_structure


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--classes", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    shape = (args.size,) * 3
    ref = rng.integers(0, args.classes, size=shape, dtype=np.uint8)
    pred = np.where(rng.random(shape, dtype=np.float32) < 0.8, ref, rng.integers(0, args.classes, size=shape, dtype=np.uint8))
    ours = best_of(lambda: dice_per_structure(pred, ref, args.classes), args.repeats)
    p = one_hot(torch.from_numpy(pred.astype(np.int64))[None, None], args.classes)  # (1, K, X, Y, Z) float32
    r = one_hot(torch.from_numpy(ref.astype(np.int64))[None, None], args.classes)
    metric = DiceMetric(include_background=True, reduction="none")
    monai = best_of(lambda: metric(p, r), args.repeats)
    agree = np.allclose(dice_per_structure(pred, ref, args.classes), metric(p, r)[0].numpy(), atol=1e-6)
    print(f"{args.size}^3, {args.classes} labels, torch threads {torch.get_num_threads()}: "
          f"medseg {ours:.3f} s, MONAI DiceMetric (one-hot given) {monai:.3f} s, speed-up {monai / ours:.1f}x, agree {agree}")


if __name__ == "__main__":
    main()
