"""``medseg demo`` (what ``make demo`` runs): realistic brains -> QuickNAT + scSE -> held-out Dice per structure.

Generates realistic brains (``medseg synth --kind brain``; the geometric phantoms when the templates
cannot be fetched, saying so), trains with ``experiments/demo.yaml`` through the same LightningCLI as
``medseg fit``, tests the best checkpoint on the held-out subjects as ``medseg test`` does, then prints the
per-structure table and writes a box plot and one held-out slice (image, reference, prediction).
"""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np

DEMO_CONFIG = Path(__file__).resolve().parents[1] / "experiments" / "demo.yaml"


def _table(run_dir: Path) -> tuple[str, dict[str, list[float]], float]:
    """The printed per-structure table, Dice values per structure, and the summary's mean Dice."""
    from medseg.eval.report import load_run

    run = load_run(run_dir)
    per_structure = {name: list(run.dice[name].values()) for name in run.structures}
    summary = json.loads((run_dir / "results" / "summary.json").read_text(encoding="utf-8"))
    width = max(len(s) for s in per_structure)
    lines = [f"{'structure':<{width}}  mean Dice  (min - max over subjects)"]
    for name, values in per_structure.items():
        v = np.asarray(values, dtype=float)
        lines.append(f"{name:<{width}}  {np.nanmean(v):9.3f}  ({np.nanmin(v):.3f} - {np.nanmax(v):.3f})")
    lines.append(f"{'mean foreground Dice':<{width}}  {summary['mean_dice']:9.3f}  over {summary['num_subjects']} held-out subjects")
    return "\n".join(lines), per_structure, float(summary["mean_dice"])


def _example_slice(cli, path: Path) -> None:
    """The first held-out subject's coronal slice with the most classes: image, reference, prediction."""
    import torch

    from medseg.atomic import atomic_write
    from medseg.data.slicing import PLANE_AXIS
    from medseg.eval.plots import segmentation_figure

    model, volume = cli.model.eval(), cli.datamodule.volumes("test")[0]
    with torch.no_grad():
        prediction = model.predict_probabilities(torch.from_numpy(np.asarray(volume.image, dtype=np.float32))).argmax(0).numpy()
    axis = PLANE_AXIS["coronal"]
    label = np.asarray(volume.label)
    k = max(range(label.shape[axis]), key=lambda i: len(np.unique(np.take(label, i, axis=axis))))
    figure = segmentation_figure(np.take(volume.image[0], k, axis=axis), np.take(label, k, axis=axis),
                                 np.take(prediction, k, axis=axis), model.num_classes,
                                 f"held-out subject {volume.id}, coronal slice {k}")  # fmt: skip
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    atomic_write(path, buffer.getvalue())


def _make_data(kind: str, data_dir: Path, subjects: int, size: int, resolution: float, seed: int) -> None:
    """Realistic brains, or the phantoms when ``kind`` is ``malc`` or the templates cannot be fetched."""
    from medseg.data.brain import BrainDataError
    from medseg.data.synth import synth

    if kind == "brain":
        try:
            synth(kind="brain", out=str(data_dir), subjects=subjects, resolution=resolution, seed=seed)
            return
        except BrainDataError as err:
            print(f"[medseg demo] no realistic brains: {err}\n[medseg demo] falling back to the geometric phantoms")
    synth(kind="malc", out=str(data_dir), subjects=subjects, size=size, seed=seed)


def demo(
    out: str = "runs/demo",
    kind: str = "brain",
    subjects: int = 20,
    size: int = 64,
    resolution: float = 2.0,
    epochs: int | None = None,
    seed: int = 0,
    config: str | None = None,
) -> int:
    """Run the demo into ``out`` (data in ``out/data``, the run in ``out/run``); returns 0.

    Args:
        out: folder for the data, checkpoints and results.
        kind: ``brain`` (realistic brains, fetched once; phantoms if that fails) or ``malc`` (phantoms).
        subjects: subjects to generate (brain: 10 training / 2 validation / 8 test of 20).
        size: phantom edge length in voxels (phantoms only).
        resolution: brain voxel size in mm (1, 1.5 or 2).
        epochs: training epochs (default: the config's ``trainer.max_epochs``).
        seed: seed for the phantoms and for training.
        config: experiment YAML (default ``experiments/demo.yaml``).
    """
    from medseg.atomic import atomic_write
    from medseg.engine.cli import run_lightning_cli
    from medseg.eval.plots import structure_boxplot

    config_path = Path(config) if config else DEMO_CONFIG
    if not config_path.is_file():
        raise FileNotFoundError(f"demo config {config_path} not found (run from a medseg checkout or pass --config)")
    out_dir, start = Path(out), time.perf_counter()
    data_dir, run_dir = out_dir / "data", out_dir / "run"
    manifest = data_dir / "dataset.json"
    if kind not in ("brain", "malc"):
        raise ValueError(f"demo: kind must be brain or malc, got {kind!r}")
    if manifest.is_file():
        print(f"[medseg demo] reusing the subjects in {data_dir} (delete it to make new ones)")
    else:
        _make_data(kind, data_dir, subjects, size, resolution, seed)
    if run_dir.exists():  # never overwrite an earlier run's checkpoints and results
        previous = out_dir / f"run-{time.strftime('%Y%m%d-%H%M%S', time.localtime(run_dir.stat().st_mtime))}"
        run_dir.rename(previous)
        print(f"[medseg demo] kept the previous run in {previous}")
    overrides = [
        "--config", str(config_path), "--data.manifest", str(manifest), "--trainer.default_root_dir", str(run_dir),
        "--seed_everything", str(seed),
    ]
    print(f"[medseg demo] training QuickNAT + scSE on {manifest} ({config_path.name})")
    run_lightning_cli(["fit", *overrides, *(["--trainer.max_epochs", str(epochs)] if epochs else [])])
    print("[medseg demo] testing the best checkpoint (validation Dice) on the held-out subjects")
    cli = run_lightning_cli(["test", *overrides, "--ckpt_path", "best"])

    results_dir = run_dir / "results"
    text, per_structure, mean_dice = _table(run_dir)
    figure = structure_boxplot({"QuickNAT + scSE": per_structure}, list(per_structure), title="medseg demo: held-out Dice")
    plot_path = results_dir / "dice_per_structure.png"
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120)
    atomic_write(plot_path, buffer.getvalue())
    slice_path = results_dir / "example_slice.png"
    _example_slice(cli, slice_path)
    print("\n" + text)
    print(f"\n[medseg demo] done in {time.perf_counter() - start:.0f} s; mean foreground Dice {mean_dice:.3f}")
    for label, path in (("table", results_dir / "dice_per_structure.csv"), ("summary", results_dir / "summary.json"),
                        ("plot", plot_path), ("slice", slice_path),
                        ("checkpoint", run_dir / "checkpoints" / "best.ckpt"), ("config", run_dir / "config.yaml")):
        print(f"  {label:<10} {path}")
    return 0
