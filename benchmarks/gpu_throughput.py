"""Training slices/s and 3-view inference volumes/s on one GPU (issue 13), per speed option.

For each network (QuickNAT roy2019 and U-Net roy2018, the papers' sizes), attention (none / scSE at every
site), autocast dtype (fp32 / bf16), channels-last (off / on) and ``torch.compile`` (off / on):

* training: forward + loss + backward + SGD step on a batch of ``--batch`` slices 1 x S x S (S = ``--size``,
  28 classes), timed over ``--steps`` steps after ``--warmup`` (compilation happens in the warm-up);
* inference: :func:`medseg.engine.inference.predict_volume` of one V^3 volume (V = ``--volume``) through
  all three planes (3V slices, fused 0.4/0.4/0.2 into a float16 buffer), the way ``medseg test`` runs it.

The speed options are the engine's own (``medseg.engine.acceleration``). A second table gives the step
time of scSE relative to none for every option set. Goals (one H100): QuickNAT 256^2 bf16 >= 1,000
training slices/s; scSE <= +10 % step time; 3-view inference of a 256^3 volume <= 3 s.

    python benchmarks/gpu_throughput.py                 # GPU, paper sizes: 256^2, batch 16, 256^3 volume
    python benchmarks/gpu_throughput.py --quick         # CPU smoke run: 16^2, batch 2, 16^3 volume, no compile
"""

from __future__ import annotations

import argparse
import itertools
import platform
import time
from contextlib import nullcontext

import torch

from medseg.engine.acceleration import compile_network, compiler_problem, use_channels_last
from medseg.engine.inference import predict_volume
from medseg.nets import build_network

NETWORKS = ["quicknat:roy2019", "unet:roy2018"]
DTYPES = {"fp32": None, "bf16": torch.bfloat16}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _seconds_per_call(fn, warmup: int, repeats: int, device: torch.device) -> float:
    """Mean wall seconds of ``fn()`` over ``repeats`` calls after ``warmup`` untimed ones (GPU synchronised)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    _sync(device)
    return (time.perf_counter() - start) / repeats


def measure(spec: str, attention: str, dtype: str, channels_last: bool, compiled: bool, args) -> dict:
    """Seconds per training step and per 3-view volume for one option set."""
    device = torch.device(args.device)
    name, _, preset = spec.partition(":")
    torch.manual_seed(0)
    net = build_network(name, 1, args.classes, attention=None if attention == "none" else attention,
                        placement="all", preset=preset or None).to(device)
    if channels_last:
        use_channels_last(net, 2)
    if compiled:
        compile_network(net, device.type)
    autocast = torch.autocast(device.type, dtype=DTYPES[dtype]) if DTYPES[dtype] else nullcontext()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    x = torch.randn(args.batch, 1, args.size, args.size, device=device)
    y = torch.randint(0, args.classes, (args.batch, args.size, args.size), device=device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        with autocast:
            loss = loss_fn(net(x).float(), y)
        loss.backward()
        opt.step()

    net.train()
    step_s = _seconds_per_call(step, args.warmup, args.steps, device)

    net.eval()
    volume = torch.randn(1, args.volume, args.volume, args.volume, device=device)
    views = {"axial": net, "coronal": net, "sagittal": net}

    def infer() -> None:
        with autocast:
            predict_volume(views, volume, args.classes, batch_size=args.infer_batch, prob_dtype=torch.float16)

    volume_s = _seconds_per_call(infer, min(args.warmup, 1), args.infer_repeats, device)
    return {"network": spec, "attention": attention, "dtype": dtype, "channels_last": channels_last,
            "compile": compiled, "step_s": step_s, "slices_per_s": args.batch / step_s, "volume_s": volume_s}


def _onoff(flag: bool) -> str:
    return "on" if flag else "off"


def tables(rows: list[dict], args) -> str:
    lines = [f"| network | attention | dtype | channels-last | compile | step ms | train slices/s | "
             f"3-view {args.volume}^3 s | volumes/s |", "|---|---|---|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['network']} | {r['attention']} | {r['dtype']} | {_onoff(r['channels_last'])} | "
                     f"{_onoff(r['compile'])} | {1000 * r['step_s']:.1f} | {r['slices_per_s']:.1f} | "
                     f"{r['volume_s']:.3f} | {1 / r['volume_s']:.3f} |")
    lines += ["", "| network | dtype | channels-last | compile | scSE step time vs none |", "|---|---|---|---|---:|"]
    key = ("network", "dtype", "channels_last", "compile")
    by_key = {(tuple(r[k] for k in key), r["attention"]): r for r in rows}
    for (options, attention), r in by_key.items():
        if attention == "scse" and (options, "none") in by_key:
            ratio = r["step_s"] / by_key[(options, "none")]["step_s"]
            net, dtype, cl, comp = options
            lines.append(f"| {net} | {dtype} | {_onoff(cl)} | {_onoff(comp)} | {100 * (ratio - 1):+.1f} % |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny CPU settings (a smoke test of the script)")
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--networks", nargs="+", default=NETWORKS, help="name:preset entries")
    parser.add_argument("--attention", nargs="+", default=["none", "scse"], choices=["none", "scse"])
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=list(DTYPES))
    parser.add_argument("--channels-last", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument("--compile", nargs="+", default=None, choices=["off", "on"],
                        help="default: off on (--quick: off; inductor takes minutes per network on a CPU)")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--volume", type=int, default=256)
    parser.add_argument("--classes", type=int, default=28)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--infer-repeats", type=int, default=3)
    parser.add_argument("--infer-batch", type=int, default=16, help="slices per forward pass in inference")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    args = parser.parse_args()
    if args.quick:
        args.device = args.device or "cpu"
        args.size, args.batch, args.volume, args.steps, args.warmup, args.infer_repeats = 16, 2, 16, 1, 1, 1
        args.threads = args.threads or 1
        args.compile = args.compile or ["off"]
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    args.compile = args.compile or ["off", "on"]
    if args.threads:
        torch.set_num_threads(args.threads)
    if "on" in args.compile and compiler_problem(torch.device(args.device).type):
        parser.error(f"--compile on: {compiler_problem(torch.device(args.device).type)}")
    if args.device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # fixed-size slices, as in training (medseg sets it for conformed 2D)
        where = torch.cuda.get_device_name(torch.device(args.device))
    else:
        where = f"CPU {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    grid = itertools.product(args.networks, args.attention, args.dtypes,
                             [c == "on" for c in args.channels_last], [c == "on" for c in args.compile])
    rows = [measure(spec, att, dtype, cl, comp, args) for spec, att, dtype, cl, comp in grid]
    print(f"torch {torch.__version__}, {where}; train: batch {args.batch} x 1 x {args.size}^2, {args.classes} classes, "
          f"SGD, mean of {args.steps} steps after {args.warmup} warm-up; inference: 3 views of {args.volume}^3, "
          f"batch {args.infer_batch}, float16 buffer, mean of {args.infer_repeats}\n")
    print(tables(rows, args))


if __name__ == "__main__":
    main()
