"""CPU precision and layout (issue 24): QuickNAT training steps in float32 vs ``bf16-mixed``, each with and
without channels-last, measured as ratios in one run; then the held-out Dice of a short fit in each setting.

Steps: forward + backward + Adam update of QuickNAT (kernel 5, depth 4, no attention) on ``--batch`` random
1 x ``--size`` x ``--size`` slices, under ``torch.autocast("cpu", torch.bfloat16)`` for bf16 (what Lightning's
``bf16-mixed`` does on CPU), the loss in float32. The four settings are timed round-robin (one step each per
round, ``--repeats`` rounds after ``--warmup``), so load drift hits them alike; the table gives median step
times and each median's ratio to float32. With ``--fit true``, ``medseg fit`` of the demo recipe
(experiments/demo.yaml: 200 s budget) in each of ``--settings`` on ``--manifest`` for each of ``--seeds``, then
``medseg test`` of its best checkpoint: held-out mean Dice and the epochs the budget allowed; with several seeds,
each setting's mean and seed std, and its Dice and fit time paired by seed against float32.

    .venv/bin/python benchmarks/cpu_precision.py --features 16 64 --threads 2
    .venv/bin/python benchmarks/cpu_precision.py --features 16 --fit true --manifest data/brain_pv/dataset.json
    .venv/bin/python benchmarks/cpu_precision.py --features 16 --fit true --settings float32 bf16-mixed --seeds 0 1 2
    .venv/bin/python benchmarks/cpu_precision.py --quick true --out /tmp/cpu_precision    # the suite's smoke run

Tables, a JSON of every figure and ``cpu_precision.png`` (step ratios; Dice against fit time) go to ``--out``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from medseg.atomic import atomic_write, save_figure
from medseg.engine.precision import cpu_isa
from medseg.nets import build_network

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = {  # name -> (bf16 autocast, channels-last)
    "float32": (False, False),
    "float32 + channels-last": (False, True),
    "bf16-mixed": (True, False),
    "bf16-mixed + channels-last": (True, True),
}


def make_step(features: int, bf16: bool, channels_last: bool, batch: int, size: int, classes: int,
              dtype: torch.dtype = torch.float32):
    """``(network, step)``: QuickNAT in the given setting and a closure running one training step of it (returns
    its wall seconds; the gradients stay on the network until the next step)."""
    torch.manual_seed(0)
    net = build_network("quicknat", 1, classes, attention="none", features=features, kernel_size=5, depth=4)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    net = net.to(dtype=dtype, memory_format=fmt)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    x = torch.randn(batch, 1, size, size, dtype=dtype).contiguous(memory_format=fmt)
    y = torch.randint(0, classes, (batch, size, size))
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext

    def step() -> float:
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        with autocast():
            logits = net(x)
        torch.nn.functional.cross_entropy(logits.to(dtype), y).backward()
        optimizer.step()
        return time.perf_counter() - start

    return net, step


def time_settings(features: int, args: argparse.Namespace) -> dict[str, float]:
    """Median step seconds per setting, the settings timed round-robin."""
    steps = {name: make_step(features, *flags, args.batch, args.size, args.classes)[1] for name, flags in SETTINGS.items()}
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            times[name].append(step())
    return {name: statistics.median(t) for name, t in times.items()}


def short_fit(name: str, manifest: str, work: Path, seed: int = 0) -> dict:
    """The demo recipe under its 200 s budget in one setting and seed, then ``medseg test`` of the best checkpoint."""
    bf16, channels_last = SETTINGS[name]
    run_dir = work / f"{name.replace(' + ', '-')}-seed{seed}"
    if run_dir.exists():  # a fit there would resume its checkpoint, and its time would not be a fit's
        raise SystemExit(f"{run_dir} exists (an earlier fit): remove it or choose another --work")
    common = ["--config", str(ROOT / "experiments" / "demo.yaml"), "--data.manifest", manifest, "--seed_everything", str(seed),
              "--trainer.default_root_dir", str(run_dir), "--trainer.precision", "bf16-mixed" if bf16 else "32-true",
              "--model.channels_last", str(channels_last).lower(), "--trainer.enable_progress_bar", "false"]  # fmt: skip
    with (work / f"{run_dir.name}.log").open("w") as log:
        for command in (["fit", *common], ["test", *common, "--ckpt_path", str(run_dir / "checkpoints" / "best.ckpt")]):
            done = subprocess.run([sys.executable, "-m", "medseg.cli", *command], stdout=log, stderr=subprocess.STDOUT)
            if done.returncode != 0:
                raise SystemExit(f"{name}: medseg {command[0]} failed ({done.returncode}); see {log.name}")
    summary = json.loads((run_dir / "results" / "summary.json").read_text())
    training = json.loads((run_dir / "results" / "training.json").read_text())
    return {"seed": seed, "mean_dice": summary["mean_dice"], "epochs": training.get("epochs"),
            "train_seconds": training.get("train_seconds")}


def _mean_std(values: list[float]) -> str:
    return f"{statistics.fmean(values):.3f}" + (f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else "")


def fit_rows(fits: dict[str, list[dict]]) -> list[str]:
    """Markdown rows: per setting, epochs, fit seconds and Dice over the seeds; vs float32 paired by seed."""
    base = {r["seed"]: r for r in fits.get("float32", [])}
    rows = []
    for name, runs in fits.items():
        paired = [(r, base[r["seed"]]) for r in runs if r["seed"] in base] if name != "float32" else []
        ratio = f"{statistics.fmean(r['train_seconds'] / b['train_seconds'] for r, b in paired):.2f}x" if paired else "–"
        delta = f"{statistics.fmean(r['mean_dice'] - b['mean_dice'] for r, b in paired):+.3f}" if paired else "–"
        rows.append(f"| {name} | {len(runs)} | {'/'.join(str(r['epochs']) for r in runs)} | "
                    f"{statistics.fmean(r['train_seconds'] for r in runs):.1f} | {ratio} | "
                    f"{_mean_std([r['mean_dice'] for r in runs])} | {delta} |")
    return rows


def plot(steps: dict[int, dict[str, float]], fits: dict[str, dict], path: Path) -> None:
    """Step time vs float32 per setting and width; with fits, held-out Dice against fit seconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2 if fits else 1, figsize=(11 if fits else 6, 3.8), squeeze=False)
    ax, width = axes[0][0], 0.8 / max(1, len(steps))
    for i, (features, medians) in enumerate(steps.items()):
        ratios = [medians[name] / medians["float32"] for name in SETTINGS]
        ax.bar([k + i * width for k in range(len(SETTINGS))], ratios, width, label=f"QuickNAT {features} features")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set_xticks([k + width * (len(steps) - 1) / 2 for k in range(len(SETTINGS))], [n.replace(" + ", "\n+ ") for n in SETTINGS])
    ax.set(ylabel="training step time vs float32", title="bare QuickNAT step, this CPU")
    ax.legend(fontsize=8)
    if fits:
        ax = axes[0][1]
        for name, runs in fits.items():
            ax.scatter([r["train_seconds"] for r in runs], [r["mean_dice"] for r in runs], label=name)
        seeds = max(len(runs) for runs in fits.values())
        ax.set(xlabel="fit training seconds (demo recipe)", ylabel="held-out mean Dice",
               title=f"short fits, {seeds} seed{'s' if seeds > 1 else ''} per setting")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--features", type=int, nargs="+", default=[16, 64])
    p.add_argument("--batch", type=int, default=8, help="slices per step (the demo's batch)")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--classes", type=int, default=28)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--fit", type=lambda s: s.lower() == "true", default=False)
    p.add_argument("--settings", nargs="+", default=list(SETTINGS), choices=list(SETTINGS), help="settings of the fits")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="seeds of the fits (each setting once per seed)")
    p.add_argument("--manifest", default="data/brain_pv/dataset.json")
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "cpu_precision")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "cpu_precision",
                   help="cpu_precision.{json,md,png}")  # fmt: skip
    p.add_argument("--quick", type=lambda s: s.lower() == "true", default=False, help="the suite's smoke run: tiny, no fits")
    a = p.parse_args(argv)
    if a.quick:
        a.features, a.batch, a.size, a.warmup, a.repeats, a.fit = [4], 2, 32, 1, 2, False
    torch.set_num_threads(a.threads)
    isa = cpu_isa()
    lines = [f"torch {torch.__version__}, {a.threads} threads, CPU flags: {', '.join(isa) or 'unknown'}; "
             f"batch {a.batch} x 1 x {a.size}^2, {a.repeats} rounds after {a.warmup} warm-up",
             "", "| QuickNAT features | setting | step ms (median) | vs float32 |", "|---:|---|---:|---:|"]  # fmt: skip
    print("\n".join(lines), flush=True)
    steps: dict[int, dict[str, float]] = {}
    for features in a.features:
        steps[features] = medians = time_settings(features, a)
        for name, seconds in medians.items():
            lines.append(f"| {features} | {name} | {seconds * 1e3:.0f} | {seconds / medians['float32']:.2f}x |")
            print(lines[-1], flush=True)
    fits: dict[str, list[dict]] = {}
    if a.fit:
        if not Path(a.manifest).is_file():
            p.error(f"--manifest {a.manifest} not found (medseg synth --kind brain --out data/brain_pv --subjects 20 --resolution 2 --seed 0)")
        a.work.mkdir(parents=True, exist_ok=True)
        for seed in a.seeds:  # seed by seed, so a stopped run leaves whole pairs
            for name in a.settings:
                fits.setdefault(name, []).append(r := short_fit(name, a.manifest, a.work, seed))
                print(f"{name}, seed {seed}: {r['epochs']} epochs, {r['train_seconds']:.1f} s, Dice {r['mean_dice']:.3f}", flush=True)
        lines += ["", "| setting (demo recipe, 200 s) | seeds | epochs | fit train seconds (mean) | vs float32 (paired) | "
                  "held-out mean Dice (± seed std) | ΔDice vs float32 (paired) |", "|---|---:|---:|---:|---:|---:|---:|",
                  *fit_rows(fits)]  # fmt: skip
        print("\n".join(lines[-len(fits) - 3:]), flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    result = {"torch": torch.__version__, "threads": a.threads, "cpu_flags": isa, "batch": a.batch, "size": a.size,
              "step_s": {str(f): m for f, m in steps.items()}, "fits": fits}  # fmt: skip
    atomic_write(a.out / "cpu_precision.json", json.dumps(result, indent=1))
    atomic_write(a.out / "cpu_precision.md", "\n".join(lines) + "\n")
    plot(steps, fits, a.out / "cpu_precision.png")
    print(f"wrote {a.out}/cpu_precision.{{json,md,png}}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
