"""Transfer check (issue 21): networks trained on generated brains, scored on a real brain no generator sees.

The held-out scan is the ICBM 2009a template with its own grey/white-matter maps (nilearn's wheel, fetched
once into the verified cache: :mod:`medseg.data.brain.transfer_scan`), prepared as the subjects are (same
resolution, crop and scale) but without warp or intensity changes. Each run's prediction, merged into
grey and white matter, is scored by Dice against the maps' hard classification, beside three overlays by
MNI coordinates: the Neuromorphometrics atlas (no image information) and the harmonised labels of each
training template (what copying the unwarped training labels would score).

Runs are grid run folders. Their weights (``D/checkpoints/<checkpoint>``) are git-ignored; with
``--refit true`` a run without them is fitted again from its ``run_config.yaml`` into ``--scratch/<name>``
(the same config and seed: the refit's best validation Dice is printed beside the committed one). Rows are
resumable: a run already in ``--out/transfer.csv`` is not scored again.

    medseg synth --kind brain --out data/brain_pv --subjects 20 --resolution 2 --seed 0
    .venv/bin/python benchmarks/transfer.py --runs 'docs/results/scse_brain_pv/runs/*' --refit true \\
        --out benchmarks/results/transfer
    .venv/bin/python benchmarks/transfer.py --quick true      # the suite's smoke run: one 2-batch fit
"""

from __future__ import annotations

import argparse
import csv
import glob
import io
import math
import statistics
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import yaml

from medseg.atomic import atomic_write, save_figure
from medseg.data.brain.transfer_scan import TISSUES, atlas_overlay, prepare_scan, template_overlay, tissue
from medseg.engine.predict_files import predict_files
from medseg.eval.convergence import read_curve
from medseg.eval.metrics import dice_per_structure

BASELINES = {
    "atlas overlay (Neuromorphometrics, no image)": lambda source, res: atlas_overlay(source),
    "MNI152 harmonised labels overlaid": lambda source, res: template_overlay(source, res, 0),
    "ICBM 2009c harmonised labels overlaid": lambda source, res: template_overlay(source, res, 1),
}
FIELDS = ["row", "kind", "cell", "seed", "weights", "val_committed", "val_refit",
          *(f"dice_{t.replace(' ', '_')}" for t in TISSUES[1:]), "dice_mean"]  # fmt: skip


def cell_of(config: dict) -> str:
    """``unet (features=16) scse``-style name of a run's network, width and attention."""
    net = config["model"]["network"]
    width = (net.get("options") or {}).get("features", "?")
    return f"{net['name']} (features={width}) {net.get('attention', 'none')}"


def best_val(run_dir: Path) -> float | None:
    """The best ``val/mean_dice`` in a run's CSV logs (None when there is none)."""
    values = read_curve(run_dir).val_dice
    return max(values) if values else None


def weights_of(run_dir: Path, checkpoint: str, refit: bool, scratch: Path) -> tuple[Path | None, str]:
    """(folder holding ``checkpoints/<checkpoint>``, where it came from); fits the run again when allowed."""
    if (run_dir / "checkpoints" / checkpoint).is_file():
        return run_dir, "run"
    again = scratch / run_dir.name
    if not (again / "checkpoints" / checkpoint).is_file():
        if not refit:
            return None, "missing"
        again.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "medseg.cli", "fit", "--config", str(run_dir / "run_config.yaml"),
                   "--trainer.default_root_dir", str(again)]  # fmt: skip
        print(f"refit {run_dir.name} -> {again}", flush=True)
        with open(again / "refit.log", "w") as log:
            if subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode != 0:
                raise SystemExit(f"refit of {run_dir} failed; see {again / 'refit.log'}")
    return again, "refit"


def predicted_tissue(model_dir: Path, checkpoint: str, scan: Path, out: Path) -> np.ndarray:
    """The run's prediction of ``scan`` merged into tissues (``out/<scan name>.nii.gz`` is its label map)."""
    predict_files([str(scan)], str(out), str(model_dir), checkpoint=checkpoint, device="cpu")
    labels = np.asarray(nib.load(str(out / scan.name)).dataobj)
    return tissue(labels)


def read_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_rows(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, FIELDS, lineterminator="\r\n")  # csv's default line ends, as before
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, buffer.getvalue())


def tissue_dice(prediction: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Dice of grey and white matter (tissue ids, medseg's ``dice_per_structure``) and their mean."""
    dice = dice_per_structure(np.asarray(prediction), np.asarray(reference), len(TISSUES))
    scores = {TISSUES[t]: float(dice[t]) for t in (1, 2)}
    scores["mean"] = (scores[TISSUES[1]] + scores[TISSUES[2]]) / 2
    return scores


def score_row(row: str, kind: str, cell: str, prediction: np.ndarray, reference: np.ndarray, **extra) -> dict:
    dice = tissue_dice(prediction, reference)
    out = {"row": row, "kind": kind, "cell": cell, **extra}
    out.update({f"dice_{t.replace(' ', '_')}": f"{dice[t]:.4f}" for t in TISSUES[1:]})
    out["dice_mean"] = f"{dice['mean']:.4f}"
    return out


def summary_table(rows: list[dict]) -> str:
    """Markdown: one line per baseline and per cell (mean and seed std over its runs)."""
    lines = ["| row | runs | grey matter | white matter | mean GM/WM Dice | seed std |", "|---|---|---|---|---|---|"]
    for r in (r for r in rows if r["kind"] == "baseline"):
        lines.append(f"| {r['row']} | - | {float(r['dice_grey_matter']):.3f} | {float(r['dice_white_matter']):.3f} | "
                     f"{float(r['dice_mean']):.3f} | - |")
    cells: dict[str, list[dict]] = {}
    for r in (r for r in rows if r["kind"] == "run"):
        cells.setdefault(r["cell"], []).append(r)
    for cell, runs in cells.items():
        means = [float(r["dice_mean"]) for r in runs]
        gm = statistics.fmean(float(r["dice_grey_matter"]) for r in runs)
        wm = statistics.fmean(float(r["dice_white_matter"]) for r in runs)
        std = statistics.stdev(means) if len(means) > 1 else math.nan
        lines.append(f"| {cell} | {len(runs)} | {gm:.3f} | {wm:.3f} | {statistics.fmean(means):.3f} | {std:.3f} |")
    return "\n".join(lines) + "\n"


def figure(rows: list[dict], path: Path, image: np.ndarray, reference: np.ndarray, example: np.ndarray | None) -> None:
    """Left: mean GM/WM Dice per run (dots) by cell, baselines as lines. Right: a coronal slice of the scan,
    its reference tissue and the first run's predicted tissue."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(17, 4.8), gridspec_kw={"width_ratios": [2.2, 1, 1, 1]})
    cells = list(dict.fromkeys(r["cell"] for r in rows if r["kind"] == "run"))
    for i, cell in enumerate(cells):
        values = [float(r["dice_mean"]) for r in rows if r["cell"] == cell and r["kind"] == "run"]
        axes[0].plot([i] * len(values), values, "o", alpha=0.8)
    for r, style in zip((r for r in rows if r["kind"] == "baseline"), ("--", ":", "-.")):
        axes[0].axhline(float(r["dice_mean"]), color="grey", linestyle=style, label=f"{r['row']} {float(r['dice_mean']):.3f}")
    axes[0].set_xticks(range(len(cells)), cells, rotation=25, ha="right", fontsize=8)
    axes[0].set_ylabel("mean GM/WM Dice on ICBM 2009a")
    axes[0].legend(fontsize=7, loc="lower right")
    k = image.shape[1] // 2
    panels = [(image[:, k].T, "ICBM 2009a T1 (coronal)", "gray"), (reference[:, k].T, "reference tissue", "viridis")]
    if example is not None:
        panels.append((example[:, k].T, f"prediction: {cells[0] if cells else ''}", "viridis"))
    for ax, (data, title, cmap) in zip(axes[1:], panels):
        ax.imshow(data, origin="lower", cmap=cmap, interpolation="nearest", **({} if cmap == "gray" else {"vmin": 0, "vmax": 2}))
        ax.set_title(title, fontsize=9)
    for ax in axes[1:]:
        ax.axis("off")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def quick_run(out: Path) -> list[str]:
    """A 1-epoch, 4-feature U-Net (2 batches) on four 2 mm brains: the smoke test's only run."""
    data = out / "quick_data"
    if not (data / "dataset.json").is_file():
        subprocess.run([sys.executable, "-m", "medseg.cli", "synth", "--kind", "brain", "--out", str(data), "--subjects", "4",
                        "--resolution", "2", "--seed", "0"], check=True)  # fmt: skip
    run = out / "quick_run"
    if not (run / "checkpoints" / "last.ckpt").is_file():
        config = {"model": {"network": {"name": "unet", "attention": "none", "options": {"features": 4, "depth": 2}}},
                  "data": {"manifest": str(data / "dataset.json"), "plane": "coronal", "normalize": "minmax", "batch_size": 8},
                  "trainer": {"max_epochs": 1, "accelerator": "cpu", "default_root_dir": str(run), "enable_progress_bar": False,
                              "limit_train_batches": 2, "limit_val_batches": 1, "num_sanity_val_steps": 0}}  # fmt: skip
        run.mkdir(parents=True, exist_ok=True)
        (run / "run_config.yaml").write_text(yaml.safe_dump(config))
        subprocess.run([sys.executable, "-m", "medseg.cli", "fit", "--config", str(run / "run_config.yaml")], check=True)
    return [str(run)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="*", default=["docs/results/scse_brain_pv/runs/*"], help="run folders or globs")
    parser.add_argument("--checkpoint", default="best.ckpt")
    parser.add_argument("--refit", type=lambda s: s.lower() == "true", default=False)
    parser.add_argument("--scratch", default="runs/transfer", help="refitted runs, the prepared scan and the predictions")
    parser.add_argument("--resolution", type=float, default=2.0, help="mm; the runs' training resolution")
    parser.add_argument("--out", default="benchmarks/results/transfer")
    parser.add_argument("--quick", type=lambda s: s.lower() == "true", default=False)
    args = parser.parse_args(argv)
    out = Path(args.out if not args.quick or args.out != parser.get_default("out") else "runs/transfer_quick")
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        args.runs, args.resolution, args.checkpoint = quick_run(out), 2.0, "last.ckpt"
    image, reference, source = prepare_scan(args.resolution)
    work = Path(args.scratch) if not args.quick else out  # volumes derived from the scan stay out of the repo
    work.mkdir(parents=True, exist_ok=True)
    scan = work / "icbm2009a_t1.nii.gz"
    nib.save(nib.Nifti1Image(image, source.affine), str(scan))
    nib.save(nib.Nifti1Image(reference, source.affine), str(work / "icbm2009a_reference_tissue.nii.gz"))
    table = out / "transfer.csv"
    rows = [r for r in read_rows(table) if r["kind"] == "run"]
    done = {r["row"] for r in rows}
    names = list(BASELINES)[:1] if args.quick else list(BASELINES)  # quick: the atlas only (harmonising takes a minute)
    baselines = [score_row(name, "baseline", "", BASELINES[name](source, args.resolution), reference) for name in names]
    example = None
    folders = sorted({Path(p) for pattern in args.runs for p in glob.glob(pattern) if (Path(p) / "run_config.yaml").is_file()})
    for run_dir in folders:
        if run_dir.name in done:
            continue
        model_dir, where = weights_of(run_dir, args.checkpoint, args.refit, Path(args.scratch))
        if model_dir is None:
            print(f"skip {run_dir.name}: no checkpoints/{args.checkpoint} (pass --refit true to fit it again)")
            continue
        config = yaml.safe_load((run_dir / "run_config.yaml").read_text())
        prediction = predicted_tissue(model_dir, args.checkpoint, scan, work / "predictions" / run_dir.name)
        example = prediction if example is None else example
        committed, again = best_val(run_dir), best_val(model_dir) if where == "refit" else None
        rows.append(score_row(run_dir.name, "run", cell_of(config), prediction, reference, seed=config.get("seed_everything", ""),
                              weights=where, val_committed=f"{committed:.4f}" if committed is not None else "",
                              val_refit=f"{again:.4f}" if again is not None else ""))  # fmt: skip
        print(f"{run_dir.name}: mean GM/WM Dice {rows[-1]['dice_mean']} (weights: {where})", flush=True)
        write_rows(table, baselines + rows)
    write_rows(table, baselines + rows)
    (out / "transfer.md").write_text(summary_table(baselines + rows))
    figure(baselines + rows, out / "transfer.png", image, reference, example)
    print(summary_table(baselines + rows))
    print(f"wrote {table}, {out / 'transfer.md'} and {out / 'transfer.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
