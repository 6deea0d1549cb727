"""BAM (Park et al. 2018, Eqs. 1-4): F + F * sigmoid(BN(MLP(GAP F)) + BN(f3 f2 f1 f0 F))."""

import pytest
import torch
import torch.nn.functional as F

from medseg.blocks import build_attention

from .helpers import DIMS, block, bn, conv, gap, n_params, per_channel, sample


def reference(b, x, training=False):
    mlp = b.channel_mlp
    m_c = bn(F.linear(F.relu(F.linear(gap(x), mlp[0].weight, mlp[0].bias)), mlp[2].weight), b.channel_norm, training)
    s = b.spatial
    h = F.relu(bn(conv(x, s[0].weight), s[1], training))
    h = F.relu(bn(conv(h, s[3].weight, padding=4, dilation=4), s[4], training))
    h = F.relu(bn(conv(h, s[6].weight, padding=4, dilation=4), s[7], training))
    m_s = bn(conv(h, s[9].weight), s[10], training)
    return x + x * torch.sigmoid(per_channel(m_c, x) + m_s)


@pytest.mark.parametrize("dims", DIMS)
@pytest.mark.parametrize("training", [False, True])
def test_forward_is_the_paper_equation(training, dims):
    b = block("bam", 32, dims).train(training)
    x = sample(32, dims, batch=3)
    torch.testing.assert_close(b(x), reference(b, x, training), atol=1e-6, rtol=0)


@pytest.mark.parametrize("dims", DIMS)
def test_parameter_count_closed_form(dims):
    c, h = 64, 4
    channel = c * h + h + h * c + 2 * c
    spatial = c * h + 2 * h + 2 * (h * h * 3**dims + 2 * h) + h + 2
    assert n_params(build_attention("bam", c, dims)) == channel + spatial


def test_batch_of_one_in_training_fails_clearly():
    with pytest.raises(ValueError, match="^BAM: the channel branch's BatchNorm needs a batch of at least 2"):
        build_attention("bam", 32).train()(torch.randn(1, 32, 8, 8))
    assert build_attention("bam", 32).eval()(torch.randn(1, 32, 8, 8)).shape == (1, 32, 8, 8)
