"""``medseg demo`` (what ``make demo`` runs): realistic brains -> QuickNAT + scSE -> held-out Dice per structure.

Generates realistic brains (``medseg synth --kind brain``; the geometric phantoms when the templates
cannot be fetched, saying so), trains with ``experiments/demo.yaml`` through the same LightningCLI as
``medseg fit``, tests the best checkpoint on the held-out subjects as ``medseg test`` does, then prints the
per-structure table and writes a box plot and one held-out slice (image, reference, prediction).
``--kind torso``: the same on Visceral-like torsos from real CT (``medseg synth --kind torso``; the
Visceral phantoms when the scans cannot be fetched) with ``experiments/demo_torso.yaml`` and an axial slice.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"
DEMO_CONFIG = EXPERIMENTS / "demo.yaml"
# kind -> (default config, plane of the example slice)
KINDS = {"brain": (DEMO_CONFIG, "coronal"), "malc": (DEMO_CONFIG, "coronal"),
         "torso": (EXPERIMENTS / "demo_torso.yaml", "axial")}  # fmt: skip


def _table(run_dir: Path) -> tuple[str, dict[str, list[float]], float]:
    """The printed per-structure table, Dice values per structure, and the summary's mean Dice."""
    from medseg.eval.report import load_run

    run = load_run(run_dir)
    per_structure = {name: list(run.dice[name].values()) for name in run.structures}
    summary = json.loads((run_dir / "results" / "summary.json").read_text(encoding="utf-8"))
    width = max(len(s) for s in per_structure)
    lines = [f"{'structure':<{width}}  mean Dice  (min - max over the n subjects where it is defined)"]
    for name, values in per_structure.items():
        v = np.asarray(values, dtype=float)
        v = v[np.isfinite(v)]  # NaN: absent from both reference and prediction (outside the field of view)
        if v.size == 0:
            lines.append(f"{name:<{width}}        n/a  (absent from every held-out subject, n=0)")
        else:
            lines.append(f"{name:<{width}}  {v.mean():9.3f}  ({v.min():.3f} - {v.max():.3f}, n={v.size})")
    lines.append(f"{'mean foreground Dice':<{width}}  {summary['mean_dice']:9.3f}  over {summary['num_subjects']} held-out subjects")
    return "\n".join(lines), per_structure, float(summary["mean_dice"])


def _example_slice(cli, path: Path, plane: str = "coronal") -> None:
    """The first held-out subject's ``plane`` slice with the most classes: image, reference, prediction, shown
    radiologically with its sides lettered (from the volume's affine)."""
    import nibabel as nib
    import torch

    from medseg.atomic import save_figure
    from medseg.data.slicing import PLANE_AXIS
    from medseg.engine.postprocess import labels_from_probabilities
    from medseg.eval.plots import segmentation_figure

    model, volume = cli.model.eval(), cli.datamodule.volumes("test")[0]
    with torch.no_grad():
        probs = model.predict_probabilities(torch.from_numpy(np.asarray(volume.image, dtype=np.float32)))
    prediction = labels_from_probabilities(probs, model.inference_config.min_component_voxels)
    axis = PLANE_AXIS[plane]
    label = np.asarray(volume.label)
    k = max(range(label.shape[axis]), key=lambda i: len(np.unique(np.take(label, i, axis=axis))))
    codes = nib.aff2axcodes(np.asarray(volume.meta["affine"], dtype=np.float64).reshape(4, 4))
    figure = segmentation_figure(np.take(volume.image[0], k, axis=axis), np.take(label, k, axis=axis),
                                 np.take(prediction, k, axis=axis), model.num_classes,
                                 f"held-out subject {volume.id}, {plane} slice {k}",
                                 orientation=tuple(c for i, c in enumerate(codes) if i != axis))  # fmt: skip
    save_figure(figure, path, dpi=110)


def _make_data(kind: str, data_dir: Path, subjects: int, size: int, resolution: float, spacing: float, seed: int) -> None:
    """Realistic brains or torsos, or the phantoms when ``kind`` is ``malc`` or the sources cannot be fetched."""
    from medseg.data.brain import BrainDataError
    from medseg.data.synth import synth
    from medseg.data.torso import TorsoDataError

    if kind in ("brain", "torso"):
        try:
            synth(kind=kind, out=str(data_dir), subjects=subjects, resolution=resolution, spacing=spacing, seed=seed, overwrite=True)
            return
        except (BrainDataError, TorsoDataError) as err:
            what = "realistic brains" if kind == "brain" else "torsos from real CT"
            print(f"[medseg demo] no {what}: {err}\n[medseg demo] falling back to the geometric phantoms")
    synth(kind="visceral" if kind == "torso" else "malc", out=str(data_dir), subjects=subjects, size=size, seed=seed, overwrite=True)


def demo(
    out: str | None = None,
    kind: str = "brain",
    subjects: int = 20,
    size: int = 64,
    resolution: float = 2.0,
    spacing: float = 3.0,
    epochs: int | None = None,
    seed: int = 0,
    config: str | None = None,
) -> int:
    """Run the demo into ``out`` (data in ``out/data``, the run in ``out/run``); returns 0, or 143 when a SIGTERM
    stopped its fit or test (nothing is reported then).

    Args:
        out: folder for the data, checkpoints and results (default ``runs/demo``; torso: ``runs/demo-torso``).
        kind: ``brain`` (realistic brains, fetched once; phantoms if that fails), ``malc`` (phantoms) or
            ``torso`` (torsos from real CT with TotalSegmentator labels, fetched once; the Visceral phantoms
            if that fails).
        subjects: subjects to generate (brain, torso: 10 training / 2 validation / 8 test of 20).
        size: phantom edge length in voxels (phantoms only).
        resolution: brain voxel size in mm (1, 1.5 or 2).
        spacing: torso voxel size in mm.
        epochs: training epochs (default: the config's ``trainer.max_epochs``).
        seed: seed for the phantoms and for training.
        config: experiment YAML (default ``experiments/demo.yaml``; torso: ``experiments/demo_torso.yaml``).
    """
    from medseg.atomic import save_figure
    from medseg.engine.cli import SIGTERM_EXIT, run_or_sigterm
    from medseg.eval.plots import structure_boxplot

    if kind not in KINDS:
        raise ValueError(f"demo: kind must be one of {sorted(KINDS)}, got {kind!r}")
    default_config, plane = KINDS[kind]
    config_path = Path(config) if config else default_config
    if not config_path.is_file():
        raise FileNotFoundError(f"demo config {config_path} not found (run from a medseg checkout or pass --config)")
    out_dir, start = Path(out or ("runs/demo-torso" if kind == "torso" else "runs/demo")), time.perf_counter()
    data_dir, run_dir = out_dir / "data", out_dir / "run"
    manifest = data_dir / "dataset.json"
    if manifest.is_file():
        print(f"[medseg demo] reusing the subjects in {data_dir} (delete it to make new ones)")
    else:
        _make_data(kind, data_dir, subjects, size, resolution, spacing, seed)
    if run_dir.exists():  # never overwrite an earlier run's checkpoints and results
        previous = out_dir / f"run-{time.strftime('%Y%m%d-%H%M%S', time.localtime(run_dir.stat().st_mtime))}"
        run_dir.rename(previous)
        print(f"[medseg demo] kept the previous run in {previous}")
    overrides = [
        "--config", str(config_path), "--data.manifest", str(manifest), "--trainer.default_root_dir", str(run_dir),
        "--seed_everything", str(seed),
    ]
    print(f"[medseg demo] training QuickNAT + scSE on {manifest} ({config_path.name})")
    if run_or_sigterm(["fit", *overrides, *(["--trainer.max_epochs", str(epochs)] if epochs else [])]) is None:
        return SIGTERM_EXIT  # a half-trained demo is not tested: its table would read as the demo's result
    training = json.loads((run_dir / "results" / "training.json").read_text(encoding="utf-8"))
    print(f"[medseg demo] trained {training['epochs']} epochs in {training['train_seconds']:.0f} s, "
          f"precision {training.get('precision')} (cpu_bf16: medseg.engine.precision)")
    print("[medseg demo] testing the best checkpoint (validation Dice) on the held-out subjects")
    cli = run_or_sigterm(["test", *overrides, "--ckpt_path", "best"])
    if cli is None:
        return SIGTERM_EXIT

    results_dir = run_dir / "results"
    text, per_structure, mean_dice = _table(run_dir)
    figure = structure_boxplot({"QuickNAT + scSE": per_structure}, list(per_structure), title="medseg demo: held-out Dice")
    plot_path = results_dir / "dice_per_structure.png"
    save_figure(figure, plot_path)
    slice_path = results_dir / "example_slice.png"
    _example_slice(cli, slice_path, plane)
    print("\n" + text)
    if json.loads(manifest.read_text(encoding="utf-8")).get("name") == "torso-synthetic":
        print("(reference labels: automatic TotalSegmentator outputs on two real CT scans, not manual ground truth; "
              "n/a = outside every held-out field of view, or no such TotalSegmentator class: data_manifests/README.md)")
    print(f"\n[medseg demo] done in {time.perf_counter() - start:.0f} s; mean foreground Dice {mean_dice:.3f}")
    for label, path in (("table", results_dir / "dice_per_structure.csv"), ("summary", results_dir / "summary.json"),
                        ("plot", plot_path), ("slice", slice_path),
                        ("checkpoint", run_dir / "checkpoints" / "best.ckpt"), ("config", run_dir / "config.yaml")):
        print(f"  {label:<10} {path}")
    return 0
