"""``benchmarks/transfer.py --quick``: fetch, prepare, fit a tiny run, predict and score end to end (real data)."""

import csv

import numpy as np
import pytest
import torch
from monai.metrics import compute_dice

from medseg.data.brain import BrainDataError
from tests.benchmarks.scripts import load_script


def _script():
    return load_script("transfer.py")


def test_tissue_dice_equals_monai():
    rng = np.random.default_rng(0)
    pred, ref = rng.integers(0, 3, (20, 18, 16)), rng.integers(0, 3, (20, 18, 16))
    one_hot = lambda x: torch.nn.functional.one_hot(torch.from_numpy(x), 3).permute(3, 0, 1, 2)[None].double()  # noqa: E731
    expected = compute_dice(one_hot(pred), one_hot(ref), include_background=False)[0].numpy()
    got = _script().tissue_dice(pred, ref)
    np.testing.assert_allclose([got["grey matter"], got["white matter"]], expected, rtol=1e-12)
    assert got["mean"] == pytest.approx(expected.mean(), rel=1e-12)


@pytest.mark.slow
def test_quick_run_scores_a_prediction_against_the_atlas_overlay(tmp_path, monkeypatch):
    module = _script()
    monkeypatch.chdir(tmp_path)
    try:
        assert module.main(["--quick", "true", "--out", str(tmp_path / "out")]) == 0
    except BrainDataError as err:
        pytest.skip(f"real brain data unavailable: {err}")
    with open(tmp_path / "out" / "transfer.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["kind"] for r in rows] == ["baseline", "run"]
    atlas = float(rows[0]["dice_mean"])
    assert 0.6 < atlas < 0.9  # the atlas lies on the template by MNI coordinates: far above chance, not exact
    assert 0.0 <= float(rows[1]["dice_mean"]) <= 1.0 and rows[1]["weights"] == "run"
    assert (tmp_path / "out" / "transfer.png").stat().st_size > 0
    # resumable: a second call scores nothing again
    assert module.main(["--quick", "true", "--out", str(tmp_path / "out")]) == 0
    with open(tmp_path / "out" / "transfer.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == 2
