"""EncNet's Context Encoding Module (Zhang et al. 2018) against the naive B x N x K x C residual form."""

import pytest
import torch

from medseg.blocks import build_attention

from .helpers import DIMS, SPATIAL, bn, conv, n_params, randomise


def encnet_reference(b, x, training=False):
    """Explicit residuals r_ik = x_i - d_k (the official CPU/mmseg form), BN over codewords by hand."""
    f = torch.relu(bn(conv(x, b.features[0].weight), b.features[1], training))
    feats = f.flatten(2).transpose(1, 2)  # (B, N, C)
    residual = feats[:, :, None, :] - b.codewords[None, None]  # (B, N, K, C)
    scaled = b.smoothing * (residual**2).sum(-1)  # +s_k ||r||^2, the official sign
    a = scaled.exp() / scaled.exp().sum(-1, keepdim=True)
    e = (a[..., None] * residual).sum(1)  # (B, K, C)
    norm = b.code_norm
    if training:
        mean, var = e.mean(dim=(0, 2), keepdim=True), e.var(dim=(0, 2), unbiased=False, keepdim=True)
    else:
        mean, var = norm.running_mean[None, :, None], norm.running_var[None, :, None]
    e = (e - mean) / torch.sqrt(var + norm.eps) * norm.weight[None, :, None] + norm.bias[None, :, None]
    en = torch.relu(e).mean(1)
    gamma = torch.sigmoid(en @ b.fc.weight.t() + b.fc.bias)[(...,) + (None,) * (x.ndim - 2)]
    se = en @ b.se.weight.t() + b.se.bias if b.se is not None else None
    return torch.relu(x + x * gamma), se


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("training", [False, True], ids=["eval", "train"])
def test_values_se_logits_and_gradients_equal_the_reference(dims, training):
    b = build_attention("encnet", 6, dims, codes=5)
    b.build_auxiliary(4)
    b = randomise(b).double().train(training)
    b.emit_auxiliary = True
    x = torch.randn(2, 6, *SPATIAL[dims], dtype=torch.float64, requires_grad=True)
    y = b(x)
    se = b.auxiliary["se"]
    ref, se_ref = encnet_reference(b, x, training)
    torch.testing.assert_close(y, ref, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(se, se_ref, atol=1e-10, rtol=1e-10)
    w, v = torch.randn_like(y), torch.randn_like(se)
    params = [x, b.codewords, b.smoothing, b.se.weight, b.features[0].weight]
    grads = torch.autograd.grad((y * w).sum() + (se * v).sum(), params)
    grads_ref = torch.autograd.grad((ref * w).sum() + (se_ref * v).sum(), params)
    for g, g_ref in zip(grads, grads_ref):
        torch.testing.assert_close(g, g_ref, atol=1e-9, rtol=1e-9)


def test_official_initialisation_and_parameter_count():
    """s ~ U(-1, 0), codewords ~ U(+-1/sqrt(KC)); params as reference Sec. 3.2 (542,304 for C = 512, K = 32)."""
    b = build_attention("encnet", 512, 2)
    assert (b.smoothing < 0).all() and (b.smoothing > -1).all()
    assert b.codewords.abs().max() <= 1 / (32 * 512) ** 0.5
    assert n_params(b) == 542_304
    b.build_auxiliary(150)
    assert n_params(b) == 542_304 + 76_950


def test_batch_of_one_trains_and_se_is_only_emitted_on_request():
    b = build_attention("encnet", 8, 2).train()
    x = torch.randn(1, 8, 5, 4, requires_grad=True)
    b(x).sum().backward()
    assert torch.isfinite(x.grad).all() and b.auxiliary == {}
    b.build_auxiliary(3)
    b.emit_auxiliary = True
    b(x)
    assert b.auxiliary["se"].shape == (1, 3)
