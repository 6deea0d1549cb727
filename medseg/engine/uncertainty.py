"""MC-dropout inference (Bayesian QuickNAT; Roy et al., NeuroImage 2019, "Bayesian QuickNAT").

Dropout stays active at test time; the class probabilities are the mean over N stochastic forward passes,
p̄ = (1/N) Σ_n softmax(f_n(x)), and the per-voxel uncertainty is the entropy of that mean,
H = −Σ_k p̄_k log p̄_k (nats, 0·log 0 = 0; 0 = certain, log K = uniform).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterable, Iterator

import torch
from torch import nn
from torch.nn.modules.dropout import _DropoutNd

from medseg.engine.acceleration import at_least_float32


def dropout_modules(nets: Iterable[nn.Module]) -> list[nn.Module]:
    return [m for net in nets for m in net.modules() if isinstance(m, _DropoutNd)]


@contextmanager
def dropout_active(nets: Iterable[nn.Module]) -> Iterator[None]:
    """Put only the dropout layers of ``nets`` in training mode (BatchNorm keeps its running statistics)."""
    nets = list(nets)
    layers = dropout_modules(nets)
    if not layers:
        names = ", ".join(type(n).__name__ for n in nets)
        raise ValueError(
            f"model.inference.mc_samples needs a network with dropout (e.g. quicknat with preset: aimed); {names} has none"
        )
    before = [m.training for m in layers]
    try:
        for m in layers:
            m.train()
        yield
    finally:
        for m, mode in zip(layers, before):
            m.train(mode)


def entropy(probs: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """−Σ_k p_k log p_k along ``dim`` (float32 at least), with 0·log 0 = 0."""
    p = at_least_float32(probs)
    return -torch.special.xlogy(p, p).sum(dim=dim)
