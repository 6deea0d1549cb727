"""The convergence rule on synthetic curves, and learning curves merged from CSV log versions."""

import numpy as np
import pytest

from medseg.eval.convergence import best_epoch, read_curve, still_rising
from tests.eval.report_fixtures import write_metrics


def test_rising_curve_is_not_converged():
    epochs = np.arange(30)
    assert still_rising(0.9 * epochs / 30) is True  # linear: +0.09 over the last 3 epochs
    assert still_rising(0.8 * (1 - np.exp(-epochs / 20))) is True  # saturating slowly


def test_plateau_and_early_stopped_curves_are_converged():
    epochs = np.arange(40)
    assert still_rising(0.8 * (1 - np.exp(-epochs / 3))) is False  # rises by < 1e-4 at the end
    peak = np.concatenate([np.linspace(0.2, 0.8, 25), 0.8 - 0.002 * np.arange(1, 11)])  # early stopping
    assert still_rising(peak) is False
    noisy = 0.75 + 0.002 * np.random.default_rng(0).standard_normal(50)  # noise below the tolerance
    assert still_rising(noisy) is False


def test_rule_boundaries():
    # 20 epochs → last 2 are the tail; a gain of 0.006 > 0.005 is rising, 0.004 is not
    flat = [0.5] * 18
    assert still_rising(flat + [0.5, 0.506]) is True and still_rising(flat + [0.504, 0.5]) is False
    assert still_rising([0.1, 0.2]) is None and still_rising([0.1, float("nan"), 0.2]) is None
    assert still_rising([0.1, 0.2, 0.3]) is True  # tail = 1 epoch minimum


def test_read_curve_merges_versions_later_wins(tmp_path):
    # version 0: epochs 0-2 then a crash; version 1 (resumed) repeats epoch 2; version 2: a test run
    write_metrics(tmp_path, 0, [0.2, 0.4, 0.45], [1.0, 0.8, 0.7])
    write_metrics(tmp_path, 1, [0.5, 0.55], [0.65, 0.6], first_epoch=2)
    (tmp_path / "csv" / "version_10").mkdir(parents=True)
    (tmp_path / "csv" / "version_10" / "metrics.csv").write_text("epoch,step,test/mean_dice\n0,0,0.9\n")
    curve = read_curve(tmp_path)
    assert curve.val_epochs == [0, 1, 2, 3] and curve.val_dice == pytest.approx([0.2, 0.4, 0.5, 0.55])
    assert curve.loss_epochs == [0, 1, 2, 3] and curve.train_loss == pytest.approx([1.0, 0.8, 0.65, 0.6])
    assert best_epoch(curve) == 3


def test_read_curve_without_logs_is_empty(tmp_path):
    curve = read_curve(tmp_path)
    assert curve.empty and best_epoch(curve) is None
