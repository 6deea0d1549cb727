"""SegmentationModule in-process: training, validation Dice, test results vs independent computations."""

import csv
import json

import numpy as np
import pytest
import torch
from lightning.pytorch import Trainer
from monai.metrics import DiceMetric
from monai.networks.utils import one_hot

from medseg.engine.losses import median_frequency_weights
from medseg.engine.module import SegmentationModule
from tests.engine.tiny_data import TinyDataModule

NET = {"name": "unet", "attention": "scse", "placement": "all", "options": {"features": 4, "depth": 2, "kernel_size": 3}}


def _module(**kw):
    return SegmentationModule(network=NET, num_classes=3, class_names=["background", "outer", "inner"], **kw)


def _trainer(tmp_path, **kw):
    return Trainer(default_root_dir=tmp_path, max_epochs=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", **kw)


def test_fit_then_test_writes_dice_equal_to_monai_on_slicewise_prediction(tmp_path):
    torch.manual_seed(0)
    dm, model = TinyDataModule(), _module(loss={"name": "weighted_ce_dice"}, inference={"batch_size": 5})
    trainer = _trainer(tmp_path, limit_train_batches=3)
    trainer.fit(model, datamodule=dm)
    assert {"train/loss_epoch", "val/mean_dice", "val/dice/inner"} <= set(trainer.callback_metrics)
    # class weights: median-frequency over the training labels, counted independently here
    labels = np.concatenate([b["label"].numpy().ravel() for b in dm.train_dataloader()])
    expected = median_frequency_weights(np.bincount(labels, minlength=3))
    torch.testing.assert_close(model.criterion.class_weights, expected)

    trainer.test(model, datamodule=dm)
    with open(tmp_path / "results" / "dice_per_structure.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    summary = json.loads((tmp_path / "results" / "summary.json").read_text(encoding="utf-8"))
    assert summary["num_subjects"] == 3 and summary["network"] == "unet" and summary["dataset"] == "tiny"
    model.eval()
    subject_means = []
    for batch in dm.test_dataloader():
        image, ref = batch["image"][0], batch["label"][0]
        with torch.no_grad():  # independent slice-by-slice axial inference
            probs = torch.stack([model.net(image[None, :, :, :, z]).softmax(1)[0] for z in range(image.shape[-1])], -1)
        pred = probs.argmax(0)
        monai = DiceMetric(include_background=True, reduction="none")(
            one_hot(pred[None, None], 3), one_hot(ref[None, None], 3))[0].numpy()
        ours = {int(r["structure_id"]): float(r["dice"]) for r in rows if r["subject"] == batch["id"][0]}
        # near-ties may argmax either way: the module accumulates in float16 (each probability rounded by
        # <= 2.5e-4) and batches 5 slices (other kernels), so a top-2 margin < 1e-3 is undecided.
        # Dice = 2I/S moves with k undecided voxels within [2(I-k)/(S+k), 2(I+k)/(S-k)]; k = 0 is equality.
        top2 = probs.topk(2, dim=0).values
        k = int((top2[0] - top2[1] < 1e-3).sum())
        bounds = []
        for c in (1, 2):
            i, s = int(((pred == c) & (ref == c)).sum()), int((pred == c).sum() + (ref == c).sum())
            lo, hi = 2 * max(i - k, 0) / (s + k), min(1.0, 2 * (i + k) / max(s - k, 1))
            assert monai[c] == pytest.approx(2 * i / s)  # MONAI's Dice is the k = 0 point
            assert lo - 1e-6 <= ours[c] <= hi + 1e-6, (c, ours[c], monai[c], k)
            row = next(r for r in rows if r["subject"] == batch["id"][0] and int(r["structure_id"]) == c)
            assert int(row["reference_voxels"]) == int((ref == c).sum())  # the label file's count, exactly
            assert abs(int(row["predicted_voxels"]) - int((pred == c).sum())) <= k  # up to the undecided voxels
            bounds.append((lo, hi))
        subject_means.append(np.mean(bounds, axis=0))
    lo, hi = np.mean(subject_means, axis=0)
    assert lo - 1e-6 <= summary["mean_dice"] <= hi + 1e-6


def test_config_errors_name_the_key():
    with pytest.raises(ValueError, match="class_names has 2 names for num_classes=3"):
        SegmentationModule(network=NET, num_classes=3, class_names=["a", "b"])
    with pytest.raises(ValueError, match="unknown loss 'focal'"):
        _module(loss={"name": "focal"})
    with pytest.raises(ValueError, match="model.optimizer.name: unknown optimizer 'lbfgs'"):
        _module(optimizer={"name": "lbfgs"}).configure_optimizers()
