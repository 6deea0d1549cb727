"""``trainer.precision: bf16-mixed`` on CPU: loss and probabilities in float32 under autocast, fit + test end to end."""

import json
import math

import pytest
import torch
import yaml

from medseg.engine.inference import predict_volume
from medseg.engine.losses import SegmentationLoss, soft_dice_loss

BF16 = {"device_type": "cpu", "dtype": torch.bfloat16}


def test_loss_of_bf16_logits_is_the_float32_loss():
    torch.manual_seed(0)
    logits = torch.randn(4, 3, 32, 32).bfloat16()  # what a network gives under bf16 autocast
    target = torch.randint(0, 3, (4, 32, 32))
    loss = SegmentationLoss("ce_dice", 3)
    with torch.autocast(**BF16):
        mixed = loss(logits, target)
    assert mixed.dtype == torch.float32
    # the same bf16 values, every step in float32 (computing the Dice term in bf16 is off by ~1e-3)
    reference = torch.nn.functional.cross_entropy(logits.float(), target) + soft_dice_loss(logits.float(), target)
    torch.testing.assert_close(mixed, reference, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("prob_dtype", [torch.float32, torch.float16])
def test_volume_probabilities_under_bf16_autocast_sum_to_one_in_the_buffer_dtype(prob_dtype):
    torch.manual_seed(0)
    net = torch.nn.Conv2d(1, 5, 3, padding=1).eval()
    image = torch.randn(1, 8, 9, 10)
    views = {"axial": net, "coronal": net, "sagittal": net}
    with torch.autocast(**BF16):
        probs = predict_volume(views, image, 5, prob_dtype=prob_dtype)
    assert probs.dtype == prob_dtype
    # softmax in float32: the sum is 1 up to the buffer's rounding (bf16 softmax alone is off by ~3e-3)
    tol = 4 * torch.finfo(prob_dtype).eps
    torch.testing.assert_close(probs.double().sum(0), torch.ones(8, 9, 10, dtype=torch.float64), rtol=0, atol=tol)


def test_bad_prob_dtype_fails_when_the_model_is_built():
    from medseg.engine.config import InferenceConfig, NetworkConfig
    from medseg.engine.module import SegmentationModule

    with pytest.raises(ValueError, match="model.inference.prob_dtype must be one of .*got 'int8'"):
        SegmentationModule(NetworkConfig("unet"), inference=InferenceConfig(prob_dtype="int8"))


@pytest.mark.slow
def test_bf16_mixed_fit_and_test_on_phantoms(tmp_path):
    from medseg.data.synth import synth
    from medseg.engine.cli import run_lightning_cli
    from medseg.engine.module import SegmentationModule

    synth("malc", str(tmp_path / "data"), subjects=4, size=16, validation=1, test=1)
    root = tmp_path / "run"
    config = {
        "trainer": {"default_root_dir": str(root), "max_epochs": 2, "accelerator": "cpu", "precision": "bf16-mixed",
                    "limit_train_batches": 2, "enable_progress_bar": False, "enable_model_summary": False},
        "model": {"network": {"name": "quicknat", "attention": "scse", "options": {"features": 4, "depth": 2}},
                  "loss": {"name": "weighted_ce_dice"}, "channels_last": True},
        "data": {"manifest": str(tmp_path / "data" / "dataset.json"), "plane": "axial", "batch_size": 8},
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    run_lightning_cli(["fit", "--config", str(tmp_path / "config.yaml")])
    run_lightning_cli(["test", "--config", str(tmp_path / "config.yaml"), "--ckpt_path", "last"])
    metrics = (root / "csv" / "version_0" / "metrics.csv").read_text(encoding="utf-8").splitlines()
    header = metrics[0].split(",")
    losses = [float(row.split(",")[header.index("train/loss_epoch")]) for row in metrics[1:]
              if row.split(",")[header.index("train/loss_epoch")]]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses)
    summary = json.loads((root / "results" / "summary.json").read_text(encoding="utf-8"))
    assert summary["num_subjects"] == 1 and math.isfinite(summary["mean_dice"])
    # the checkpoint holds float32 master weights and loads into a plain float32 model
    module = SegmentationModule.load_from_checkpoint(root / "checkpoints" / "last.ckpt", weights_only=True)
    assert {p.dtype for p in module.parameters()} == {torch.float32}
    checkpoint = torch.load(root / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["epoch"] == 1 and checkpoint["hyper_parameters"]["channels_last"] is True
    with torch.no_grad():
        assert torch.isfinite(module.eval()(torch.randn(1, 1, 16, 16))).all()
