"""Auxiliary losses: SE-loss target and value, deep supervision as a hand-computed weighted sum, totals."""

import math

import numpy as np
import pytest
import torch

from medseg.engine.auxiliary_loss import (
    check_deep_supervision,
    class_presence,
    deep_supervision_loss,
    resize_labels,
    se_loss,
    training_loss,
)
from medseg.engine.losses import SegmentationLoss
from medseg.nets.auxiliary import AuxiliaryOutputs


def test_class_presence_is_the_per_sample_set_of_labels_background_included():
    label = torch.tensor([[[0, 0], [2, 2]], [[1, 1], [1, 1]], [[0, 3], [0, 0]]])
    expected = np.zeros((3, 5))
    for b in range(3):
        for c in set(label[b].flatten().tolist()):
            expected[b, c] = 1.0
    assert expected.tolist() == [[1, 0, 1, 0, 0], [0, 1, 0, 0, 0], [1, 0, 0, 1, 0]]  # class 4 absent: 0
    np.testing.assert_array_equal(class_presence(label, 5).numpy(), expected)


def test_se_loss_is_the_mean_binary_cross_entropy_on_logits():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]], dtype=torch.float64)
    label = torch.tensor([[[0, 2]], [[1, 1]]])
    t = [[1, 0, 1], [0, 1, 0]]
    by_hand = -np.mean([t[b][c] * math.log(1 / (1 + math.exp(-z))) + (1 - t[b][c]) * math.log(1 - 1 / (1 + math.exp(-z)))
                        for b, row in enumerate(logits.tolist()) for c, z in enumerate(row)])
    assert se_loss(logits, label).item() == pytest.approx(by_hand, rel=1e-12)


def _ce_by_hand(logits: np.ndarray, label: np.ndarray) -> float:
    """Mean over voxels of -log softmax at the label, in plain numpy loops."""
    values = []
    for b in range(label.shape[0]):
        for idx in np.ndindex(label.shape[1:]):
            z = logits[(b, slice(None)) + idx]
            values.append(-(z[label[(b,) + idx]] - np.log(np.exp(z).sum())))
    return float(np.mean(values))


def test_deep_supervision_equals_the_hand_computed_weighted_sum():
    """Outputs at 4x4, 2x2, 1x1 with weights [1, 0.5, 0.25]: the labels at 2x2 are rows/cols 1, 3
    (nearest-exact, source index floor((i + 0.5) * 2)), at 1x1 element (2, 2) (floor(0.5 * 4))."""
    gen = torch.Generator().manual_seed(0)
    label = torch.randint(0, 3, (2, 4, 4), generator=gen)
    outputs = [torch.randn(2, 3, n, n, generator=gen, dtype=torch.float64) for n in (4, 2, 1)]
    y = label.numpy()
    targets = [y, y[:, 1::2, 1::2], y[:, 2:3, 2:3]]
    losses = [_ce_by_hand(o.numpy(), t) for o, t in zip(outputs, targets)]
    expected = (1 * losses[0] + 0.5 * losses[1] + 0.25 * losses[2]) / 1.75
    got = deep_supervision_loss(SegmentationLoss("ce", 3), outputs, label, [1, 0.5, 0.25])
    assert got.item() == pytest.approx(expected, rel=1e-12)


def test_resize_labels_keeps_labels_and_odd_sizes():
    label = torch.arange(35).reshape(1, 7, 5)
    small = resize_labels(label, (3, 2))
    assert small.dtype == label.dtype and set(small.flatten().tolist()) <= set(range(35))
    rows, cols = [int((i + 0.5) * 7 / 3) for i in range(3)], [int((j + 0.5) * 5 / 2) for j in range(2)]
    assert small[0].tolist() == [[label[0, r, c].item() for c in cols] for r in rows]


def test_training_loss_adds_the_weighted_terms():
    gen = torch.Generator().manual_seed(1)
    criterion = SegmentationLoss("ce_dice", 3)
    label = torch.randint(0, 3, (2, 4, 6), generator=gen)
    logits = torch.randn(2, 3, 4, 6, generator=gen)
    aux = AuxiliaryOutputs(
        deep={"dec2": torch.randn(2, 3, 2, 3, generator=gen)},
        presence={"bottleneck": torch.randn(2, 3, generator=gen), "dec2": torch.randn(2, 3, generator=gen)},
        segmentation={"bottleneck/position": torch.randn(2, 3, 1, 2, generator=gen)},
    )
    total, terms = training_loss(criterion, logits, aux, label, [1.0, 0.5], se_weight=0.2, aux_weight=0.7)
    main = (criterion(logits, label) + 0.5 * criterion(aux.deep["dec2"], resize_labels(label, (2, 3)))) / 1.5
    se = (se_loss(aux.presence["bottleneck"], label) + se_loss(aux.presence["dec2"], label)) / 2
    up = torch.nn.functional.interpolate(aux.segmentation["bottleneck/position"], size=(4, 6), mode="bilinear")
    expected = main + 0.2 * se + 0.7 * criterion(up, label)
    torch.testing.assert_close(total, expected)
    assert set(terms) == {"main", "se", "aux"}
    plain, plain_terms = training_loss(criterion, logits, None, label)
    torch.testing.assert_close(plain, criterion(logits, label))
    assert set(plain_terms) == {"main"}


@pytest.mark.parametrize("bad", [[0, 1], [1, -0.5]])
def test_bad_deep_supervision_weights_are_refused(bad):
    with pytest.raises(ValueError, match="^model.loss.deep_supervision: weights must be >= 0"):
        check_deep_supervision(bad)
