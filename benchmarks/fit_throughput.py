"""Training throughput: ``Trainer.fit`` on ``SegmentationModule`` vs a bare PyTorch loop, same model/data/batch.

Both use the module's network and loss, Adam, the same DataLoader of random slices, and time the
same number of steps after warm-up steps. The Lightning side runs as ``medseg fit`` does (no
validation, no logger or checkpoint I/O inside the timed steps).

    .venv/bin/python benchmarks/fit_throughput.py --size 128 --batch-size 8 --steps 40
"""

from __future__ import annotations

import argparse
import time

import torch
from lightning.pytorch import Callback, Trainer
from torch.utils.data import DataLoader, Dataset

from medseg.engine.module import SegmentationModule


class RandomSlices(Dataset):
    def __init__(self, n: int, size: int, classes: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.images = torch.randn(n, 1, size, size, generator=g)
        self.labels = torch.randint(0, classes, (n, size, size), generator=g)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict:
        return {"image": self.images[i], "label": self.labels[i]}


class StepTimer(Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.end = warmup, None, None

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == self.warmup:
            self.start = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self.end = time.perf_counter()


def make_module(classes: int, features: int) -> SegmentationModule:
    network = {"name": "quicknat", "attention": "scse", "options": {"features": features}}
    return SegmentationModule(network=network, num_classes=classes, loss={"name": "ce_dice"})


def bare_loop(loader: DataLoader, module: SegmentationModule, warmup: int, steps: int) -> float:
    net, criterion = module.net.train(), module.criterion
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    start = None
    for i, batch in enumerate(loader):
        if i == warmup:
            start = time.perf_counter()
        if i == warmup + steps:
            break
        optimizer.zero_grad(set_to_none=True)
        loss = criterion(net(batch["image"]), batch["label"])
        loss.backward()
        optimizer.step()
    return steps / (time.perf_counter() - start)


def lightning_fit(loader: DataLoader, module: SegmentationModule, warmup: int, steps: int) -> float:
    timer = StepTimer(warmup)
    trainer = Trainer(max_steps=warmup + steps, limit_val_batches=0, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", callbacks=[timer])
    trainer.fit(module, train_dataloaders=loader)
    return steps / (timer.end - timer.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--classes", type=int, default=28)
    parser.add_argument("--features", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    n = (args.steps + args.warmup + 1) * args.batch_size
    loader = DataLoader(RandomSlices(n, args.size, args.classes), batch_size=args.batch_size, shuffle=True)
    bare, lit = [], []
    for _ in range(args.rounds):  # alternate so that load drifts hit both sides alike
        torch.manual_seed(0)
        bare.append(bare_loop(loader, make_module(args.classes, args.features), args.warmup, args.steps))
        torch.manual_seed(0)
        lit.append(lightning_fit(loader, make_module(args.classes, args.features), args.warmup, args.steps))
    print(f"{args.size}^2 slices, batch {args.batch_size}, quicknat features {args.features}, {args.classes} classes, "
          f"{args.steps} steps x {args.rounds} rounds: bare {max(bare):.2f} steps/s, Lightning {max(lit):.2f} steps/s, "
          f"ratio {max(lit) / max(bare):.2f}")


if __name__ == "__main__":
    main()
