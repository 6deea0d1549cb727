"""``benchmarks/loss_terms.py``: its split of per-sample Dice adds up to MONAI's DiceLoss; counts match numpy."""


import numpy as np
import pytest
import torch
from monai.losses import DiceLoss

from medseg.engine.module import SegmentationModule
from tests.benchmarks.scripts import load_script


def _script():
    return load_script("loss_terms.py")


def test_present_and_absent_shares_add_up_to_the_per_sample_dice():
    torch.manual_seed(0)
    module = SegmentationModule(network={"name": "unet", "options": {"features": 4, "depth": 2, "kernel_size": 3}},
                                num_classes=4, loss={"name": "weighted_ce_dice"}).double().eval()
    module.criterion.set_class_weights(torch.tensor([0.5, 1.0, 2.0, 3.0]))
    label = torch.zeros(3, 16, 16, dtype=torch.long)
    label[0, 2:6, 2:6], label[1, 8:12, 3:9], label[2, 1:4, 1:4], label[2, 10:14, 10:14] = 1, 2, 1, 3
    batch = {"image": torch.randn(3, 1, 16, 16, dtype=torch.float64), "label": label}
    terms = _script().loss_terms(module, batch)
    logits = module.net(batch["image"]).detach()
    monai = DiceLoss(softmax=True, to_onehot_y=True)(logits, label[:, None]).item()
    assert terms["dice_present"] + terms["dice_absent"] == pytest.approx(monai, abs=1e-12)
    assert terms["batch_dice"] == pytest.approx(DiceLoss(softmax=True, to_onehot_y=True, batch=True)(
        logits, label[:, None]).item(), abs=1e-12)
    present = np.array([[np.any(label[b].numpy() == c) for c in range(4)] for b in range(3)])
    assert terms["absent_per_sample"] == pytest.approx(1 - present.mean())  # 5 of 12 pairs absent
    assert terms["absent_per_batch"] == 0.0
    assert terms["loss"] == pytest.approx(terms["weighted_ce"] + monai, abs=1e-12)
