"""medseg vs nnU-Net v2 (2D) on the same realistic brains, the same wall-clock budget, the same Dice code.

1. the manifest (default: ``medseg synth --kind brain --subjects 20 --resolution 2 --seed 0``, 10/2/8)
   becomes an nnU-Net raw dataset (training+validation subjects in imagesTr, test in imagesTs; class
   ids as labels) with ``splits_final.json`` = medseg's own training/validation split as fold 0;
2. nnU-Net: ``nnUNetv2_plan_and_preprocess -c 2d``, ``nnUNetv2_train ... 2d 0 -tr
   nnUNetTrainerMedsegBudget`` (NoMirroring + wall-clock budget, benchmarks/nnunet/), ``nnUNetv2_predict``;
3. medseg: ``medseg fit`` with ``--trainer.max_time`` = the budget, ``medseg predict --ckpt_path best``;
4. both scored by ``medseg.eval.metrics.dice_per_structure`` against the manifest's labels, on the
   original grid of each held-out subject. Writes ``WORK/results.json`` and prints a Markdown table.

nnU-Net lives in its own venv (``pip install -e .[bench]`` there, then put torch back to the CPU build):

    python3 -m venv /work/nnunet-venv && /work/nnunet-venv/bin/pip install torch==2.13.0 nnunetv2 \\
      && /work/nnunet-venv/bin/pip install torch==2.13.0
    .venv/bin/python benchmarks/vs_nnunet.py --nnunet-python /work/nnunet-venv/bin/python --budget 900

The two trainings run one after the other, never at once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASET = "Dataset501_MedsegBrain"


def convert(manifest_path: Path, raw: Path) -> dict:
    """The manifest as an nnU-Net v2 raw dataset (labels remapped to class ids); returns the splits."""
    from medseg.data import load_manifest, load_volume, remap_labels, write_volume

    manifest = load_manifest(manifest_path)
    out = raw / DATASET
    for folder in ("imagesTr", "labelsTr", "imagesTs"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    splits = {k: [s.id for s in v] for k, v in manifest.splits.items()}
    for split, subjects in manifest.splits.items():
        for s in subjects:
            image, affine = load_volume(s.image)
            folder = "imagesTs" if split == "test" else "imagesTr"
            write_volume(out / folder / f"{s.id}_0000.nii.gz", image[0], affine)
            if split != "test":
                label, label_affine = load_volume(s.label)
                write_volume(out / "labelsTr" / f"{s.id}.nii.gz", remap_labels(label[0], manifest.label_map), label_affine)
    dataset = {
        "channel_names": {"0": "T1"},
        "labels": {name: c for c, name in enumerate(manifest.class_names)},
        "numTraining": len(splits["training"]) + len(splits["validation"]),
        "file_ending": ".nii.gz",
    }
    (out / "dataset.json").write_text(json.dumps(dataset, indent=1))
    return splits


def run(cmd: list[str], env: dict | None = None, log: Path | None = None) -> float:
    """Run ``cmd`` (output to ``log``), fail loudly; returns its wall time in seconds."""
    print("$ " + " ".join(cmd), flush=True)
    start = time.perf_counter()
    with open(log, "w") if log else open(os.devnull, "w") as f:
        proc = subprocess.run(cmd, env={**os.environ, **(env or {})}, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f"failed ({proc.returncode}): {' '.join(cmd)}; see {log}")
    return time.perf_counter() - start


TRAINER = "nnUNetTrainerMedsegBudget"


def nnunet_env(nn: Path, budget: float, iters: int, batch: int | None = None, save_at: Sequence[float] = ()) -> dict:
    """nnU-Net's folders under ``nn``, 2 threads, and the budget trainer's settings (benchmarks/nnunet/)."""
    env = {"nnUNet_raw": str(nn / "nnUNet_raw"), "nnUNet_preprocessed": str(nn / "nnUNet_preprocessed"),
           "nnUNet_results": str(nn / "nnUNet_results"), "nnUNet_n_proc_DA": "2", "OMP_NUM_THREADS": "2",
           "MEDSEG_NNUNET_BUDGET_S": str(budget), "MEDSEG_NNUNET_ITERS": str(iters)}  # fmt: skip
    if batch:
        env["MEDSEG_NNUNET_BATCH"] = str(batch)
    if save_at:
        env["MEDSEG_NNUNET_SAVE_AT"] = ",".join(f"{p:g}" for p in save_at)
    return env


def install_trainer(python: Path) -> str:
    """Copy the budget trainer into the nnU-Net install of ``python``; returns nnunetv2's version."""
    code = "import nnunetv2, os, importlib.metadata as m; print(os.path.dirname(nnunetv2.__file__)); print(m.version('nnunetv2'))"
    site, version = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout.split()
    shutil.copy(ROOT / "benchmarks" / "nnunet" / f"{TRAINER}.py", Path(site) / "training" / "nnUNetTrainer")
    return version


def plan_preprocess(manifest: Path, nn: Path, python: Path, env: dict) -> float:
    """Convert the manifest, ``nnUNetv2_plan_and_preprocess -c 2d`` and write medseg's split as fold 0; seconds."""
    shutil.rmtree(nn / "nnUNet_raw", ignore_errors=True)
    splits = convert(manifest, nn / "nnUNet_raw")
    seconds = run([str(python.parent / "nnUNetv2_plan_and_preprocess"), "-d", "501", "-c", "2d", "-np", "2",
                   "--verify_dataset_integrity"], env, nn / "nnunet_plan.log")  # fmt: skip
    pre = nn / "nnUNet_preprocessed" / DATASET
    (pre / "splits_final.json").write_text(json.dumps([{"train": splits["training"], "val": splits["validation"]}]))
    return seconds


def train(python: Path, env: dict, plans: str, log: Path) -> float:
    """``nnUNetv2_train 501 2d 0`` with the budget trainer and plans ``plans`` on the CPU; seconds."""
    return run([str(python.parent / "nnUNetv2_train"), "501", "2d", "0", "-tr", TRAINER, "-p", plans, "-device", "cpu"],
               env, log)  # fmt: skip


def predict(nn: Path, python: Path, env: dict, plans: str, checkpoint: str, out: Path, log: Path) -> float:
    """``nnUNetv2_predict`` of the test images with one saved state (no test-time mirroring); seconds."""
    return run([str(python.parent / "nnUNetv2_predict"), "-i", str(nn / "nnUNet_raw" / DATASET / "imagesTs"), "-o", str(out),
                "-d", "501", "-c", "2d", "-f", "0", "-tr", TRAINER, "-p", plans, "-chk", checkpoint, "-device", "cpu",
                "--disable_tta", "-npp", "1", "-nps", "1"], env, log)  # fmt: skip


def nnunet_side(work: Path, manifest: Path, python: Path, budget: float, iters: int, batch: int | None = None) -> dict:
    """Plan, preprocess, train within ``budget`` seconds and predict the test subjects with nnU-Net 2D."""
    env = nnunet_env(work, budget, iters, batch)
    version = install_trainer(python)
    times = {"plan_preprocess_s": plan_preprocess(manifest, work, python, env)}
    times["train_s"] = train(python, env, "nnUNetPlans", work / "nnunet_train.log")
    out = work / "nnunet_predictions"
    times["predict_s"] = predict(work, python, env, "nnUNetPlans", "checkpoint_final.pth", out, work / "nnunet_predict.log")
    plans = json.loads((work / "nnUNet_preprocessed" / DATASET / "nnUNetPlans.json").read_text())["configurations"]["2d"]
    arch = plans["architecture"]["arch_kwargs"]
    plan = {k: plans[k] for k in ("patch_size", "batch_size", "spacing", "normalization_schemes")}
    plan.update(stages=arch["n_stages"], features=arch["features_per_stage"])
    if batch:
        plan["batch_size_used"] = batch
    return {"version": version, "plan": plan, "times": times, "predictions": out}


def medseg_side(work: Path, manifest: Path, config: Path, budget: float, overrides: list[str]) -> dict:
    """``medseg fit`` with ``trainer.max_time`` = budget, then ``medseg predict --ckpt_path best`` on the test split."""
    run_dir = work / "medseg"
    hms = time.strftime("%H:%M:%S", time.gmtime(budget))
    common = [sys.executable, "-m", "medseg.cli"]
    args = ["--config", str(config), "--data.manifest", str(manifest), "--trainer.default_root_dir", str(run_dir), *overrides]
    times = {"train_s": run([*common, "fit", *args, "--trainer.max_time", f"00:{hms}", "--trainer.max_epochs", "1000",
                             "--trainer.enable_progress_bar", "false"], log=work / "medseg_fit.log")}  # fmt: skip
    times["predict_s"] = run([*common, "predict", *args, "--ckpt_path", "best", "--data.predict_split", "test"],
                             log=work / "medseg_predict.log")  # fmt: skip
    return {"times": times, "predictions": run_dir / "predictions", "command": " ".join(["medseg fit", *args])}


def score(manifest_path: Path, predictions: Path) -> dict[str, list[float]]:
    """Dice per structure (class names) per held-out subject, by medseg's dice_per_structure."""
    from medseg.data import load_manifest, load_volume, remap_labels
    from medseg.eval.metrics import dice_per_structure

    manifest = load_manifest(manifest_path)
    table: dict[str, list[float]] = {name: [] for name in manifest.class_names[1:]}
    for s in manifest.splits["test"]:
        reference = remap_labels(load_volume(s.label)[0][0], manifest.label_map)
        predicted = load_volume(predictions / f"{s.id}.nii.gz")[0][0].astype(np.int64)
        if predicted.shape != reference.shape:
            raise SystemExit(f"{predictions}/{s.id}.nii.gz: shape {predicted.shape} != reference {reference.shape}")
        dice = dice_per_structure(predicted, reference, manifest.num_classes)
        for name, d in zip(manifest.class_names[1:], dice[1:]):
            table[name].append(float(d))
    return table


def mean_foreground(table: dict[str, list[float]]) -> float:
    """Mean over subjects of each subject's mean foreground Dice (medseg's summary definition)."""
    per_subject = np.array(list(table.values()), dtype=float).T
    return float(np.mean(np.nanmean(per_subject, axis=1)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--work", type=Path, default=ROOT / "runs" / "vs_nnunet")
    p.add_argument("--manifest", type=Path, help="default: 20 realistic brains at 2 mm in WORK/data")
    p.add_argument("--nnunet-python", type=Path, default=Path("/work/nnunet-venv/bin/python"))
    p.add_argument("--budget", type=float, default=900.0, help="training wall-clock budget per side, seconds")
    p.add_argument("--nnunet-iters", type=int, default=10, help="nnU-Net iterations per epoch")
    p.add_argument("--nnunet-batch", type=int, help="override nnU-Net's planned batch size")
    p.add_argument("--nnunet-key", default="nnunet", help="results.json key of this nnU-Net run")
    p.add_argument("--medseg-config", type=Path, default=ROOT / "experiments" / "base" / "quicknat_2d.yaml")
    p.add_argument("--medseg-override", nargs="*", default=[], help="extra --key value pairs for medseg fit")
    p.add_argument("--skip", choices=["nnunet", "medseg"], action="append", default=[])
    a = p.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    manifest = a.manifest or a.work / "data" / "dataset.json"
    if not manifest.is_file():
        from medseg.data.synth import synth

        synth(kind="brain", out=str(manifest.parent), subjects=20, resolution=2.0, seed=0)
    results_path = a.work / "results.json"
    results = json.loads(results_path.read_text()) if results_path.is_file() else {}
    if "nnunet" not in a.skip:
        side = nnunet_side(a.work, manifest, a.nnunet_python, a.budget, a.nnunet_iters, a.nnunet_batch)
        results[a.nnunet_key] = {**{k: v for k, v in side.items() if k != "predictions"}, "dice": score(manifest, side["predictions"])}
        results_path.write_text(json.dumps(results, indent=1))
    if "medseg" not in a.skip:
        side = medseg_side(a.work, manifest, a.medseg_config, a.budget, a.medseg_override)
        results["medseg"] = {**{k: v for k, v in side.items() if k != "predictions"}, "dice": score(manifest, side["predictions"])}
        results_path.write_text(json.dumps(results, indent=1))
    names = list(next(iter(results.values()))["dice"]) if results else []
    sides = ["medseg", *sorted(k for k in results if k != "medseg")] if "medseg" in results else sorted(results)
    print("| structure | " + " | ".join(sides) + " |\n|---|" + "---:|" * len(sides))
    for name in names:
        print(f"| {name} | " + " | ".join(f"{np.nanmean(results[s]['dice'][name]):.3f}" for s in sides) + " |")
    print("| **mean foreground** | " + " | ".join(f"**{mean_foreground(results[s]['dice']):.3f}**" for s in sides) + " |")
    print("| training wall time (s) | " + " | ".join(f"{results[s]['times']['train_s']:.0f}" for s in sides) + " |")


if __name__ == "__main__":
    main()
