"""The framework's overhead floor (issue 24): ``medseg fit`` with a near-free network and loss vs bare loops.

What a GPU epoch costs beyond its compute is what the framework does on the host: the training loop and its
hooks, logging, validation's bookkeeping (copies, Dice), checkpoint writes, and the data loader. To see it on a
CPU the compute must be (nearly) free, so the network is one 1x1 convolution and, by default, the loss is
free too (``--loss free``: the mean logit at one voxel per sample; the recipe's QuickNAT loss costs ~50 ms per
256^2 slice on 2 cores, which on a GPU is device compute). Run on the QuickNAT protocol's shape (10 training
and 2 validation volumes at 1 mm, conformed to 256^3, coronal 256^2 slices) with the brain recipe's data
settings (``experiments/scse_miccai2018/base_brain.yaml``: augmentation, foreground sampling, batch 16), each
epoch is split by a callback into train steps, waiting for batches, validation, checkpoint writes and the rest.

The compute that remains is measured apart, in the same process after the fit: the same network, loss and
Adam over the epoch's batches held in memory, and the validation volumes' inference alone
(``predict_probabilities`` + argmax, no Dice); the loader alone gives seconds per slice. Host side per epoch
= (train steps - their compute) + (validation - its inference) + checkpoint + other.

Projected GPU efficiency: at ``--gpu-slices-per-s`` (default 1,000) an epoch's compute is (training +
validation slices) / rate; overhead share = host side / (host side + compute). Goal (issue 24): <= 5 %. The
loader is reported on its own: in the main process (``num_workers: 0``, as on this CPU) it adds its full
time; with workers it runs beside the compute and stays hidden from ``loader seconds / compute`` workers on.

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

from medseg.atomic import atomic_write, save_figure

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


class FreeLoss(nn.Module):
    """A near-free loss: the mean logit at each sample's first voxel (the gradient still reaches the network)."""

    name = "free"
    needs_class_weights = False

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return logits[(slice(None), slice(None)) + (0,) * (logits.ndim - 2)].float().mean()


class EpochSplit(Callback):
    """Wall seconds of each training epoch, split into :data:`PARTS`; written to ``out`` as JSON at the end.
    ``free_loss``: the module's loss is replaced by :class:`FreeLoss` before the fit starts."""

    def __init__(self, out: str, free_loss: bool = True) -> None:
        self.out = Path(out)
        self.free_loss = free_loss
        self.epochs: list[dict] = []
        self._mark = 0.0

    def setup(self, trainer, pl_module, stage: str) -> None:
        if self.free_loss:
            pl_module.criterion = FreeLoss()
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
               "--trainer.callbacks.out", str(split), "--trainer.callbacks.free_loss", str(args.loss == "free").lower(),
               "--overwrite", "true"]  # fmt: skip
    if args.conform:
        command += ["--data.conform", str(args.conform)]
    return command + list(args.extra)


def bare_loops(args: argparse.Namespace, root: Path) -> dict[str, float]:
    """The compute left in the fit, measured alone: the loader's seconds per slice, the steps over the same
    batches held in memory, and the validation volumes' inference without Dice."""
    import yaml

    from medseg.data import SegmentationDataModule
    from medseg.engine.module import SegmentationModule

    saved = yaml.safe_load((root / "config.yaml").read_text())
    data = SegmentationDataModule(**saved["data"])
    data.setup("fit")
    module = SegmentationModule(network={"name": "pointwise", "attention": "none", "options": {}}, num_classes=data.num_classes,
                                loss=saved["model"].get("loss"), inference=saved["model"].get("inference"),
                                class_names=data.class_names, plane=data.plane)  # fmt: skip
    net = module.net.train()
    criterion = FreeLoss() if args.loss == "free" else module.criterion
    if criterion.needs_class_weights:  # fit counts them once before training; for timing any weights do
        criterion.set_class_weights(torch.ones(data.num_classes))
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)

    start, held = time.perf_counter(), list(data.train_dataloader())
    loader_s = time.perf_counter() - start
    slices = sum(int(b["image"].shape[0]) for b in held)
    start = time.perf_counter()
    for batch in held:
        optimizer.zero_grad(set_to_none=True)
        criterion(net(batch["image"]), batch["label"]).backward()
        optimizer.step()
    train_s = time.perf_counter() - start
    net.eval()
    start = time.perf_counter()
    with torch.no_grad():
        for item in data.val_dataloader():
            module.predict_probabilities(item["image"][0]).argmax(dim=0)
    return {"loader_s_per_slice": loader_s / slices, "train_compute_s_per_slice": train_s / slices,
            "val_compute_s": time.perf_counter() - start, "bare_slices": slices}  # fmt: skip


def summarise(epochs: list[dict], bare: dict[str, float], rate: float) -> dict:
    """Means over the epochs after the first (its caches warm up), the host side and the projection at ``rate``.

    The loader stays hidden with W workers when each worker's slices take no longer than their compute:
    W >= loader seconds per slice x ``rate``."""
    steady = epochs[1:] or epochs
    mean = {k: statistics.fmean(e[k] for e in steady) for k in (*PARTS, "wall", "train_slices", "val_slices")}
    train_compute = bare["train_compute_s_per_slice"] * mean["train_slices"]
    host = {"train_loop": mean["train_steps"] - train_compute, "validation": mean["validation"] - bare["val_compute_s"],
            "checkpoint": mean["checkpoint"], "other": mean["other"]}  # fmt: skip
    host_s = sum(host.values())
    compute = (mean["train_slices"] + mean["val_slices"]) / rate
    return {"epochs": len(epochs), "steady_epochs": len(steady), "mean": mean, **bare,
            "fit_slices_per_s": mean["train_slices"] / mean["wall"], "cpu_train_compute_s": train_compute,
            "host": host, "host_s": host_s, "gpu_slices_per_s": rate, "projected_gpu_compute_s": compute,
            "overhead_share": host_s / (host_s + compute), "loader_s": mean["data_wait"],
            "loader_share_in_main_process": (host_s + mean["data_wait"]) / (host_s + mean["data_wait"] + compute),
            "workers_to_hide_loader": bare["loader_s_per_slice"] * rate}  # fmt: skip


def table(summary: dict) -> str:
    m, h = summary["mean"], summary["host"]
    rows = [f"| {part.replace('_', ' ')} | {m[part]:.2f} | {100 * m[part] / m['wall']:.0f} % |" for part in PARTS]
    host = [f"| {part.replace('_', ' ')} | {h[part]:.3f} |" for part in h]
    return "\n".join([
        f"Per epoch (mean of {summary['steady_epochs']} after the first): {m['train_slices']:.0f} training slices, "
        f"{m['val_slices']:.0f} validation slices, {m['wall']:.2f} s wall.",
        "", "| part of the epoch | s | share |", "|---|---|---|", *rows, "",
        f"Compute measured alone: training steps {summary['cpu_train_compute_s']:.2f} s per epoch, validation inference "
        f"{summary['val_compute_s']:.2f} s; loader {1000 * summary['loader_s_per_slice']:.2f} ms per slice.",
        "", "| host side per epoch | s |", "|---|---|", *host, f"| **total** | **{summary['host_s']:.3f}** |", "",
        f"- Projected GPU epoch at {summary['gpu_slices_per_s']:.0f} slices/s: compute {summary['projected_gpu_compute_s']:.2f} s "
        f"+ host side {summary['host_s']:.2f} s -> framework overhead **{100 * summary['overhead_share']:.0f} %** (goal <= 5 %).",
        f"- Loader: {summary['loader_s']:.2f} s per epoch in the main process ({100 * summary['loader_share_in_main_process']:.0f} % "
        f"overhead with it there); hidden behind the compute with >= {summary['workers_to_hide_loader']:.1f} workers.",
    ]) + "\n"  # fmt: skip


def plot(summary: dict, path: Path) -> None:
    """The measured CPU epoch split into compute and host side, and the projected GPU epoch, as stacked bars
    (a negative host-side term, within the method's noise, is drawn as 0)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    m, h = summary["mean"], summary["host"]
    cpu = {"training compute": summary["cpu_train_compute_s"], "training loop, host": h["train_loop"],
           "loader": summary["loader_s"], "validation inference": summary["val_compute_s"],
           "validation, host": h["validation"], "checkpoint + other": h["checkpoint"] + h["other"]}  # fmt: skip
    gpu = {"compute at the GPU rate": summary["projected_gpu_compute_s"], "host side": summary["host_s"]}
    fig, axes = plt.subplots(2, 1, figsize=(9, 4.6), gridspec_kw={"hspace": 1.6})
    for ax, parts, title in ((axes[0], cpu, f"this CPU: {m['wall']:.1f} s per epoch"),
                             (axes[1], gpu, f"projected GPU epoch: {100 * summary['overhead_share']:.0f} % host side")):  # fmt: skip
        left = 0.0
        for name, seconds in parts.items():
            ax.barh(0, max(0.0, seconds), left=left, label=f"{name} ({seconds:.2f} s)")
            left += max(0.0, seconds)
        ax.set(yticks=[], xlabel="seconds", title=title)
        ax.legend(fontsize=7, ncol=3, loc="upper left", bbox_to_anchor=(0, -0.45))
    save_figure(fig, path, bbox_inches="tight")
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", default="data/brain1mm/dataset.json")
    parser.add_argument("--config", default=str(BASE))
    parser.add_argument("--conform", type=int, default=256, help="data.conform (0: none)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--gpu-slices-per-s", type=float, default=1000.0)
    parser.add_argument("--loss", choices=["free", "recipe"], default="free", help="free: FreeLoss; recipe: the config's loss")
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
    summary.update({"fit_wall_s": fit_wall, "manifest": args.manifest, "loss": args.loss, "torch": torch.__version__,
                    "threads": torch.get_num_threads()})  # fmt: skip
    text = table(summary)
    atomic_write(out / "overhead_floor.json", json.dumps(summary, indent=1))
    atomic_write(out / "overhead_floor.md", text)
    plot(summary, out / "overhead_floor.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
