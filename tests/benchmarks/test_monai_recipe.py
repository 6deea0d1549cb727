"""``benchmarks/peers/monai_recipe.py``: slice-by-slice scoring equals scoring the volume, and the quick run."""

import json

import numpy as np
import pytest
import torch

from medseg.cli import main as medseg_main
from medseg.data import load_manifest
from medseg.eval.metrics import dice_per_structure
from tests.benchmarks.scripts import load_script


def _script():
    pytest.importorskip("monai")
    return load_script("peers/monai_recipe.py")


class Threshold(torch.nn.Module):
    """Class 1 where the image > 0.5, else 0, as two logits per pixel (slice-local, so slicing cannot matter)."""

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes

    def load_state_dict(self, *args, **kwargs):
        return None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = torch.zeros(x.shape[0], self.num_classes, *x.shape[2:])
        logits[:, 1] = (x[:, 0] > 0.5).float()
        return logits


def test_slicewise_score_equals_the_volume_score(tmp_path, monkeypatch):
    recipe = _script()
    assert medseg_main(["synth", "--kind", "malc", "--out", str(tmp_path / "d"), "--subjects", "3", "--size", "24",
                        "--validation", "1", "--test", "1", "--seed", "0"]) == 0  # fmt: skip
    manifest = load_manifest(tmp_path / "d" / "dataset.json")
    monkeypatch.setattr(recipe, "network", Threshold)
    torch.save({"state_dict": {}}, tmp_path / "w.pt")
    got = recipe.score(manifest, tmp_path / "w.pt")
    item = recipe.transforms(manifest.label_map, False, 0)({"image": str(manifest.splits["test"][0].image),
                                                              "label": str(manifest.splits["test"][0].label)})  # fmt: skip
    image, label = item["image"][0].numpy(), item["label"][0].numpy().astype(np.int64)
    expected = dice_per_structure((image > 0.5).astype(np.int64), label, manifest.num_classes)
    np.testing.assert_allclose([v[0] for v in got.values()], expected[1:], equal_nan=True)


def test_scores_a_grid_the_unet_cannot_halve_four_times(tmp_path):
    """24 voxels a side: the real UNet needs the slices padded to 32 and the logits cropped back."""
    recipe = _script()
    assert medseg_main(["synth", "--kind", "malc", "--out", str(tmp_path / "d"), "--subjects", "3", "--size", "24",
                        "--validation", "1", "--test", "1", "--seed", "0"]) == 0  # fmt: skip
    manifest = load_manifest(tmp_path / "d" / "dataset.json")
    torch.save({"state_dict": recipe.network(manifest.num_classes).state_dict()}, tmp_path / "w.pt")
    got = recipe.score(manifest, tmp_path / "w.pt")
    assert list(got) == manifest.class_names[1:] and all(len(v) == 1 for v in got.values())


@pytest.mark.slow
def test_quick_run_writes_one_entry_per_checkpoint(tmp_path):
    recipe = _script()
    assert recipe.main(["--quick", "true", "--work", str(tmp_path / "w")]) == 0
    results = json.loads((tmp_path / "w" / "results.json").read_text())
    assert len(results["checkpoints"]) == 2
    for entry in results["checkpoints"].values():
        assert entry["steps"] == 2 and 0.0 <= entry["mean_dice"] <= 1.0
        assert all(len(v) == 1 for v in entry["dice"].values())  # one held-out subject
