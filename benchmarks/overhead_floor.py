"""The framework's overhead floor (issue 24): ``medseg fit`` with a near-free network vs a bare PyTorch loop.

With a network that costs nothing (one 1x1 convolution: per-voxel logistic regression), what is left of an
epoch is the framework: data loading and augmentation, validation (whole-volume inference + Dice),
checkpointing, logging, hooks. Run on the QuickNAT protocol's shape (10 training and 2 validation volumes
at 1 mm, conformed to 256^3, coronal 256^2 slices) with the brain recipe's data settings
(``experiments/scse_miccai2018/base_brain.yaml``: augmentation, foreground sampling, batch 16), each epoch is
split by a callback into train steps, waiting for batches, validation, checkpoint writes and the rest
(epoch-end logging and hooks). The bare loop iterates the same data module's training loader with the same
network, loss and Adam, and once more over slices held in memory (the compute floor).

Projected GPU efficiency: on a GPU doing ``--gpu-slices-per-s`` (default 1,000) the compute of one epoch is
(training + validation slices) / rate; the CPU-side seconds per epoch (everything but the network) are
measured here. Overhead share = CPU seconds / (CPU seconds + projected compute). Goal (issue 24): <= 5 %.

    medseg synth --kind brain --out data/brain1mm --subjects 13 --resolution 1 --validation 2 --test 1 --seed 0
    .venv/bin/python benchmarks/overhead_floor.py --manifest data/brain1mm/dataset.json --epochs 3
    .venv/bin/python benchmarks/overhead_floor.py --quick true        # the suite's smoke run (4 brains at 2 mm)
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
from lightning.pytorch import Callback
from torch import nn

BASE = Path(__file__).resolve().parents[1] / "experiments" / "scse_miccai2018" / "base_brain.yaml"
PARTS = ("train_steps", "data_wait", "validation", "checkpoint", "other")


class Pointwise(nn.Module):
    """A near-free network: logits = W x + b per voxel (one 1x1 convolution); no attention sites."""

    def __init__(self, in_channels: int, num_classes: int, spatial_dims: int = 2, attention=None, placement=None) -> None:
        super().__init__()
        self.placement: list[str] = []
        self.attention_sites = nn.ModuleDict()
        self.conv = (nn.Conv2d if spatial_dims == 2 else nn.Conv3d)(in_channels, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def forward_with_auxiliary(self, x: torch.Tensor):
        from medseg.nets.auxiliary import AuxiliaryOutputs

        return self.conv(x), AuxiliaryOutputs()


@contextlib.contextmanager
def pointwise_registered():
    """``model.network.name: pointwise`` buildable while inside (benchmark only: medseg's registry is left as it was)."""
    from medseg.nets import registry

    added = "pointwise" not in registry.NETWORKS
    registry.NETWORKS.setdefault("pointwise", Pointwise)
    registry.PRESETS.setdefault("pointwise", {"floor": {}})
    try:
        yield
    finally:
        if added:
            registry.NETWORKS.pop("pointwise", None)
            registry.PRESETS.pop("pointwise", None)


class EpochSplit(Callback):
    """Wall seconds of each training epoch, split into :data:`PARTS`; written to ``out`` as JSON at the end."""

    def __init__(self, out: str) -> None:
        self.out = Path(out)
        self.epochs: list[dict] = []
        self._mark = 0.0

    def setup(self, trainer, pl_module, stage: str) -> None:
        save = trainer.save_checkpoint

        def timed_save(*args, **kwargs):
            start = time.perf_counter()
            try:
                return save(*args, **kwargs)
            finally:
                if self.epochs:
                    self.epochs[-1]["checkpoint"] += time.perf_counter() - start

        trainer.save_checkpoint = timed_save

    def _close(self) -> None:
        if self.epochs and "wall" not in self.epochs[-1]:
            e = self.epochs[-1]
            e["wall"] = time.perf_counter() - e.pop("_start")
            e["other"] = e["wall"] - sum(e[p] for p in PARTS if p != "other")

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        self._close()
        now = time.perf_counter()
        self.epochs.append({"_start": now, "train_steps": 0.0, "data_wait": 0.0, "validation": 0.0, "checkpoint": 0.0,
                            "train_slices": 0, "val_slices": 0})  # fmt: skip
        self._mark = now

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        now = time.perf_counter()
        self.epochs[-1]["data_wait"] += now - self._mark
        self._mark = now
        self.epochs[-1]["train_slices"] += int(batch["image"].shape[0])

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        self.epochs[-1]["train_steps"] += now - self._mark
        self._mark = now

    def on_validation_start(self, trainer, pl_module) -> None:
        self._val_start = time.perf_counter()

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0) -> None:
        from medseg.data import PLANE_AXIS

        image = batch["image"]  # a whole volume (B, C, X, Y, Z): inference runs over its slices of the plane
        if self.epochs and image.ndim == 5 and pl_module.spatial_dims == 2:
            self.epochs[-1]["val_slices"] += int(image.shape[0] * image.shape[2 + PLANE_AXIS[pl_module.plane]])

    def on_validation_end(self, trainer, pl_module) -> None:
        if self.epochs:
            self.epochs[-1]["validation"] += time.perf_counter() - self._val_start

    def on_train_end(self, trainer, pl_module) -> None:
        self._close()
        self.out.write_text(json.dumps(self.epochs, indent=1))


def fit_args(args: argparse.Namespace, root: Path, split: Path) -> list[str]:
    command = ["fit", "--config", str(args.config), "--model.network.name", "pointwise", "--model.network.attention", "none",
               "--model.network.options", "{}", "--data.manifest", args.manifest, "--trainer.max_epochs", str(args.epochs),
               "--trainer.default_root_dir", str(root), "--trainer.callbacks+=overhead_floor.EpochSplit",
               "--trainer.callbacks.out", str(split), "--overwrite", "true"]  # fmt: skip
    if args.conform:
        command += ["--data.conform", str(args.conform)]
    return command + list(args.extra)


def bare_loops(args: argparse.Namespace, root: Path) -> dict[str, float]:
    """Slices/s of a bare loop over the data module's training loader, and over the same slices in memory."""
    import yaml

    from medseg.data import SegmentationDataModule
    from medseg.engine.module import SegmentationModule

    saved = yaml.safe_load((root / "config.yaml").read_text())
    data = SegmentationDataModule(**saved["data"])
    data.setup("fit")
    module = SegmentationModule(network={"name": "pointwise", "attention": "none", "options": {}}, num_classes=data.num_classes,
                                loss=saved["model"].get("loss"), class_names=data.class_names)  # fmt: skip
    net, criterion = module.net.train(), module.criterion
    if criterion.needs_class_weights:  # fit counts them once before training; for timing any weights do
        criterion.set_class_weights(torch.ones(data.num_classes))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    def step(batch: dict) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(net(batch["image"]), batch["label"])
        loss.backward()
        optimizer.step()

    loader = data.train_dataloader()
    held, start, slices = [], time.perf_counter(), 0
    for batch in loader:
        step(batch)
        held.append(batch)
        slices += int(batch["image"].shape[0])
    loader_rate = slices / (time.perf_counter() - start)
    start = time.perf_counter()
    for batch in held:
        step(batch)
    return {"bare_loader_slices_per_s": loader_rate, "bare_memory_slices_per_s": slices / (time.perf_counter() - start),
            "bare_slices": slices}  # fmt: skip


def summarise(epochs: list[dict], bare: dict[str, float], rate: float) -> dict:
    """Means over the epochs after the first (its caches warm up), the projection at ``rate`` slices/s."""
    steady = epochs[1:] or epochs
    mean = {k: statistics.fmean(e[k] for e in steady) for k in (*PARTS, "wall", "train_slices", "val_slices")}
    cpu = mean["wall"]  # the network is (nearly) free: every second of the epoch is the framework's
    compute = (mean["train_slices"] + mean["val_slices"]) / rate
    return {"epochs": len(epochs), "steady_epochs": len(steady), "mean": mean,
            "fit_slices_per_s": mean["train_slices"] / mean["wall"], **bare,
            "gpu_slices_per_s": rate, "projected_gpu_compute_s": compute, "cpu_side_s": cpu,
            "overhead_share": cpu / (cpu + compute)}  # fmt: skip


def table(summary: dict) -> str:
    m = summary["mean"]
    rows = [f"| {part.replace('_', ' ')} | {m[part]:.2f} | {100 * m[part] / m['wall']:.0f} % |" for part in PARTS]
    return "\n".join([
        f"Per epoch (mean of {summary['steady_epochs']} after the first): {m['train_slices']:.0f} training slices, "
        f"{m['val_slices']:.0f} validation slices, {m['wall']:.2f} s wall.",
        "", "| part of the epoch | s | share |", "|---|---|---|", *rows, "",
        f"- `medseg fit`: {summary['fit_slices_per_s']:.0f} training slices/s end to end; bare loop over the same loader "
        f"{summary['bare_loader_slices_per_s']:.0f}, over the slices in memory {summary['bare_memory_slices_per_s']:.0f}.",
        f"- Projected GPU epoch at {summary['gpu_slices_per_s']:.0f} slices/s: compute {summary['projected_gpu_compute_s']:.2f} s "
        f"+ CPU side {summary['cpu_side_s']:.2f} s -> framework overhead **{100 * summary['overhead_share']:.0f} %** (goal <= 5 %).",
    ]) + "\n"  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", default="data/brain1mm/dataset.json")
    parser.add_argument("--config", default=str(BASE))
    parser.add_argument("--conform", type=int, default=256, help="data.conform (0: none)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--gpu-slices-per-s", type=float, default=1000.0)
    parser.add_argument("--out", default="benchmarks/results/overhead_floor")
    parser.add_argument("--quick", type=lambda s: s.lower() == "true", default=False)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="more `medseg fit` options")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.quick:
        data = out / "quick_data"
        if not (data / "dataset.json").is_file():
            subprocess.run([sys.executable, "-m", "medseg.cli", "synth", "--kind", "brain", "--out", str(data), "--subjects", "4",
                            "--resolution", "2", "--validation", "1", "--test", "1", "--seed", "0"], check=True)  # fmt: skip
        args.manifest, args.epochs, args.conform = str(data / "dataset.json"), 2, 0
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # the callback's class_path: overhead_floor.EpochSplit
    from medseg.engine.cli import run_lightning_cli

    root, split = out / "fit", out / "epochs.json"
    with pointwise_registered():
        start = time.perf_counter()
        run_lightning_cli(fit_args(args, root, split))
        fit_wall = time.perf_counter() - start
        bare = bare_loops(args, root)
    summary = summarise(json.loads(split.read_text()), bare, args.gpu_slices_per_s)
    summary.update({"fit_wall_s": fit_wall, "manifest": args.manifest, "torch": torch.__version__,
                    "threads": torch.get_num_threads()})  # fmt: skip
    (out / "overhead_floor.json").write_text(json.dumps(summary, indent=1))
    (out / "overhead_floor.md").write_text(table(summary))
    print(table(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
