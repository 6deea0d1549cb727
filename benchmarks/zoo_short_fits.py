"""Short fits of QuickNAT and U-Net (16 features) with each attention-zoo block of issue 23 and with deep
supervision, one after another; prints validation Dice per epoch and whether it rose (issue 23 acceptance).

Each run is ``medseg fit`` on ``--config`` (default: the realistic-brain base config) with the network,
attention, placement, options and loss keys below overridden, in ``--out/<network>-<run>``. A run whose
folder already holds a finished fit's metrics is not trained again (its curve is read back), so the script
resumes after an interruption. On realistic brains (prepared once, a download of the templates):

    medseg synth --kind brain --out data/brain_pv --subjects 20 --resolution 2 --seed 0
    .venv/bin/python benchmarks/zoo_short_fits.py --epochs 5 --out runs/zoo_short_fits

Smoke test of the script itself (seconds per run, on 32^3 phantoms):

    medseg synth --kind malc --out /tmp/malc32 --subjects 6 --size 32 --seed 0
    .venv/bin/python benchmarks/zoo_short_fits.py --manifest /tmp/malc32/dataset.json --epochs 1 \\
        --out /tmp/zoo_fits --extra --trainer.limit_train_batches 2 --trainer.limit_val_batches 1
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

NETWORKS = ("quicknat", "unet")
OPTIONS = {"features": 16, "kernel_size": 5, "depth": 4}
# run -> overrides of model.network (attention, placement, extra options) and model.loss
RUNS: dict[str, dict] = {
    "none": {"attention": "none"},
    "fpa": {"attention": "fpa", "placement": ["bottleneck"]},
    "gau": {"attention": "none", "options": {"skip_gate": "gau"}},
    "psanet": {"attention": "psanet", "placement": ["bottleneck"]},
    "encnet": {"attention": "encnet", "placement": ["encoder", "decoder"], "loss": {"se_loss": 0.2}},
    "danet_head": {"attention": "danet_head", "placement": ["bottleneck"], "loss": {"aux_weight": 1.0}},
    "deep_supervision": {"attention": "none", "loss": {"deep_supervision": [1, 0.5, 0.25, 0.125]}},
}


def cli_value(value: object) -> str:
    """A command-line value for jsonargparse: strings as they are, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def fit_args(network: str, run: str, args: argparse.Namespace, root: Path) -> list[str]:
    spec = RUNS[run]
    command = [
        sys.executable, "-m", "medseg.cli", "fit", "--config", args.config,
        "--model.network.name", network,
        "--model.network.attention", cli_value(spec["attention"]),
        "--model.network.options", json.dumps({**OPTIONS, **spec.get("options", {})}),
        "--data.manifest", args.manifest,
        "--trainer.max_epochs", str(args.epochs),
        "--trainer.default_root_dir", str(root),
    ]
    if "placement" in spec:
        command += ["--model.network.placement", json.dumps(spec["placement"])]
    for key, value in spec.get("loss", {}).items():
        command += [f"--model.loss.{key}", cli_value(value)]
    return command + list(args.extra)


def validation_curve(root: Path) -> list[float]:
    """val/mean_dice per epoch from the run's CSV log (the last version folder)."""
    logs = sorted((root / "csv").glob("version_*/metrics.csv"))
    if not logs:
        return []
    by_epoch: dict[int, float] = {}
    with logs[-1].open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("val/mean_dice"):
                by_epoch[int(row["epoch"])] = float(row["val/mean_dice"])
    return [by_epoch[e] for e in sorted(by_epoch)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="experiments/scse_miccai2018/base_brain.yaml")
    parser.add_argument("--manifest", default="data/brain_pv/dataset.json")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--out", default="runs/zoo_short_fits")
    parser.add_argument("--networks", nargs="+", default=list(NETWORKS), choices=NETWORKS)
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="further medseg fit arguments (last)")
    args = parser.parse_args()
    if not Path(args.manifest).is_file():
        parser.error(f"--manifest {args.manifest} not found (see the module docstring to make it)")
    results: list[tuple[str, list[float]]] = []
    for network in args.networks:
        for run in args.runs:
            root = Path(args.out) / f"{network}-{run}"
            curve = validation_curve(root) if (root / "results" / "training.json").is_file() else []
            if not curve:
                command = fit_args(network, run, args, root)
                print("$ " + " ".join(command), flush=True)
                done = subprocess.run(command, check=False)
                if done.returncode != 0:
                    print(f"{network}-{run}: medseg fit failed with exit code {done.returncode}", flush=True)
                    results.append((f"{network}-{run}", []))
                    continue
                curve = validation_curve(root)
            print(f"{network}-{run}: val/mean_dice per epoch " + ", ".join(f"{d:.4f}" for d in curve), flush=True)
            results.append((f"{network}-{run}", curve))
    print("\n| run | val/mean_dice per epoch | first -> last | rose |\n|---|---|---|---|")
    for name, curve in results:
        if not curve:
            print(f"| {name} | failed | | |")
            continue
        rose = "yes" if len(curve) > 1 and curve[-1] > curve[0] else ("n/a (1 epoch)" if len(curve) == 1 else "no")
        print(f"| {name} | {', '.join(f'{d:.3f}' for d in curve)} | {curve[0]:.3f} -> {curve[-1]:.3f} | {rose} |")
    return 0 if all(curve for _, curve in results) else 1


if __name__ == "__main__":
    sys.exit(main())
