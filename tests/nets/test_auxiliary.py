"""Auxiliary heads: built on request, emitted only by forward_with_auxiliary, never change inference."""

import pytest
import torch
from torch import nn

from medseg.nets import build_network
from medseg.nets.auxiliary import auxiliary_blocks, enable_auxiliary, has_auxiliary

from .conftest import TINY

SPEC = {"attention": "encnet", "placement": ["bottleneck", "dec1"]}


def _pair(name, dims=2, **extra):
    """The same network twice from one seed; heads added to the second (SE heads + deep supervision)."""
    torch.manual_seed(0)
    plain = build_network(name, 1, 3, dims, **SPEC, **TINY[name], **extra)
    torch.manual_seed(0)
    with_heads = build_network(name, 1, 3, dims, **SPEC, **TINY[name], **extra)
    enable_auxiliary(with_heads, 3, deep_supervision=2)
    return plain, with_heads


@pytest.mark.parametrize("dims", [2, 3])
def test_inference_is_exactly_the_same_with_and_without_heads(tiny_name, dims):
    plain, with_heads = _pair(tiny_name, dims)
    missing, unexpected = plain.load_state_dict(with_heads.state_dict(), strict=False)
    assert not missing and unexpected and all(k.startswith("deep_heads.") or ".se." in k for k in unexpected)
    x = torch.randn(2, 1, *((20, 17) if dims == 2 else (8, 9, 8)))
    plain.eval(), with_heads.eval()
    with torch.no_grad():
        expected = plain(x)
        assert torch.equal(with_heads(x), expected)
        logits, aux = with_heads.forward_with_auxiliary(x)
    assert torch.equal(logits, expected)
    assert set(aux.presence) == {"bottleneck", "dec1"} and all(p.shape == (2, 3) for p in aux.presence.values())
    assert set(aux.deep) == {"dec2"} and aux.deep["dec2"].shape[:2] == (2, 3)
    assert not has_auxiliary(plain) and has_auxiliary(with_heads)


def test_deep_heads_read_the_decoder_site_outputs_at_their_grid():
    torch.manual_seed(0)
    net = build_network("unet", 1, 3, **{**TINY["unet"], "depth": 3})
    enable_auxiliary(net, 3, deep_supervision=3)
    assert list(net.deep_heads) == ["dec2", "dec3"]
    outputs = {}
    for site in ("dec2", "dec3"):
        net.sites[site].register_forward_hook(lambda m, a, out, site=site: outputs.__setitem__(site, out))
    _, aux = net.forward_with_auxiliary(torch.randn(1, 1, 24, 17))
    for site in ("dec2", "dec3"):
        head = net.deep_heads[site]
        torch.testing.assert_close(aux.deep[site], head(outputs[site]))
    assert aux.deep["dec2"].shape == (1, 3, 12, 8) and aux.deep["dec3"].shape == (1, 3, 6, 4)


def test_heads_only_for_the_kinds_asked_and_flags_reset():
    torch.manual_seed(0)
    net = build_network("quicknat", 1, 3, **SPEC, **TINY["quicknat"])
    enable_auxiliary(net, 3, kinds=("segmentation",))
    assert not has_auxiliary(net)
    enable_auxiliary(net, 3, kinds=("presence",))
    assert has_auxiliary(net) and not net.deep_heads
    net.forward_with_auxiliary(torch.randn(2, 1, 8, 8))
    assert all(not m.emit_auxiliary and m.auxiliary == {} for m in auxiliary_blocks(net).values())


def test_too_many_deep_supervision_levels_are_refused():
    net = build_network("sdnet", 1, 3, **TINY["sdnet"])
    with pytest.raises(ValueError, match=r"deep supervision needs 1\.\.2 levels"):
        enable_auxiliary(net, 3, deep_supervision=3)
    assert isinstance(net.sites["dec1"], nn.Identity)
