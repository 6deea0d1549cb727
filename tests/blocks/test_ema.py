"""EMA unit (EMANet Sec. 3.2-3.3): T EM steps over K bases, reconstruction, running-mean bases."""

import pytest
import torch
import torch.nn.functional as F

from medseg.blocks import build_attention

from .helpers import DIMS, bn, block, conv, n_params, sample


def reference(b, x, stages=3):
    """The authors' EMAU forward, written out: E-step, M-step (L1 then L2 normalised), reconstruction."""
    feats = conv(x, b.conv_in.weight, b.conv_in.bias).flatten(2)
    mu = b.mu.repeat(x.shape[0], 1, 1)
    for _ in range(stages):
        z = F.softmax(torch.einsum("bcn,bck->bnk", feats, mu), dim=2)
        z_ = z / (1e-12 + z.sum(dim=1, keepdim=True))
        mu = torch.einsum("bcn,bnk->bck", feats, z_)
        mu = mu / mu.norm(dim=1, keepdim=True)
    recon = torch.einsum("bck,bnk->bcn", mu, z).reshape(x.shape)
    return F.relu(x + bn(conv(F.relu(recon), b.conv_out.weight), b.norm)), mu


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("stages", [1, 3])
def test_forward_is_the_authors_unit(stages, dims):
    b = block("ema", 16, dims, bases=8, stages=stages)
    x = sample(16, dims)
    torch.testing.assert_close(b(x), reference(b, x, stages)[0], atol=1e-6, rtol=0)


@pytest.mark.parametrize("dims", DIMS)
def test_bases_are_a_running_mean_in_training_only(dims):
    b = block("ema", 16, dims, bases=8, momentum=0.9)
    x = sample(16, dims)
    before = b.mu.clone()
    b(x)
    assert torch.equal(b.mu, before)
    _, mu_t = reference(b, x)
    batch = mu_t.mean(0, keepdim=True)
    expected = 0.9 * before + 0.1 * batch / batch.norm(dim=1, keepdim=True)
    b.train()(x)
    torch.testing.assert_close(b.mu, expected, atol=1e-6, rtol=0)


@pytest.mark.parametrize("dims", DIMS)
def test_parameter_count_closed_form_and_unit_bases(dims):
    c = 64
    b = build_attention("ema", c, dims)
    assert n_params(b) == (c * c + c) + c * c + 2 * c
    assert b.mu.shape == (1, c, 64)
    torch.testing.assert_close(b.mu.norm(dim=1), torch.ones(1, 64))


def test_bad_options_fail_clearly():
    with pytest.raises(ValueError, match="^EMA: momentum must be in"):
        build_attention("ema", 8, momentum=1.5)
    with pytest.raises(ValueError, match="^EMA: stages must be a positive int, got 0"):
        build_attention("ema", 8, stages=0)


def test_kept_map_is_the_responsibilities_per_voxel():
    b = block("ema", 16, 3, bases=8)
    b.keep_attention = True
    x = sample(16, 3)
    b(x)
    assert b.attention_map.shape == (2, 8, *x.shape[2:])
    torch.testing.assert_close(b.attention_map.sum(1), torch.ones(2, *x.shape[2:], dtype=x.dtype))
