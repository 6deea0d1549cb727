"""Training-step time of each network without attention vs scSE at every site (issue 4).

One step = forward + backward + SGD update on a batch of 4 slices 1x128x128 (CPU by default). The two
variants are measured alternately (none, scse, none, scse, ...) so load drift on a shared machine hits
both alike; the table reports medians and the scSE overhead in %.

    .venv/bin/python benchmarks/train_step.py --repeats 10 --threads 2
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time

import torch
from tqdm import tqdm

from medseg.nets import build_network

DEFAULT_NETWORKS = ["quicknat:roy2019", "unet:roy2018", "sdnet:roy2017", "fcdensenet:fcdensenet56"]


def make_step(spec: str, attention, batch: int, size: int, classes: int, device: str):
    name, _, preset = spec.partition(":")
    torch.manual_seed(0)
    net = build_network(name, 1, classes, attention=attention, placement="all", preset=preset or None).to(device)
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(batch, 1, size, size, device=device)
    y = torch.randint(0, classes, (batch, size, size), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> float:
        start = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        loss_fn(net(x), y).backward()
        opt.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return step, sum(p.numel() for p in net.parameters())


def measure(spec: str, args) -> dict:
    variants = {"none": None, "scse": {"name": "scse", "reduction": 2, "aggregation": args.aggregation}}
    steps = {k: make_step(spec, a, args.batch, args.size, args.classes, args.device) for k, a in variants.items()}
    for _ in range(args.warmup):
        for step, _ in steps.values():
            step()
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in tqdm(range(args.repeats), desc=spec, leave=False):
        for k, (step, _) in steps.items():
            times[k].append(step())
    none, scse = (statistics.median(times[k]) for k in ("none", "scse"))
    return {"network": spec, "params_none": steps["none"][1], "params_scse": steps["scse"][1], "none": none, "scse": scse}


def table(rows: list[dict]) -> str:
    lines = [
        "| network:preset | params (none) | params scSE all | param overhead | step none (s) | step scSE all (s) | time overhead |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['network']} | {r['params_none']:,} | {r['params_scse']:,} | "
            f"{100 * (r['params_scse'] / r['params_none'] - 1):.2f} % | {r['none']:.3f} | {r['scse']:.3f} | "
            f"{100 * (r['scse'] / r['none'] - 1):+.1f} % |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--networks", nargs="+", default=DEFAULT_NETWORKS, help="name[:preset] entries")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--classes", type=int, default=28)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--aggregation", default="add", help="scSE aggregation (add: MICCAI 2018; max: TMI 2019)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default=None, help="also write the markdown table to this file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [measure(spec, args) for spec in args.networks]
    header = (
        f"torch {torch.__version__}, {args.device}, {torch.get_num_threads()} threads, {platform.processor() or platform.machine()}, "
        f"batch {args.batch} x 1 x {args.size}^2, {args.classes} classes, SGD, median of {args.repeats} (after {args.warmup} warm-up), "
        f"scSE r=2 aggregation={args.aggregation} at every site"
    )
    text = f"{header}\n\n{table(rows)}\n"
    print(text)
    if args.out:
        folder = os.path.dirname(os.path.abspath(args.out))
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".tmp") as handle:
            handle.write(text)
        os.replace(handle.name, args.out)


if __name__ == "__main__":
    main()
