"""Time-to-Dice curves (issue 24): medseg and its peers on the same manifest, held-out subjects and Dice code.

One run per system, trained for ``--budget`` seconds of wall time (default 45 minutes) with its weights saved
when each of ``--points`` seconds (default 5, 15 and 45 minutes) has passed; each saved state is scored on the
manifest's test subjects by :func:`medseg.eval.metrics.dice_per_structure`. Systems, one at a time, never two
trainings at once:

- ``medseg-demo``: the demo's recipe (QuickNAT + scSE, experiments/demo.yaml), the budget as ``trainer.max_time``
  (its poly decay follows the clock), :class:`medseg.engine.callbacks.WallClockCheckpoints` for the points;
- ``medseg-grid``: the scSE grid's recipe (experiments/scse_miccai2018/base_brain.yaml: QuickNAT, no attention),
  likewise under the budget instead of its 40 epochs;
- ``nnunet``: nnU-Net v2 2D with its own plan, NoMirroring, the budget trainer (benchmarks/nnunet/);
- ``nnunet-capacity``: the same with its plan edited to medseg's capacity (:func:`capacity_plans`: 16 base
  features doubling per stage up to 256, medseg's batch of 16): capacity equal, recipe different;
- ``monai``: the MONAI-tutorial recipe of benchmarks/peers/monai_recipe.py.

The clocks start when training starts (after each system's own data loading and, for nnU-Net, planning and
preprocessing, which are recorded separately). nnU-Net saves at the first epoch end past a point (epochs of
``--nnunet-iters`` iterations), medseg at the first batch past it; the final point is each run's last weights.
Results accumulate in ``WORK/results.json`` (a system already there is not run again; the default WORK,
benchmarks/results/vs_peers, is committed as systems land, its run folders ignored, so the run can span
sittings); the script prints a Markdown table of mean Dice per point and per structure at the last point, and
draws ``WORK/time_to_dice.png``. Each system's entry records the machine it ran on (:func:`machine`: CPU model and
vector extensions, torch, threads); ``--combine`` draws the table and figure of runs made on several machines
together (a system seen on two kinds of CPU is labelled by its CPU).

    medseg synth --kind brain --out data/brain_pv --subjects 20 --resolution 2 --seed 0
    python3 -m venv /work/nnunet-venv && /work/nnunet-venv/bin/pip install torch==2.13.0 nnunetv2 \\
      && /work/nnunet-venv/bin/pip install torch==2.13.0
    .venv/bin/python benchmarks/vs_peers.py --manifest data/brain_pv/dataset.json   # ~4.5 h; --systems S... for a part
    .venv/bin/python benchmarks/vs_peers.py --quick true      # the suite's smoke run (medseg and MONAI, seconds)
    .venv/bin/python benchmarks/vs_peers.py --combine A/results.json B/results.json --work C   # C/time_to_dice.png

(nnU-Net 2.8.1's install took 19 min here beside a training, 2 CPU minutes, and ends with pip's warning that
torchvision wants a newer torch: harmless, nothing on this path imports torchvision. Checked end to end on 32^3
phantoms with ``--systems nnunet nnunet-capacity --budget 60 --points 20 60 --nnunet-iters 2``: plan, both
trainings, the saved points predicted and scored.)
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from medseg.atomic import atomic_write, save_figure

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vs_nnunet  # noqa: E402  (the nnU-Net conversion, runner and scoring of the 10-minute comparison)

ROOT = vs_nnunet.ROOT
SYSTEMS = ("medseg-demo", "medseg-grid", "nnunet", "nnunet-capacity", "monai")
CONFIGS = {"medseg-demo": ROOT / "experiments" / "demo.yaml",
           "medseg-grid": ROOT / "experiments" / "scse_miccai2018" / "base_brain.yaml"}  # fmt: skip
CAPACITY_PLANS = "nnUNetPlansMedsegCapacity"


def capacity_plans(plans: dict, features: int = 16, cap: int = 256, batch: int = 16) -> dict:
    """nnU-Net plans with the 2D configuration narrowed to medseg's capacity under a new plans name.

    ``features_per_stage`` becomes ``min(features * 2**i, cap)`` for each of the plan's stages and the batch
    ``batch``; the data identifier is kept, so the preprocessed data of the original plan is reused.
    """
    edited = copy.deepcopy(plans)
    edited["plans_name"] = CAPACITY_PLANS
    config = edited["configurations"]["2d"]
    arch = config["architecture"]["arch_kwargs"]
    arch["features_per_stage"] = [min(features * 2**i, cap) for i in range(arch["n_stages"])]
    config["batch_size"] = batch
    return edited


def point_name(seconds: float) -> str:
    """``5 min`` for whole minutes, ``20 s`` otherwise (short phantom checks)."""
    return f"{seconds / 60:g} min" if seconds % 60 == 0 else f"{seconds:g} s"


def medseg_system(name: str, work: Path, manifest: Path, budget: float, points: list[float], quick: bool) -> dict:
    """``medseg fit`` of the recipe under the budget, then ``medseg predict`` of each saved state."""
    from medseg.engine.predict_files import predict_files

    run_dir = work / name
    minutes = [p / 60 for p in points[:-1]]
    callbacks = [{"class_path": "medseg.engine.callbacks.WallClockCheckpoints", "init_args": {"minutes": minutes}}]
    hms = time.strftime("%H:%M:%S", time.gmtime(budget))
    fit = [sys.executable, "-m", "medseg.cli", "fit", "--config", str(CONFIGS[name]), "--data.manifest", str(manifest),
           "--trainer.default_root_dir", str(run_dir), "--trainer.max_time", f"00:{hms}", "--trainer.max_epochs", "100000",
           "--trainer.callbacks", json.dumps(callbacks), "--trainer.enable_progress_bar", "false"]  # fmt: skip
    if quick:
        fit += ["--trainer.max_steps", "3", "--trainer.limit_val_batches", "1"]
    wall = vs_nnunet.run(fit, log=work / f"{name}_fit.log")
    images = [str(s.image) for s in load_test(manifest)]
    scored = {}
    for point, checkpoint in zip(points, [f"at-{m:g}min.ckpt" for m in minutes] + ["last.ckpt"]):
        path = run_dir / "checkpoints" / checkpoint
        if not path.is_file():  # the fit ended (max_steps, or the recipe's own stop) before this point
            continue
        out = work / "predictions" / name / checkpoint.removesuffix(".ckpt")
        predict_files(images, str(out), str(run_dir), checkpoint=checkpoint, device="cpu")
        state = torch.load(path, map_location="cpu", weights_only=False)
        clock = next((v for k, v in state.get("callbacks", {}).items() if "WallClockCheckpoints" in k), {})
        scored[point_name(point)] = {"seconds": clock.get("seconds"), "steps": state.get("global_step"),
                                     "dice": vs_nnunet.score(manifest, out)}  # fmt: skip
    return {"config": str(CONFIGS[name].relative_to(ROOT)), "wall_s": wall, "points": scored}


def nnunet_system(name: str, work: Path, manifest: Path, python: Path, budget: float, points: list[float],
                  iters: int) -> dict:  # fmt: skip
    """nnU-Net v2 2D under the budget (own plan or :func:`capacity_plans`), each saved state predicted."""
    nn = work / "nnunet"
    env = vs_nnunet.nnunet_env(nn, budget, iters, save_at=points[:-1])
    version = vs_nnunet.install_trainer(python)
    pre = nn / "nnUNet_preprocessed" / vs_nnunet.DATASET
    times = {}
    if not (pre / "nnUNetPlans.json").is_file():  # planned and preprocessed once, for both nnU-Net systems
        times["plan_preprocess_s"] = vs_nnunet.plan_preprocess(manifest, nn, python, env)
    plans_name = "nnUNetPlans"
    if name == "nnunet-capacity":
        plans_name = CAPACITY_PLANS
        plans = json.loads((pre / "nnUNetPlans.json").read_text())
        (pre / f"{CAPACITY_PLANS}.json").write_text(json.dumps(capacity_plans(plans), indent=1))
    times["train_s"] = vs_nnunet.train(python, env, plans_name, work / f"{name}_train.log")
    checkpoints = [f"checkpoint_at_{p:g}s.pth" for p in points[:-1]] + ["checkpoint_final.pth"]
    results = nn / "nnUNet_results" / vs_nnunet.DATASET / f"{vs_nnunet.TRAINER}__{plans_name}__2d" / "fold_0"
    scored = {}
    for point, checkpoint in zip(points, checkpoints):
        if not (results / checkpoint).is_file():
            continue
        out = work / "predictions" / name / checkpoint.removesuffix(".pth")
        vs_nnunet.predict(nn, python, env, plans_name, checkpoint, out, work / f"{name}_predict.log")
        state = torch.load(results / checkpoint, map_location="cpu", weights_only=False)
        scored[point_name(point)] = {"seconds": None, "epochs": state.get("current_epoch"), "dice": vs_nnunet.score(manifest, out)}
    arch = json.loads((pre / f"{plans_name}.json").read_text())["configurations"]["2d"]
    return {"version": version, "plans": plans_name, "features": arch["architecture"]["arch_kwargs"]["features_per_stage"],
            "batch_size": arch["batch_size"], "times": times, "points": scored}  # fmt: skip


def monai_system(work: Path, manifest: Path, budget: float, points: list[float], quick: bool) -> dict:
    """benchmarks/peers/monai_recipe.py under the budget; its own results.json, re-keyed by point."""
    out = work / "monai"
    command = [sys.executable, str(ROOT / "benchmarks" / "peers" / "monai_recipe.py"), "--manifest", str(manifest),
               "--work", str(out), "--budget", f"{budget:g}", "--save-at", *(f"{p:g}" for p in points)]  # fmt: skip
    if quick:
        command += ["--max-steps", "3"]
    wall = vs_nnunet.run(command, log=work / "monai.log")
    saved = json.loads((out / "results.json").read_text())["checkpoints"]
    scored = {point_name(p): {"seconds": saved[k]["seconds"], "steps": saved[k]["steps"], "dice": saved[k]["dice"]}
              for p in points if (k := f"weights_{p:g}s") in saved}  # fmt: skip
    return {"recipe": "benchmarks/peers/monai_recipe.py", "wall_s": wall, "points": scored}


def machine() -> dict:
    """What a system's times depend on: the CPU model and vector extensions, torch and its thread count."""
    from medseg.engine.precision import cpu_isa, cpu_model

    return {"cpu": cpu_model(), "isa": cpu_isa(), "torch": torch.__version__, "threads": torch.get_num_threads()}


def label(system: str, r: dict) -> str:
    """The system's name, with its CPU's widest extension where the run recorded one (runs of several machines
    in one figure)."""
    isa = r.get("machine", {}).get("isa")
    return f"{system} ({isa[0].upper().replace('_', '-')} CPU)" if isa else system


def combine(paths: list[Path]) -> dict:
    """Several results.json in one mapping keyed by :func:`label`; two runs under one label are an error."""
    merged: dict = {}
    for path in paths:
        for system, r in json.loads(path.read_text()).items():
            key = label(system, r)
            if key in merged:
                raise ValueError(f"{path}: {key!r} is in an earlier --combine file too, on the same kind of CPU")
            merged[key] = r
    return merged


def load_test(manifest: Path) -> list:
    from medseg.data import load_manifest

    return load_manifest(manifest).splits["test"]


def table(results: dict, points: list[float]) -> str:
    """Mean foreground Dice per system and point, then per structure at the last point reached."""
    names = [point_name(p) for p in points]
    lines = ["| system | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    for system, r in results.items():
        cells = [f"{vs_nnunet.mean_foreground(r['points'][n]['dice']):.3f}" if n in r["points"] else "–" for n in names]
        lines.append(f"| {system} | " + " | ".join(cells) + " |")
    last = {s: r["points"][max(r["points"], key=lambda n: names.index(n))] for s, r in results.items() if r["points"]}
    if last:
        structures = list(next(iter(last.values()))["dice"])
        lines += ["", "| structure (last point) | " + " | ".join(last) + " |", "|---|" + "---:|" * len(last)]
        for name in structures:
            lines.append(f"| {name} | " + " | ".join(f"{np.nanmean(p['dice'][name]):.3f}" for p in last.values()) + " |")
    return "\n".join(lines)


def plot(results: dict, points: list[float], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for system, r in results.items():
        xs = [p / 60 for p in points if point_name(p) in r["points"]]
        ys = [vs_nnunet.mean_foreground(r["points"][point_name(p)]["dice"]) for p in points if point_name(p) in r["points"]]
        ax.plot(xs, ys, marker="o", label=system, linestyle="--" if "machine" in r else "-")
    ax.set(xlabel="training wall time (minutes, 2 CPU cores)", ylabel="held-out mean Dice", ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small")  # beside the axes: curves span them
    fig.tight_layout()
    save_figure(fig, path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--manifest", type=Path, default=ROOT / "data" / "brain_pv" / "dataset.json")
    p.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "results" / "vs_peers",
                   help="results.json, logs and the figure (committed); run folders below it (ignored)")
    p.add_argument("--systems", nargs="+", default=list(SYSTEMS), choices=SYSTEMS)
    p.add_argument("--budget", type=float, default=2700.0, help="training wall seconds per system")
    p.add_argument("--points", type=float, nargs="+", default=[300.0, 900.0, 2700.0], help="seconds; the last is the budget")
    p.add_argument("--nnunet-python", type=Path, default=Path("/work/nnunet-venv/bin/python"))
    p.add_argument("--nnunet-iters", type=int, default=10, help="nnU-Net iterations per epoch")
    p.add_argument("--quick", type=lambda s: s.lower() == "true", default=False)
    p.add_argument("--combine", type=Path, nargs="+", help="runs nothing: the table and WORK/time_to_dice.png of "
                   "these results.json together (runs of several machines)")
    a = p.parse_args(argv)
    if a.combine:
        missing = [str(f) for f in a.combine if not f.is_file()]
        if missing:
            p.error(f"--combine: {', '.join(missing)} not found")
        try:
            results = combine(a.combine)
        except ValueError as e:
            p.error(f"--combine: {e}")
        a.work.mkdir(parents=True, exist_ok=True)
        print(table(results, sorted(a.points)))
        plot(results, sorted(a.points), a.work / "time_to_dice.png")
        return 0
    if a.quick:  # 32^3 phantoms, 3 steps (max_steps ends the fit, not the clock): the first step and the end
        a.budget, a.points = 3600.0, [0.0, 3600.0]
        a.manifest, a.systems = a.work / "quick_data" / "dataset.json", [s for s in a.systems if not s.startswith("nnunet")]
        if not a.manifest.is_file():
            vs_nnunet.run([sys.executable, "-m", "medseg.cli", "synth", "--kind", "malc", "--out", str(a.manifest.parent),
                           "--subjects", "4", "--size", "32", "--validation", "1", "--test", "1", "--seed", "0"])  # fmt: skip
    points = sorted(a.points)
    if points[-1] != a.budget:
        p.error(f"--points: the last point ({points[-1]:g} s) must be the budget ({a.budget:g} s)")
    if not a.manifest.is_file():
        p.error(f"--manifest {a.manifest} not found (see the module docstring to make it)")
    if any(s.startswith("nnunet") for s in a.systems) and not a.nnunet_python.is_file():
        p.error(f"--nnunet-python {a.nnunet_python} not found (see the module docstring to install nnU-Net beside medseg)")
    a.work.mkdir(parents=True, exist_ok=True)
    results_path = a.work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    for system in a.systems:
        if system in results:
            print(f"{system}: in {results_path}, not run again", flush=True)
            continue
        if system.startswith("medseg"):
            results[system] = medseg_system(system, a.work, a.manifest, a.budget, points, a.quick)
        elif system.startswith("nnunet"):
            results[system] = nnunet_system(system, a.work, a.manifest, a.nnunet_python, a.budget, points, a.nnunet_iters)
        else:
            results[system] = monai_system(a.work, a.manifest, a.budget, points, a.quick)
        results[system]["machine"] = machine()
        atomic_write(results_path, json.dumps(results, indent=1))
    print(table(results, points))
    plot(results, points, a.work / "time_to_dice.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
