"""A MONAI-native 2D recipe, written as MONAI's own tutorials write it: the peer most users would code by hand.

``monai.networks.nets.UNet`` (2D, channels 16-256, strides 2, two residual units, batch norm), ``DiceCELoss``
(one-hot target, softmax), Adam at 1e-4, MONAI dictionary transforms (load, channel first, RAS, raw ids ->
class ids, min-max intensity) cached by ``CacheDataset``; per iteration ``RandSpatialCropSamplesd`` draws
coronal slices (roi X x 1 x Z) of each training volume, squeezed to 2D, with ``RandAffined`` and
``RandScaleIntensityd``/``RandShiftIntensityd`` (no flips: the labels are lateralised), zero-padded to a
multiple of 16 (``DivisiblePadd``; the UNet halves each side four times; scoring pads the same way and crops). It trains for
``--budget`` seconds of wall time and saves the weights when each of ``--save-at`` seconds has passed; each
checkpoint is then scored on the held-out subjects slice by slice (coronal), with medseg's own Dice code
(:func:`medseg.eval.metrics.dice_per_structure`) on the subjects' grid (the manifest's volumes are RAS, which
is checked). Writes ``WORK/results.json``: ``{seconds: {structure: [Dice per subject]}}``.

    .venv/bin/python benchmarks/peers/monai_recipe.py --manifest data/brain_pv/dataset.json --work runs/peers/monai \\
        --budget 2700 --save-at 300 900 2700
    .venv/bin/python benchmarks/peers/monai_recipe.py --quick true      # the suite's smoke run
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def transforms(label_map: dict[int, int] | None, train: bool, slices: int):
    from monai import transforms as T

    keys = ["image", "label"]
    base = [T.LoadImaged(keys), T.EnsureChannelFirstd(keys), T.Orientationd(keys, axcodes="RAS"),
            T.ScaleIntensityd("image", minv=0.0, maxv=1.0)]  # fmt: skip
    if label_map:
        raw = sorted(label_map)
        base.append(T.MapLabelValued("label", orig_labels=raw, target_labels=[label_map[r] for r in raw]))
    if not train:
        return T.Compose(base)
    return T.Compose([
        *base,
        T.RandSpatialCropSamplesd(keys, roi_size=(-1, 1, -1), num_samples=slices, random_size=False),
        T.SqueezeDimd(keys, dim=2),  # (C, X, 1, Z) -> (C, X, Z): a coronal slice
        T.DivisiblePadd(keys, k=DIVISOR),  # the UNet halves each side four times
        T.RandAffined(keys, prob=0.5, rotate_range=0.1, scale_range=0.1, mode=("bilinear", "nearest"), padding_mode="zeros"),
        T.RandScaleIntensityd("image", factors=0.1, prob=0.5),
        T.RandShiftIntensityd("image", offsets=0.1, prob=0.5),
    ])  # fmt: skip


DIVISOR = 16  # 2 ** len(strides) of network()


def network(num_classes: int) -> torch.nn.Module:
    from monai.networks.layers import Norm
    from monai.networks.nets import UNet

    return UNet(spatial_dims=2, in_channels=1, out_channels=num_classes, channels=(16, 32, 64, 128, 256),
                strides=(2, 2, 2, 2), num_res_units=2, norm=Norm.BATCH)  # fmt: skip


def train(manifest, work: Path, budget: float, save_at: list[float], lr: float, batch_volumes: int, slices: int,
          seed: int, max_steps: int | None = None) -> list[Path]:
    """Train for ``budget`` seconds (or ``max_steps``); a checkpoint when each ``save_at`` second has passed."""
    from monai.data import CacheDataset, DataLoader
    from monai.losses import DiceCELoss
    from monai.utils import set_determinism

    set_determinism(seed=seed)
    files = [{"image": str(s.image), "label": str(s.label)} for s in manifest.splits["training"]]
    data = CacheDataset(files, transforms(manifest.label_map, True, slices), cache_rate=1.0, num_workers=0, progress=False)
    loader = DataLoader(data, batch_size=batch_volumes, shuffle=True, num_workers=0)
    net = network(manifest.num_classes).train()
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    pending, saved, steps, start = sorted(save_at), [], 0, time.perf_counter()
    while pending:
        for batch in loader:
            optimizer.zero_grad()
            loss = loss_fn(net(batch["image"]), batch["label"])
            loss.backward()
            optimizer.step()
            steps += 1
            elapsed = time.perf_counter() - start
            while pending and (elapsed >= pending[0] or (max_steps and steps >= max_steps)):
                path = work / f"weights_{pending.pop(0):g}s.pt"
                torch.save({"state_dict": net.state_dict(), "steps": steps, "seconds": elapsed}, path)
                saved.append(path)
            if not pending:
                break
    return saved


@torch.no_grad()
def score(manifest, checkpoint: Path) -> dict[str, list[float]]:
    """Dice per structure per held-out subject of one checkpoint, coronal slice by slice."""
    from medseg.eval.metrics import dice_per_structure

    net = network(manifest.num_classes)
    net.load_state_dict(torch.load(checkpoint, weights_only=True)["state_dict"])
    net.eval()
    load = transforms(manifest.label_map, False, 0)
    table: dict[str, list[float]] = {name: [] for name in manifest.class_names[1:]}
    for s in manifest.splits["test"]:
        item = load({"image": str(s.image), "label": str(s.label)})
        if not _is_ras(item["image"]):
            raise SystemExit(f"{s.image}: not RAS; this recipe scores on the reoriented grid only")
        image = item["image"][0].as_tensor()  # (X, Y, Z)
        x, z = image.shape[0], image.shape[2]
        padded = torch.nn.functional.pad(image, (0, -z % DIVISOR, 0, 0, 0, -x % DIVISOR))  # zeros after the end
        logits = torch.cat([net(padded[:, y:y + 32].permute(1, 0, 2)[:, None]) for y in range(0, image.shape[1], 32)])
        prediction = logits[:, :, :x, :z].argmax(1).permute(1, 0, 2).numpy()  # (Y, X, Z) -> (X, Y, Z)
        dice = dice_per_structure(prediction, item["label"][0].numpy().astype(np.int64), manifest.num_classes)
        for name, d in zip(manifest.class_names[1:], dice[1:]):
            table[name].append(float(d))
    return table


def _is_ras(image) -> bool:
    import nibabel as nib

    return "".join(nib.aff2axcodes(np.asarray(image.meta["original_affine"]))) == "RAS"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", default="data/brain_pv/dataset.json")
    parser.add_argument("--work", default="runs/peers/monai")
    parser.add_argument("--budget", type=float, default=2700.0, help="training wall seconds")
    parser.add_argument("--save-at", type=float, nargs="+", default=[300.0, 900.0, 2700.0])
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam; MONAI's tutorials use 1e-4")
    parser.add_argument("--batch-volumes", type=int, default=2, help="volumes per batch (x --slices slices each)")
    parser.add_argument("--slices", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, help="stop after this many steps (the last checkpoint is saved then)")
    parser.add_argument("--quick", type=lambda s: s.lower() == "true", default=False)
    args = parser.parse_args(argv)
    from medseg.data import load_manifest

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    max_steps = args.max_steps
    if args.quick:
        import subprocess
        import sys

        data = work / "quick_data"
        if not (data / "dataset.json").is_file():
            subprocess.run([sys.executable, "-m", "medseg.cli", "synth", "--kind", "malc", "--out", str(data), "--subjects", "4",
                            "--size", "24", "--validation", "1", "--test", "1", "--seed", "0"], check=True)  # fmt: skip
        args.manifest, args.save_at, args.budget, max_steps = str(data / "dataset.json"), [1e6, 2e6], 3e6, 2
    manifest = load_manifest(args.manifest)
    start = time.perf_counter()
    checkpoints = train(manifest, work, min(args.budget, max(args.save_at)), [min(t, args.budget) for t in args.save_at],
                        args.lr, args.batch_volumes, args.slices, args.seed, max_steps)  # fmt: skip
    results = {"recipe": "monai UNet 2D + DiceCELoss + Adam", "lr": args.lr, "train_wall_s": time.perf_counter() - start,
               "checkpoints": {}}  # fmt: skip
    for path in checkpoints:
        saved = torch.load(path, weights_only=True)
        table = score(manifest, path)
        per_subject = np.nanmean(np.array(list(table.values()), dtype=float), axis=0)
        results["checkpoints"][path.stem] = {"seconds": saved["seconds"], "steps": saved["steps"],
                                             "mean_dice": float(np.mean(per_subject)), "dice": table}  # fmt: skip
        print(f"{path.name}: {saved['steps']} steps, {saved['seconds']:.0f} s, held-out mean Dice {np.mean(per_subject):.3f}")
    (work / "results.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
