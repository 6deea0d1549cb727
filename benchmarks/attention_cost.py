"""Cost of each attention block relative to one 64 -> 64 5x5 (5x5x5) convolution on the same input.

Per block and per dimensionality: parameters, and forward+backward time (median of ``--repeats`` after
``--warmup`` runs, input gradient included) as a percentage of the convolution's. Goal (issue 3):
cSE, sSE and scSE each cost at most 25 % of that convolution. Prints a markdown table.

    .venv/bin/python benchmarks/attention_cost.py            # C = 64; 2D 1x64x128^2, 3D 1x64x32^3
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn
from tqdm import tqdm

from medseg.blocks import available_attention, build_attention

GOAL_BLOCKS = ("cse", "sse", "scse")
GOAL = 0.25
ORDER = ["none", "se", "cse", "sse", "scse", "cbam", "bam", "eca", "psa", "pam", "cam", "danet", "ema"]


def fwd_bwd_seconds(module: nn.Module, x: torch.Tensor, warmup: int, repeats: int) -> float:
    """Median wall time of module(x) and the backward pass of its sum."""
    times = []
    for i in range(warmup + repeats):
        module.zero_grad(set_to_none=True)
        x.grad = None
        start = time.perf_counter()
        module(x).sum().backward()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(dims: int, channels: int, size: int, names: list[str], warmup: int, repeats: int) -> list[dict]:
    torch.manual_seed(0)
    x = torch.randn(1, channels, *[size] * dims, requires_grad=True)
    conv = (nn.Conv2d if dims == 2 else nn.Conv3d)(channels, channels, 5, padding=2)
    base = fwd_bwd_seconds(conv, x, warmup, repeats)
    rows = [{"block": f"conv 5^{dims} (reference)", "params": sum(p.numel() for p in conv.parameters()), "ms": base * 1e3, "rel": 1.0}]
    for name in tqdm(names, desc=f"{dims}D", leave=False):
        block = build_attention(name, channels, dims).train()
        row = {"block": name, "params": sum(p.numel() for p in block.parameters())}
        if name == "bam":  # its channel BatchNorm is undefined for a batch of one in training
            block.eval()
            row["block"] = "bam (eval mode)"
        try:
            seconds = fwd_bwd_seconds(block, x, warmup, repeats)
        except ValueError as err:  # PAM's documented O(N^2) limit
            row["note"] = str(err).split(";")[0]
        else:
            row.update(ms=seconds * 1e3, rel=seconds / base)
        rows.append(row)
    return rows


def table(dims: int, size: int, channels: int, rows: list[dict]) -> str:
    lines = [
        f"**{dims}D**, input 1x{channels}x{size}^{dims}",
        "",
        "| block | params | fwd+bwd ms | % of conv | goal <= 25 % |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        if "ms" not in r:
            lines.append(f"| {r['block']} | {r['params']:,} | refused | | {r['note']} |")
            continue
        goal = ""
        if r["block"] in GOAL_BLOCKS:
            goal = "met" if r["rel"] <= GOAL else "MISSED"
        lines.append(f"| {r['block']} | {r['params']:,} | {r['ms']:.1f} | {100 * r['rel']:.1f} | {goal} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--size2d", type=int, default=128)
    parser.add_argument("--size3d", type=int, default=32)
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 3], choices=[2, 3])
    parser.add_argument("--blocks", nargs="+", default=[n for n in ORDER if n in available_attention()])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, median of {args.repeats} after {args.warmup} warm-up\n")
    for dims in args.dims:
        size = args.size2d if dims == 2 else args.size3d
        rows = measure(dims, args.channels, size, args.blocks, args.warmup, args.repeats)
        print(table(dims, size, args.channels, rows), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
