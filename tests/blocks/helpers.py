"""Shared test helpers: random weights, small inputs and functional convolutions for reference code."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from medseg.blocks import build_attention

# small, non-cubic grids so that swapped axes show up
SPATIAL = {2: (6, 5), 3: (4, 5, 3)}
DIMS = (2, 3)


def randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    """Give every parameter and BatchNorm statistic a random value (gammas included, so none is 0)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64) * 0.5)
        for m in module.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=gen, dtype=torch.float64) * 0.1)
                m.running_var.copy_(torch.rand(m.running_var.shape, generator=gen, dtype=torch.float64) + 0.5)
    return module


def block(name: str, channels: int, dims: int, seed: int = 0, **options) -> nn.Module:
    """A randomised float64 block in eval mode."""
    return randomise(build_attention(name, channels, dims, **options), seed).double().eval()


def sample(channels: int, dims: int, batch: int = 2, seed: int = 1, dtype=torch.float64) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn((batch, channels, *SPATIAL[dims]), generator=gen, dtype=dtype)


def conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None, **kwargs) -> torch.Tensor:
    """F.conv2d or F.conv3d by the input's rank."""
    return (F.conv2d if x.ndim == 4 else F.conv3d)(x, weight, bias, **kwargs)


def bn(x: torch.Tensor, norm: nn.Module, training: bool = False) -> torch.Tensor:
    """Batch norm of x with norm's affine weights and (in eval) running statistics."""
    if training:
        return F.batch_norm(x, None, None, norm.weight, norm.bias, training=True, eps=norm.eps)
    return F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight, norm.bias, eps=norm.eps)


def gap(x: torch.Tensor) -> torch.Tensor:
    """Global average pool (B, C, *spatial) -> (B, C)."""
    return x.flatten(2).mean(-1)


def per_channel(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """(B, C) -> (B, C, 1, ..., 1) like x."""
    return w[(...,) + (None,) * (x.ndim - 2)]


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def assert_gradients_match_finite_differences(
    module: nn.Module,
    inputs: tuple[torch.Tensor, ...],
    stop_gradient: tuple[str, ...] = (),
    seed: int = 0,
    eps: float = 1e-6,
    tol: float = 1e-6,
) -> None:
    """Every parameter and every input of a float64 ``module`` is in the autograd graph (its gradient is not
    None) and its gradient is the true derivative of ``L = sum(module(*inputs) * W)`` (W fixed random):
    along a random direction v, ``<grad, v>`` equals the central difference ``(L(θ+εv) - L(θ-εv)) / 2ε``.

    What the maths guarantees, no more: a gradient may be exactly zero for a sample (a BatchNorm bias
    before an all-active ReLU and a 1x1 conv into BatchNorm cancels), so nothing asserts ``> 0``; a
    detached or unused parameter gets None, a wrong backward disagrees with the difference quotient.
    Each forward gets fresh copies of the buffers, so in-place updates (BatchNorm statistics, EMA
    bases) do not drift between evaluations. Names in ``stop_gradient`` (``"conv.weight"``,
    ``"input 0"``) are upstream of a deliberate stop-gradient, so only their being reached is asserted.
    """
    from torch.func import functional_call

    gen = torch.Generator().manual_seed(seed)
    params = {k: p.detach() for k, p in module.named_parameters()}
    buffers = {k: b.detach() for k, b in module.named_buffers()}
    names = list(params) + [f"input {i}" for i in range(len(inputs))]
    values = list(params.values()) + [x.detach() for x in inputs]
    assert all(v.dtype == torch.float64 for v in values), "finite differences need float64"
    weight: list[torch.Tensor] = []

    def loss(vals: list[torch.Tensor]) -> torch.Tensor:
        state = {**dict(zip(params, vals[: len(params)])), **{k: b.clone() for k, b in buffers.items()}}
        out = functional_call(module, state, tuple(vals[len(params):]))
        if not weight:
            weight.append(torch.randn(out.shape, generator=gen, dtype=out.dtype))
        return (out * weight[0]).sum()

    leaves = [v.clone().requires_grad_() for v in values]
    grads = torch.autograd.grad(loss(leaves), leaves, allow_unused=True)
    for i, (name, value, grad) in enumerate(zip(names, values, grads)):
        assert grad is not None, f"{type(module).__name__}: no gradient reaches {name}"
        assert torch.isfinite(grad).all(), f"{type(module).__name__}: non-finite gradient of {name}"
        if name in stop_gradient:
            continue
        v = torch.randn(value.shape, generator=gen, dtype=torch.float64)
        with torch.no_grad():
            plus = loss([u + eps * v if j == i else u for j, u in enumerate(values)])
            minus = loss([u - eps * v if j == i else u for j, u in enumerate(values)])
        numeric = ((plus - minus) / (2 * eps)).item()
        analytic = (grad * v).sum().item()
        assert abs(numeric - analytic) <= tol * (1 + abs(analytic)), (
            f"{type(module).__name__}: gradient of {name} along a random direction is {analytic:.9g}, "
            f"finite differences give {numeric:.9g}"
        )
