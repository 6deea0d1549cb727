"""Peak memory of three-view 2D inference on a size³ volume with K classes (QuickNAT fusion 0.4/0.4/0.2).

Memory is what counts, so the networks are narrow (features 4) to keep the time down. Peak is the
process's ru_maxrss (includes the Python/torch runtime) and, separately, tracemalloc's numpy peak.

    .venv/bin/python benchmarks/inference_memory.py --size 256 --classes 28
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from medseg.engine.inference import predict_volume
from medseg.nets import build_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--classes", type=int, default=28)
    parser.add_argument("--network", default="unet", choices=["unet", "quicknat"])
    parser.add_argument("--features", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--prob-dtype", default="float16", choices=["float16", "float32"])
    args = parser.parse_args()
    torch.manual_seed(0)
    nets = {
        plane: build_network(args.network, 1, args.classes, 2, "scse", features=args.features, kernel_size=3, depth=2).eval()
        for plane in ("axial", "coronal", "sagittal")
    }
    image = torch.randn(1, args.size, args.size, args.size)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start = time.perf_counter()
    probs = predict_volume(nets, image, args.classes, batch_size=args.batch_size,
                           prob_dtype=getattr(torch, args.prob_dtype), progress=True)
    labels = probs.argmax(dim=0)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"{args.size}^3, {args.classes} classes, 3 views, {args.network} features {args.features} depth 2, batch {args.batch_size}, "
          f"{args.prob_dtype} accumulator: {seconds:.0f} s, peak RSS {peak:.2f} GiB (before inference {before:.2f} GiB), "
          f"labels {tuple(labels.shape)}")


if __name__ == "__main__":
    main()
