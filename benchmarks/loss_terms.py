"""Where a trained run's Dice loss goes: overlap terms vs terms of classes absent from a slice (issue 11).

Per-sample soft Dice averages (2 Σ p·g + ε)/(Σ p + Σ g + ε) over (sample, class) pairs. A pair whose class has
no voxel in the sample scores ε/(Σ p + ε), which is ~0 (a charge of ~1) until Σ p ≪ ε, i.e. until the
network saturates that class's logits over the whole slice. This prints, for each run's checkpoint, on
the same training batches (the run's own data config, seeded): the weighted CE, the per-sample Dice split
into present and absent pairs (each a share of the per-sample mean), the fraction of absent pairs per
sample and per batch, the batch Dice, and the mean logit range (max − min over classes, per pixel).

    python benchmarks/loss_terms.py RUN_DIR [RUN_DIR ...] [--checkpoint last] [--batches 4]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F
import yaml

from medseg.data.datamodule import SegmentationDataModule
from medseg.engine.losses import soft_dice_loss
from medseg.engine.module import SegmentationModule


def training_batches(run: Path, n: int, seed: int = 0) -> list[dict]:
    data = yaml.safe_load((run / "config.yaml").read_text())["data"]
    dm = SegmentationDataModule(**data)
    dm.setup("fit")
    torch.manual_seed(seed)
    batches = []
    for batch in dm.train_dataloader():
        batches.append(batch)
        if len(batches) == n:
            break
    return batches


@torch.no_grad()
def loss_terms(module: SegmentationModule, batch: dict) -> dict[str, float]:
    logits, target = module.net(batch["image"]).double(), batch["label"]
    probs = logits.softmax(1)
    onehot = F.one_hot(target, logits.shape[1]).movedim(-1, 1).double()
    dims = tuple(range(2, logits.ndim))
    smooth = module.criterion.smooth
    pair = 1 - (2 * (probs * onehot).sum(dims) + smooth) / ((probs + onehot).sum(dims) + smooth)
    absent = onehot.sum(dims) == 0
    out = {"loss": module.criterion(logits, target).item(),
           "dice_present": (pair * ~absent).sum().item() / pair.numel(),
           "dice_absent": (pair * absent).sum().item() / pair.numel(),
           "absent_per_sample": absent.double().mean().item(),
           "absent_per_batch": (onehot.sum((0, *dims)) == 0).double().mean().item(),
           "batch_dice": soft_dice_loss(logits, target, smooth, batch=True).item(),
           "logit_range": (logits.max(1).values - logits.min(1).values).mean().item()}
    if module.criterion.weighted:
        weight = module.criterion.voxel_weights(target).double()
        out["weighted_ce"] = (F.cross_entropy(logits, target, reduction="none") * weight).mean().item()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--checkpoint", default="last", help="checkpoint name in RUN/checkpoints (best | last)")
    parser.add_argument("--batches", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(1)
    batches = training_batches(args.runs[0], args.batches)
    keys = ["loss", "weighted_ce", "dice_present", "dice_absent", "absent_per_sample", "absent_per_batch",
            "batch_dice", "logit_range"]
    print("| run | checkpoint | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for run in args.runs:
        ckpt = run / "checkpoints" / f"{args.checkpoint}.ckpt"
        if not ckpt.is_file():
            raise SystemExit(f"{ckpt}: no such checkpoint")
        module = SegmentationModule.load_from_checkpoint(ckpt, map_location="cpu").eval()
        rows = [loss_terms(module, b) for b in batches]
        mean = {k: sum(r.get(k, float("nan")) for r in rows) / len(rows) for k in keys}
        print(f"| {run.name} | {args.checkpoint} | " + " | ".join(f"{mean[k]:.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
