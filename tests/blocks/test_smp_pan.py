"""``fpa`` and ``gau`` equal smp's ``FPABlock`` / ``GAUBlock`` on shared weights (issue 23), where the
variants match: smp's defaults (max-pool, a 1-channel pyramid, the pooled branch added, sigmoid channel
weights), in eval mode, with smp's extra BatchNorms (pyramid levels, pooled branches: medseg has none
there, see fpa.py / gau.py) made exact identities (running mean 0, variance 1, eps 0) and the BatchNorms
both have sharing one random state. GAU: smp returns up(g) + gated skip, medseg's gate the gated skip
(the decoder concatenates up(g) itself). smp is a test-only extra (``pip install --no-deps
segmentation-models-pytorch==0.6.0``: its torchvision dependency would replace the CPU torch); its
``decoders/pan/decoder.py`` imports nothing but torch and is loaded by path, without the package."""

import importlib.metadata
import importlib.util

import pytest
import torch
import torch.nn.functional as F

from medseg.blocks.fpa import FPA
from medseg.blocks.gau import GAU


def _smp_pan():
    try:
        dist = importlib.metadata.distribution("segmentation-models-pytorch")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("segmentation-models-pytorch not installed (test-only extra)")
    path = dist.locate_file("segmentation_models_pytorch/decoders/pan/decoder.py")
    spec = importlib.util.spec_from_file_location("smp_pan_decoder", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _identity_bn(bn: torch.nn.BatchNorm2d) -> None:
    bn.eps = 0.0
    with torch.no_grad():
        bn.running_mean.zero_(), bn.running_var.fill_(1.0), bn.weight.fill_(1.0), bn.bias.zero_()


def _shared_bn(ours: torch.nn.BatchNorm2d, theirs: torch.nn.BatchNorm2d, gen: torch.Generator) -> None:
    with torch.no_grad():
        for name in ("running_mean", "bias"):
            getattr(ours, name).copy_(torch.randn(ours.num_features, generator=gen, dtype=torch.float64))
        for name in ("running_var", "weight"):
            getattr(ours, name).copy_(torch.rand(ours.num_features, generator=gen, dtype=torch.float64) + 0.5)
    theirs.load_state_dict(ours.state_dict())
    theirs.eps = ours.eps


def _copy_conv(ours: torch.nn.Conv2d, theirs: torch.nn.Conv2d) -> None:
    theirs.load_state_dict(ours.state_dict())


def test_fpa_equals_smp_fpablock():
    pan = _smp_pan()
    gen = torch.Generator().manual_seed(0)
    c = 6
    ours, theirs = FPA(c, spatial_dims=2).double().eval(), pan.FPABlock(c, c).double().eval()
    for m in theirs.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            _identity_bn(m)
    _shared_bn(ours.master[1], theirs.mid[0].bn, gen)
    pairs = [(ours.master[0], theirs.mid[0].conv), (ours.pooled, theirs.branch1[1].conv),
             (ours.down1.conv[0], theirs.down1[1].conv), (ours.down2.conv[0], theirs.down2[1].conv),
             (ours.down3[0].conv[0], theirs.down3[1].conv), (ours.down3[1][0], theirs.down3[2].conv),
             (ours.lateral2[0], theirs.conv2.conv), (ours.lateral1[0], theirs.conv1.conv)]  # fmt: skip
    for a, b in pairs:
        _copy_conv(a, b)
    x = torch.randn(2, c, 16, 24, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-12, atol=1e-12)


def test_gau_equals_smp_gaublock_less_its_upsampled_input():
    pan = _smp_pan()
    gen = torch.Generator().manual_seed(1)
    c = 5
    ours, theirs = GAU(c, c, spatial_dims=2).double().eval(), pan.GAUBlock(c, c).double().eval()
    _identity_bn(theirs.conv1[1].bn)
    _shared_bn(ours.low[1], theirs.conv2.bn, gen)
    _copy_conv(ours.low[0], theirs.conv2.conv)
    with torch.no_grad():  # medseg's 1x1 conv on the pooled map is a Linear
        theirs.conv1[1].conv.weight.copy_(ours.weights.weight[:, :, None, None])
        theirs.conv1[1].conv.bias.copy_(ours.weights.bias)
    x = torch.randn(2, c, 12, 10, generator=gen, dtype=torch.float64)
    g = torch.randn(2, c, 6, 5, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        up = F.interpolate(g, size=x.shape[2:], mode="bilinear", align_corners=True)
        torch.testing.assert_close(ours(x, g) + up, theirs(x, g), rtol=1e-12, atol=1e-12)
