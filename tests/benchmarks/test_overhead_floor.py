"""``benchmarks/overhead_floor.py --quick``: a pointwise-network fit split into its parts, and the bare loops."""

import json

import pytest

from medseg.data import SegmentationDataModule
from medseg.data.brain import BrainDataError
from tests.benchmarks.scripts import load_script


def _script():
    return load_script("overhead_floor.py")


def test_host_side_is_the_epoch_minus_its_compute_measured_alone():
    floor = _script()
    epochs = [{"train_steps": 9, "data_wait": 9, "validation": 9, "checkpoint": 9, "other": 9, "wall": 45, "train_slices": 1,
               "val_slices": 1}] + [{"train_steps": 1.0, "data_wait": 2.0, "validation": 0.5, "checkpoint": 0.25, "other": 0.25,
                                     "wall": 4.0, "train_slices": 3000, "val_slices": 1000}] * 2  # fmt: skip
    bare = {"loader_s_per_slice": 0.002, "train_compute_s_per_slice": 0.0002, "val_compute_s": 0.3}
    summary = floor.summarise(epochs, bare, rate=1000.0)
    assert summary["steady_epochs"] == 2  # the first epoch (cache warm-up) is left out
    # host: train loop 1.0 - 3000 * 0.0002 = 0.4, validation 0.5 - 0.3 = 0.2, checkpoint 0.25, other 0.25
    assert summary["host_s"] == pytest.approx(1.1)
    assert summary["projected_gpu_compute_s"] == pytest.approx(4.0)
    assert summary["overhead_share"] == pytest.approx(1.1 / 5.1)
    assert summary["loader_share_in_main_process"] == pytest.approx(3.1 / 7.1)
    assert summary["workers_to_hide_loader"] == pytest.approx(2.0)  # 2 ms per slice against 1 ms of GPU compute
    assert summary["fit_slices_per_s"] == pytest.approx(750.0)


def test_free_loss_is_cheap_and_still_trains_the_network():
    import torch

    floor = _script()
    net = floor.Pointwise(1, 4)
    logits = net(torch.randn(2, 1, 8, 8))
    loss = floor.FreeLoss()(logits, torch.zeros(2, 8, 8, dtype=torch.long))
    loss.backward()
    assert net.conv.weight.grad is not None and net.conv.weight.grad.abs().sum() > 0
    assert not floor.FreeLoss.needs_class_weights


@pytest.mark.slow
def test_quick_run_splits_each_epoch_and_counts_the_slices(tmp_path, monkeypatch):
    floor = _script()
    monkeypatch.chdir(tmp_path)
    try:
        assert floor.main(["--quick", "true", "--out", str(tmp_path / "out")]) == 0
    except BrainDataError as err:
        pytest.skip(f"real brain data unavailable: {err}")
    epochs = json.loads((tmp_path / "out" / "epochs.json").read_text())
    assert len(epochs) == 2
    for e in epochs:
        assert sum(e[p] for p in floor.PARTS) == pytest.approx(e["wall"], rel=1e-9)
        assert min(e[p] for p in floor.PARTS if p != "other") >= 0
    data = SegmentationDataModule(manifest=str(tmp_path / "out" / "quick_data" / "dataset.json"), plane="coronal",
                                  drop_background_slices=True)  # fmt: skip
    data.setup("fit")
    volumes = [item["image"] for item in data.val_dataloader().dataset]
    assert epochs[0]["val_slices"] == sum(int(v.shape[2]) for v in volumes)  # coronal: axis 1 of (C, X, Y, Z)
    summary = json.loads((tmp_path / "out" / "overhead_floor.json").read_text())
    assert summary["bare_slices"] == epochs[-1]["train_slices"]  # the bare loop walks the same loader
    assert summary["loss"] == "free" and summary["val_compute_s"] > 0
    assert summary["host_s"] == pytest.approx(sum(summary["host"].values()))
    assert (tmp_path / "out" / "overhead_floor.png").stat().st_size > 0
    from medseg.nets.registry import NETWORKS

    assert "pointwise" not in NETWORKS  # the benchmark's network does not leak into medseg's registry
