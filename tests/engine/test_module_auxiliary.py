"""SegmentationModule with auxiliary outputs: heads from model.loss, logged terms, unchanged inference."""

import pytest
import torch
from lightning.pytorch import Trainer

from medseg.engine.auxiliary_loss import training_loss
from medseg.engine.module import SegmentationModule
from tests.engine.tiny_data import TinyDataModule

NET = {"name": "unet", "attention": "encnet", "placement": ["bottleneck", "dec2"],
       "options": {"features": 4, "depth": 2, "kernel_size": 3}}
NAMES = ["background", "outer", "inner"]


def _module(**loss):
    torch.manual_seed(0)
    return SegmentationModule(network=NET, num_classes=3, class_names=NAMES, loss={"name": "ce_dice", **loss})


def test_training_step_is_the_weighted_sum_and_a_fit_logs_the_terms(tmp_path):
    model = _module(deep_supervision=[1, 0.5], se_loss=0.2)
    assert list(model.net.deep_heads) == ["dec2"] and model.net.sites["bottleneck"].se is not None
    batch = next(iter(TinyDataModule(batch_size=4).train_dataloader()))
    logits, aux = model.net.forward_with_auxiliary(batch["image"])
    expected, _ = training_loss(model.criterion, logits, aux, batch["label"], [1.0, 0.5], 0.2, 1.0)
    torch.testing.assert_close(model.training_step(batch, 0), expected)
    trainer = Trainer(default_root_dir=tmp_path, max_epochs=1, logger=False, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", limit_train_batches=2)
    trainer.fit(model, datamodule=TinyDataModule())
    assert {"train/loss_main", "train/loss_se", "val/mean_dice"} <= set(trainer.callback_metrics)


def test_volume_inference_is_exactly_equal_without_the_heads():
    with_heads, plain = _module(deep_supervision=[1, 0.5], se_loss=0.2), _module(se_loss=0.0)
    assert plain.net.sites["bottleneck"].se is None and not plain.net.deep_heads
    plain.load_state_dict(with_heads.state_dict(), strict=False)
    image = next(iter(TinyDataModule().test_dataloader()))["image"][0]
    with_heads.eval(), plain.eval()
    with torch.no_grad():
        assert torch.equal(with_heads.predict_probabilities(image), plain.predict_probabilities(image))


def test_bad_deep_supervision_names_the_key():
    with pytest.raises(ValueError, match=r"^model.loss.deep_supervision: .*needs 1\.\.2 levels"):
        _module(deep_supervision=[1, 0.5, 0.25])


def test_danet_head_branches_are_supervised_with_aux_weight():
    torch.manual_seed(0)
    net = {**NET, "attention": "danet_head", "placement": "bottleneck"}
    model = SegmentationModule(network=net, num_classes=3, class_names=NAMES, loss={"name": "ce", "aux_weight": 0.5})
    batch = next(iter(TinyDataModule(batch_size=4).train_dataloader()))
    model.eval()  # no dropout: the two forwards below see the same network
    logits, aux = model.net.forward_with_auxiliary(batch["image"])
    assert set(aux.segmentation) == {"bottleneck/fused", "bottleneck/position", "bottleneck/channel"}
    expected, terms = training_loss(model.criterion, logits, aux, batch["label"], [], 0.2, 0.5)
    assert terms["aux"] > 0
    torch.testing.assert_close(model.training_step(batch, 0), expected)
    off = SegmentationModule(network=net, num_classes=3, class_names=NAMES, loss={"name": "ce", "aux_weight": 0.0})
    assert off.net.sites["bottleneck"].classifiers is None
