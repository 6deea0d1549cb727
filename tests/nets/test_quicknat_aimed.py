"""QuickNAT preset ``aimed`` (ai-med/quickNAT_pytorch) against a functional re-implementation (float64).

The reference below re-derives the authors' forward pass from torch.nn.functional calls with the module's
weights: BN -> PReLU (one slope per dense block) -> conv, dense bottleneck, cSE -> Dropout2d after every
encoder and decoder block (before pooling, so the skips are dropped), none at the bottleneck/classifier.
"""

import pytest
import torch
import torch.nn.functional as F

from medseg.nets import build_network, site_names
from tests.blocks.helpers import bn, conv, gap, per_channel, randomise

from .conftest import conv_params

AUTHORS_PARAMETERS = 3_516_971  # quickNAT_pytorch@4e4e97e + nn-common-modules 1.3, se_block NONE, 1 channel, 28 classes
POOL = {4: (F.max_pool2d, F.max_unpool2d, F.dropout2d), 5: (F.max_pool3d, F.max_unpool3d, F.dropout3d)}
SHAPES = {2: (13, 10), 3: (9, 8, 7)}


def count(net) -> int:
    return sum(p.numel() for p in net.parameters())


def aimed_params(c_in: int, classes: int, f: int = 64, k: int = 5, depth: int = 4) -> int:
    """By hand: dense block = 3 x (BN + conv) + 1 PReLU slope; dense bottleneck; 1x1 classifier."""

    def dense(c: int) -> int:
        return 2 * c + conv_params(c, f, k) + 2 * (c + f) + conv_params(c + f, f, k) + 2 * (c + 2 * f) + conv_params(c + 2 * f, f, 1) + 1

    return dense(c_in) + (depth - 1) * dense(f) + dense(f) + depth * dense(2 * f) + conv_params(f, classes, 1)


def test_parameter_count_is_the_authors():
    net = build_network("quicknat", 1, 28, preset="aimed")
    assert count(net) == aimed_params(1, 28) == AUTHORS_PARAMETERS
    prelus = [m for m in net.modules() if isinstance(m, torch.nn.PReLU)]
    assert len({id(m) for m in prelus}) == 9 and all(m.weight.item() == 0.25 for m in prelus)


def dense_ref(x, block, training):
    slope = block.conv1[1].weight  # the block's one PReLU slope, used by all three layers

    def layer(inp, seq):
        c = seq[2]
        return conv(F.prelu(bn(inp, seq[0], training), slope), c.weight, c.bias, padding=c.padding)

    o1 = layer(x, block.conv1)
    o2 = layer(torch.cat([x, o1], 1), block.conv2)
    return layer(torch.cat([x, o1, o2], 1), block.conv3)


def cse_ref(x, site):
    s = torch.sigmoid(F.linear(F.relu(F.linear(gap(x), site.fc1.weight, site.fc1.bias)), site.fc2.weight, site.fc2.bias))
    return x * per_channel(s, x)


def reference(net, x, p, training):
    """The authors' QuickNat.forward, with cSE at the encoder/decoder blocks only."""
    pool, unpool, drop = POOL[x.ndim]
    skips, indices = [], []
    for k in range(net.depth):
        x = drop(cse_ref(dense_ref(x, net.encoders[k], training), net.sites[f"enc{k + 1}"]), p, training)
        skips.append(x)
        x, idx = pool(x, 2, 2, return_indices=True)
        indices.append(idx)
    x = dense_ref(x, net.bottleneck, training)
    for k in reversed(range(net.depth)):
        up = unpool(x, indices[k], 2, 2, output_size=skips[k].shape[2:])
        x = drop(cse_ref(dense_ref(torch.cat([up, skips[k]], 1), net.decoders[k], training), net.sites[f"dec{k + 1}"]), p, training)
    return conv(x, net.head.weight, net.head.bias)


def small(dims: int, **kw):
    net = build_network("quicknat", 2, 4, dims, attention="cse", preset="aimed", features=4, kernel_size=3, depth=2, **kw)
    return randomise(net, seed=dims).double()


@pytest.mark.parametrize("dims", [2, 3])
def test_eval_forward_equals_the_functional_reference(dims):
    net = small(dims).eval()
    x = torch.randn(2, 2, *SHAPES[dims], dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(net(x), reference(net, x, 0.2, training=False), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dims", [2, 3])
def test_training_forward_drops_the_same_channels_as_the_reference(dims):
    """Same seed, same draws in the same order: equal only if dropout sits where the authors put it."""
    net = small(dims, dropout=0.5).train()
    x = torch.randn(3, 2, *SHAPES[dims], dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    torch.manual_seed(11)
    got = net(x)
    torch.manual_seed(11)
    expected = reference(net, x, 0.5, training=True)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10)
    torch.manual_seed(12)
    assert not torch.allclose(net(x), got)  # another seed drops other channels


def test_default_placement_is_encoder_and_decoder_but_all_can_be_asked():
    placed = lambda net: {s for s, m in net.attention_sites.items() if not isinstance(m, torch.nn.Identity)}  # noqa: E731
    kw = {"features": 4, "kernel_size": 3, "depth": 2}
    assert placed(build_network("quicknat", 1, 3, attention="cse", preset="aimed", **kw)) == {"enc1", "enc2", "dec1", "dec2"}
    assert placed(build_network("quicknat", 1, 3, attention="cse", placement="all", preset="aimed", **kw)) == set(site_names(2))
    assert placed(build_network("quicknat", 1, 3, attention="cse", **kw)) == set(site_names(2))  # roy2019: every site


def test_roy2019_has_no_dropout_and_relu():
    net = build_network("quicknat", 1, 3, features=4, kernel_size=3, depth=2)
    assert isinstance(net.dropout, torch.nn.Identity)
    assert not any(isinstance(m, torch.nn.PReLU) for m in net.modules())


@pytest.mark.parametrize(
    "option, message",
    [({"activation": "gelu"}, "activation must be one of relu, prelu"), ({"bottleneck": "x"}, "bottleneck must be one of conv, dense"),
     ({"dropout": 1.0}, r"dropout must be a probability in \[0, 1\)")],
)
def test_bad_options_are_named(option, message):
    with pytest.raises(ValueError, match=message):
        build_network("quicknat", 1, 3, preset="aimed", **option)
