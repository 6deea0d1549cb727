"""GAU skip gate (PAN, Li et al. 2018): out = CBR3(x) * act(W GAP(g) + b), act sigmoid (smp) or relu (paper)."""

import pytest
import torch

from medseg.blocks import GAU

from .helpers import DIMS, SPATIAL, assert_gradients_match_finite_differences, bn, conv, n_params, randomise

COARSE = {2: (3, 3), 3: (2, 3, 2)}


def gau_reference(gate, x, g):
    pooled = torch.stack([g[b].reshape(g.shape[1], -1).mean(-1) for b in range(g.shape[0])])
    z = pooled @ gate.weights.weight.t() + gate.weights.bias
    w = torch.sigmoid(z) if gate.activation == "sigmoid" else torch.relu(z)
    c = gate.low[0]
    low = torch.relu(bn(conv(x, c.weight, c.bias, padding=1), gate.low[1]))
    return low * w[(...,) + (None,) * (x.ndim - 2)]


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("activation", ["sigmoid", "relu"])
def test_values_and_gradients_equal_the_reference(dims, activation):
    gate = randomise(GAU(4, 6, dims, activation=activation)).double().eval()
    x = torch.randn(2, 4, *SPATIAL[dims], dtype=torch.float64, requires_grad=True)
    g = torch.randn(2, 6, *COARSE[dims], dtype=torch.float64, requires_grad=True)
    y, ref = gate(x, g), gau_reference(gate, x, g)
    torch.testing.assert_close(y, ref, atol=1e-12, rtol=1e-12)
    w = torch.randn_like(y)
    grads = torch.autograd.grad((y * w).sum(), (x, g))
    grads_ref = torch.autograd.grad((ref * w).sum(), (x, g))
    for a, b in zip(grads, grads_ref):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("dims", DIMS)
def test_parameter_gradients_match_finite_differences_in_training(dims):
    gate = randomise(GAU(3, 5, dims)).double().train()
    inputs = (torch.randn(2, 3, *SPATIAL[dims], dtype=torch.float64), torch.randn(2, 5, *COARSE[dims], dtype=torch.float64))
    assert_gradients_match_finite_differences(gate, inputs)


def test_batch_of_one_trains():
    gate = GAU(4, 8, 2).train()
    x = torch.randn(1, 4, 6, 6, requires_grad=True)
    gate(x, torch.randn(1, 8, 1, 1)).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_parameter_count_and_errors():
    assert n_params(GAU(4, 8, 2)) == (9 * 4 * 4 + 4) + 2 * 4 + (8 * 4 + 4)
    with pytest.raises(ValueError, match="^GAU: activation must be one of sigmoid, relu"):
        GAU(4, 8, activation="tanh")
    with pytest.raises(ValueError, match="expected 8 channels in the gating signal g"):
        GAU(4, 8)(torch.randn(1, 4, 4, 4), torch.randn(1, 3, 2, 2))
