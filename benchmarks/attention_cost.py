"""Cost of each attention block relative to one 64 -> 64 5x5 (5x5x5) convolution on the same input.

Per block and per dimensionality: parameters, and forward+backward time (input gradient included) as a
percentage of the convolution's: the median over ``--repeats`` rounds, after ``--warmup`` runs, of
block time / conv time, each round timing the conv once and then the block. Goal (issue 3):
cSE, sSE and scSE each cost at most 25 % of that convolution. Prints a markdown table.

    .venv/bin/python benchmarks/attention_cost.py            # C = 64; 2D 1x64x128^2, 3D 1x64x32^3
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch
from torch import nn
from tqdm import tqdm

from medseg.blocks import GAU, available_attention, build_attention

GOAL_BLOCKS = ("cse", "sse", "scse")
GOAL = 0.25
ORDER = ["none", "se", "cse", "sse", "scse", "cbam", "bam", "eca", "psa", "fpa", "encnet", "gau", "pam", "cam", "danet",
         "danet_head", "psanet", "ema"]
GATES = ("gau",)  # skip gates: timed on the input with a gating signal at half its size


class GateOnHalfSize(nn.Module):
    """A skip gate as a one-input module: gate(x, g) with g = 2x average-pooled x (the coarser decoder feature)."""

    def __init__(self, gate: nn.Module) -> None:
        super().__init__()
        self.gate = gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool = nn.functional.avg_pool2d if x.ndim == 4 else nn.functional.avg_pool3d
        return self.gate(x, pool(x, 2))


def fwd_bwd_seconds(module: nn.Module, x: torch.Tensor, runs: int) -> float:
    """Median wall time of module(x) plus the backward pass of its sum, over ``runs`` runs."""
    times = []
    for _ in range(runs):
        module.zero_grad(set_to_none=True)
        x.grad = None
        start = time.perf_counter()
        module(x).sum().backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def relative_cost(
    block: nn.Module, conv: nn.Module, x: torch.Tensor, warmup: int, repeats: int, slow: float
) -> tuple[float, float, int]:
    """(median block seconds, median of block/conv ratios, rounds), conv and block timed alternately.

    Alternating rounds make the ratio robust to load from other processes on a shared machine; a
    cheap block is run several times per round (median) so that its timing is not one scheduler tick.
    A block slower than ``slow`` seconds per run is timed once, without warm-up.
    """
    once = fwd_bwd_seconds(block, x, 1)
    conv_s = fwd_bwd_seconds(conv, x, 1)
    if once > slow:
        return once, once / conv_s, 1
    fwd_bwd_seconds(block, x, warmup)
    runs = max(1, min(20, int(0.25 * conv_s / max(once, 1e-9))))
    block_times, ratios = [], []
    for _ in range(repeats):
        conv_s = fwd_bwd_seconds(conv, x, 1)
        block_s = fwd_bwd_seconds(block, x, runs)
        block_times.append(block_s)
        ratios.append(block_s / conv_s)
    return statistics.median(block_times), statistics.median(ratios), repeats


def measure(
    dims: int, channels: int, size: int, names: list[str], warmup: int, repeats: int, slow: float
) -> list[dict]:
    torch.manual_seed(0)
    x = torch.randn(1, channels, *[size] * dims, requires_grad=True)
    conv = (nn.Conv2d if dims == 2 else nn.Conv3d)(channels, channels, 5, padding=2)
    fwd_bwd_seconds(conv, x, warmup)
    base = statistics.median(fwd_bwd_seconds(conv, x, 1) for _ in range(repeats))
    rows = [{"block": f"conv 5^{dims} (reference)", "params": sum(p.numel() for p in conv.parameters()), "ms": base * 1e3, "rel": 1.0}]
    for name in tqdm(names, desc=f"{dims}D", leave=False):
        if name in GATES:
            block = GateOnHalfSize(GAU(channels, channels, dims)).train()
        else:
            block = build_attention(name, channels, dims).train()
        row = {"block": name, "params": sum(p.numel() for p in block.parameters())}
        if name == "bam":  # its channel BatchNorm is undefined for a batch of one in training
            block.eval()
            row["block"] = "bam (eval mode)"
        try:
            seconds, rel, rounds = relative_cost(block, conv, x, warmup, repeats, slow)
        except ValueError as err:  # PAM's and PSANet's documented O(N^2) limits
            row["note"] = str(err).split(";")[0]
        else:
            row.update(ms=seconds * 1e3, rel=rel, note="" if rounds > 1 else "timed once (slow)")
        rows.append(row)
    return rows


def table(dims: int, size: int, channels: int, rows: list[dict]) -> str:
    lines = [
        f"**{dims}D**, input 1x{channels}x{size}^{dims}",
        "",
        "| block | params | fwd+bwd ms (median) | % of conv (median ratio) | goal <= 25 % / note |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        if "ms" not in r:
            lines.append(f"| {r['block']} | {r['params']:,} | refused | | {r['note']} |")
            continue
        goal = r.get("note", "")
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
    parser.add_argument("--blocks", nargs="+", default=[n for n in ORDER if n in available_attention() or n in GATES])
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--slow", type=float, default=20.0, help="seconds per run above which a block is timed once")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.repeats} rounds after "
        f"{args.warmup} warm-up run(s); load average {os.getloadavg()[0]:.1f} at start\n"
    )
    for dims in args.dims:
        size = args.size2d if dims == 2 else args.size3d
        rows = measure(dims, args.channels, size, args.blocks, args.warmup, args.repeats, args.slow)
        print(table(dims, size, args.channels, rows), end="\n\n", flush=True)


if __name__ == "__main__":
    main()
